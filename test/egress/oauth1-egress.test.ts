import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import {
  makeTestPki,
  type OAuth1Api,
  PYTHON,
  requirePythonModules,
  startOAuth1Api,
  type TestPki,
  type Verdict,
} from './helpers.js';

/**
 * OAuth1 egress, judged by an independent verifier: the app sends plain HTTP to the egress
 * listener, the gateway signs and forwards over TLS (test CA) to a Python API where oauthlib's
 * ResourceEndpoint / SignatureOnlyEndpoint decides. Keys, tokens and nonces are 20–30 alphanumeric
 * characters, so a stock oauthlib validator is used (no loosened checks).
 */

// Secrets with characters that must be percent-encoded in the signing key (RFC 5849 §3.4.2).
const CLIENT = { key: 'egressConsumerKey0001', secret: 'consumer secret/ü&=+%' };
const TOKEN = { token: 'egressAccessToken00001', secret: 'token secret+&=' };
const RSA_CLIENT_KEY = 'egressRsaConsumer0001';
const MAX_BODY = 4096;

describe('OAuth1 egress (oauthlib over TLS verifies what the gateway signed)', () => {
  let pki: TestPki;
  let api: OAuth1Api;
  let gw: TestGateway;
  let app: Agent;
  let apiAgent: Agent;

  beforeAll(async () => {
    requirePythonModules();
    pki = await makeTestPki();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateKeyFile = join(pki.dir, 'rsa-client.pem');
    await writeFile(privateKeyFile, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    api = await startOAuth1Api(pki, {
      clients: {
        [CLIENT.key]: { secret: CLIENT.secret },
        [RSA_CLIENT_KEY]: { rsa_public_key: rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string },
      },
      tokens: { [TOKEN.token]: TOKEN.secret },
    });
    const upstream = `${api.origin}/api/v1`;
    const tls = { caFile: pki.caFile };
    const hmac = (signatureMethod: string, extra: Record<string, unknown> = {}) => ({
      oauth1: {
        consumerKey: CLIENT.key,
        consumerSecret: CLIENT.secret,
        token: TOKEN.token,
        tokenSecret: TOKEN.secret,
        signatureMethod,
        ...extra,
      },
    });
    const route = (name: string, sign: unknown, extra: Record<string, unknown> = {}) => ({
      name,
      match: { pathPrefix: `/${name}` },
      upstream,
      tls,
      sign,
      ...extra,
    });
    gw = await startTestGateway({
      config: {
        limits: { maxBodyBytes: MAX_BODY },
        egress: {
          listen: { host: '127.0.0.1', port: 0 },
          routes: [
            route('sha1', hmac('HMAC-SHA1', { realm: 'Photos' })),
            route('sha256', hmac('HMAC-SHA256')),
            route('rsa', {
              oauth1: {
                consumerKey: RSA_CLIENT_KEY,
                token: TOKEN.token,
                signatureMethod: 'RSA-SHA1',
                privateKeyFile,
              },
            }),
            route('query', hmac('HMAC-SHA1', { placement: 'query' })),
            route('body', hmac('HMAC-SHA1', { placement: 'body' })),
            route('twolegged', { oauth1: { consumerKey: CLIENT.key, consumerSecret: CLIENT.secret } }),
            route('bodyhash', hmac('HMAC-SHA256', { bodyHash: true })),
            route('refuse', hmac('HMAC-SHA1'), { authorization: 'refuse' }),
            // No caFile: the system CAs do not know the test CA, so the API is not trusted.
            { name: 'untrusted', match: { pathPrefix: '/untrusted' }, upstream, sign: hmac('HMAC-SHA1') },
            route('othertrust', hmac('HMAC-SHA1'), { tls: { caFile: pki.otherCaFile } }),
          ],
        },
      },
    });
    app = new Agent({ keepAliveTimeout: 1_000 });
    apiAgent = new Agent({ connect: { ca: await readFile(pki.caFile, 'utf8') } });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await apiAgent?.close();
    await gw?.stop();
    await api?.close();
    await pki?.dispose();
  });

  async function send(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: string | Buffer,
  ): Promise<{ status: number; verdict: Verdict; raw: Record<string, unknown> }> {
    const res = await app.request({
      origin: gw.egressUrl!,
      path,
      method: method as 'GET',
      headers,
      body: body ?? null,
    });
    const raw = (await res.body.json()) as Record<string, unknown>;
    return { status: res.statusCode, verdict: raw as unknown as Verdict, raw };
  }

  const header = (verdict: Verdict, name: string) =>
    verdict.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);

  test('GET with unicode, reserved and repeated query parameters: valid, target and Host as signed', async () => {
    const query =
      '?file=vacation.jpg&q=%E2%9C%93%20caf%C3%A9&sp=a+b&r=%21%2A%27%28%29&dup=2&dup=1&empty=&amp=%26%3D&t=~-._';
    const { status, verdict } = await send('GET', `/sha1/photos/%C3%A9t%C3%A9${query}`, {
      // The app's own credentials are replaced, never forwarded.
      authorization: 'Basic YXBwOmFwcC1wYXNzd29yZA==',
      'x-app': 'kept',
    });
    expect(verdict.error).toBeNull();
    expect(status).toBe(200);
    expect(verdict.valid).toBe(true);
    expect(verdict.endpoint).toBe('resource');
    // The upstream's base path, the stripped prefix, the query byte-exact.
    expect(verdict.path).toBe(`/api/v1/photos/%C3%A9t%C3%A9${query}`);
    expect(header(verdict, 'host')).toEqual([`127.0.0.1:${api.port}`]);
    const authorization = header(verdict, 'authorization');
    expect(authorization).toHaveLength(1);
    expect(authorization[0]).toMatch(/^OAuth realm="Photos", oauth_consumer_key="egressConsumerKey0001"/);
    expect(header(verdict, 'x-app')).toEqual(['kept']);
    expect(verdict.params['oauth_signature_method']).toBe('HMAC-SHA1');
    expect(verdict.params['oauth_nonce']).toMatch(/^[0-9a-f]{24}$/);
  });

  test('form POST: body parameters signed and the body replayed byte-exact', async () => {
    const form = 'status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20request%21&tag=a&tag=b&u=%C3%BC';
    const { status, verdict } = await send(
      'POST',
      '/sha1/statuses/update.json?include_entities=true',
      { 'content-type': 'application/x-www-form-urlencoded' },
      form,
    );
    expect(verdict.error).toBeNull();
    expect(status).toBe(200);
    expect(verdict.body).toBe(form);
    expect(verdict.path).toBe('/api/v1/statuses/update.json?include_entities=true');
  });

  test('HMAC-SHA256 and RSA-SHA1 verify', async () => {
    for (const name of ['sha256', 'rsa']) {
      const { status, verdict } = await send('GET', `/${name}/resource?x=1&y=%20`);
      expect(verdict.error, name).toBeNull();
      expect(status, name).toBe(200);
      expect(verdict.params['oauth_signature_method']).toBe(name === 'rsa' ? 'RSA-SHA1' : 'HMAC-SHA256');
    }
  });

  test('query placement: the parameters go into the query, no Authorization header', async () => {
    const { status, verdict } = await send('GET', '/query/search?q=caf%C3%A9&q=tea');
    expect(verdict.error).toBeNull();
    expect(status).toBe(200);
    expect(header(verdict, 'authorization')).toEqual([]);
    expect(verdict.path).toMatch(
      /^\/api\/v1\/search\?q=caf%C3%A9&q=tea&oauth_consumer_key=egressConsumerKey0001&/,
    );
    expect(verdict.path).toContain('&oauth_signature=');
  });

  test('body placement: the parameters are appended to the form body', async () => {
    const { status, verdict } = await send(
      'POST',
      '/body/notes',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'text=hello%20world',
    );
    expect(verdict.error).toBeNull();
    expect(status).toBe(200);
    expect(verdict.body).toMatch(
      /^text=hello%20world&oauth_consumer_key=egressConsumerKey0001&.*oauth_signature=/,
    );
    expect(header(verdict, 'content-length')).toEqual([String(Buffer.byteLength(verdict.body))]);
    // A body route cannot sign a request without a form body (RFC 5849 §3.5.2).
    const get = await send('GET', '/body/notes');
    expect(get.status).toBe(400);
    expect(get.raw['error']).toBe('bad_request');
  });

  test('two-legged (no token): verified by oauthlib SignatureOnlyEndpoint', async () => {
    const { status, verdict } = await send('GET', '/twolegged/status?a=1');
    expect(verdict.error).toBeNull();
    expect(status).toBe(200);
    expect(verdict.endpoint).toBe('signature_only');
    expect(verdict.params['oauth_token']).toBeUndefined();
  });

  test('fresh nonce per request; a captured request replayed to the API is judged a replay', async () => {
    const first = await send('GET', '/sha1/same?x=1');
    const second = await send('GET', '/sha1/same?x=1');
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.verdict.params['oauth_nonce']).not.toBe(second.verdict.params['oauth_nonce']);

    // Replay exactly what the gateway sent, straight to the API.
    const replayed = await apiAgent.request({
      origin: api.origin,
      path: first.verdict.path,
      method: 'GET',
      headers: { authorization: header(first.verdict, 'authorization')[0]! },
    });
    const verdict = (await replayed.body.json()) as Verdict;
    expect(replayed.statusCode).toBe(401);
    expect(verdict.valid).toBe(false);
    expect(verdict.replay).toBe(true);
  });

  test('bodyHash: a JSON body is read, hashed (oauth_body_hash) and signed', async () => {
    const json = JSON.stringify({ hello: 'wörld', list: [1, 2, 3] });
    const { status, verdict } = await send(
      'PUT',
      '/bodyhash/doc/1',
      { 'content-type': 'application/json' },
      json,
    );
    expect(verdict.error).toBeNull();
    expect(status).toBe(200);
    expect(verdict.body).toBe(json);
    expect(verdict.body_hash).toBe('ok');
  });

  test('a non-form body without bodyHash streams through unchanged and the signature still verifies', async () => {
    const payload = Buffer.alloc(3 * MAX_BODY, 'z');
    const { status, verdict } = await send(
      'POST',
      '/sha1/upload',
      { 'content-type': 'application/octet-stream' },
      payload,
    );
    expect(verdict.error).toBeNull();
    expect(status).toBe(200);
    expect(verdict.body).toBe(payload.toString());
    expect(verdict.params['oauth_body_hash']).toBeUndefined();
  });

  test('hop-by-hop headers (and those named in Connection) are not forwarded', async () => {
    const res = await rawRequest(
      gw.egressPort!,
      'GET /sha1/hop HTTP/1.1\r\nHost: app.local\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret-hop\r\n' +
        'Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eDp5\r\nX-End: yes\r\n\r\n',
    );
    expect(res.status).toBe(200);
    const verdict = JSON.parse(res.body) as Verdict;
    expect(verdict.valid).toBe(true);
    const names = verdict.headers.map(([n]) => n.toLowerCase());
    for (const name of ['x-hop', 'keep-alive', 'te', 'proxy-authorization'])
      expect(names).not.toContain(name);
    expect(header(verdict, 'x-end')).toEqual(['yes']);
    expect(header(verdict, 'host')).toEqual([`127.0.0.1:${api.port}`]);
  });

  test('refusals send nothing: own Authorization on a refuse route, oauth_* params, body over the limit', async () => {
    const before = await api.requestCount(pki.caFile);
    const refused = await send('GET', '/refuse/x', { authorization: 'Bearer app-token' });
    expect(refused.status).toBe(400);
    expect(refused.raw['error']).toBe('authorization_refused');
    const params = await send('GET', '/sha1/x?oauth_token=mine');
    expect(params.status).toBe(400);
    const big = await send(
      'POST',
      '/sha1/x',
      { 'content-type': 'application/x-www-form-urlencoded' },
      `a=${'b'.repeat(MAX_BODY)}`,
    );
    expect(big.status).toBe(413);
    const unknown = await send('GET', '/nowhere');
    expect(unknown.status).toBe(404);
    expect(await api.requestCount(pki.caFile)).toBe(before);
  });

  test('upstream TLS is verified: a CA the route does not trust → 502, nothing signed reaches it', async () => {
    const before = await api.requestCount(pki.caFile);
    for (const name of ['untrusted', 'othertrust']) {
      const { status, raw } = await send('GET', `/${name}/x`);
      expect(status, name).toBe(502);
      expect(raw['error']).toBe('bad_gateway');
      expect(String(raw['error_description'])).toMatch(/certificate/);
    }
    expect(await api.requestCount(pki.caFile)).toBe(before);
  });

  test('access log has one egress line per request, without the query', async () => {
    await send('GET', '/sha1/logged?secretish=1');
    const lines = gw
      .logEntries()
      .filter((entry) => entry['msg'] === 'egress' && entry['path'] === '/sha1/logged');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ route: 'sha1', status: 200, sign: 'oauth1', method: 'GET' });
    expect(JSON.stringify(lines[0])).not.toContain('secretish');
  });

  test('docs/egress.md worked example: examples/egress/app.py (Python requests, no OAuth code) through examples/egress/gateway.yaml', async () => {
    const example = (path: string) =>
      fileURLToPath(new URL(`../../examples/egress/${path}`, import.meta.url));
    const config = parse(await readFile(example('gateway.yaml'), 'utf8')) as {
      egress: { listen: Record<string, unknown> };
    };
    config.egress.listen = { host: '127.0.0.1', port: 0 };
    const sidecar = await startTestGateway({
      config,
      env: {
        PHOTOS_API_URL: `${api.origin}/api/v1`,
        PHOTOS_API_CA: pki.caFile,
        PHOTOS_CONSUMER_KEY: CLIENT.key,
        PHOTOS_CONSUMER_SECRET: CLIENT.secret,
        PHOTOS_TOKEN: TOKEN.token,
        PHOTOS_TOKEN_SECRET: TOKEN.secret,
        BILLING_CLIENT_SECRET: 'unused-here',
      },
    });
    try {
      const { stdout } = await promisify(execFile)(PYTHON, [example('app.py')], {
        env: { ...process.env, EGRESS_URL: sidecar.egressUrl! },
      });
      const [photos, status] = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { status: number; body: Verdict });
      expect(photos!.body.error).toBeNull();
      expect(photos).toMatchObject({ status: 200, body: { valid: true, method: 'GET' } });
      expect(photos!.body.path).toBe('/api/v1/photos?file=vacation.jpg&caption=caf%C3%A9+%26+co');
      expect(status).toMatchObject({ status: 200, body: { valid: true, method: 'POST' } });
      expect(status!.body.body).toBe('status=Hello+Ladies+%2B+Gentlemen%2C+a+signed+OAuth+request%21');
    } finally {
      await sidecar.stop();
    }
  });
});

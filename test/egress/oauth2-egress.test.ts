import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basicAuthorization } from '../../src/oauth2-client-http.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { type RecordedRequest, startUpstream, type TestUpstream } from '../helpers/upstream.js';
import {
  type AuthorizationServer,
  GATEWAY_CLIENT,
  JWT_CLIENT,
  SERVICE_CLIENT,
  SERVICE_POST_CLIENT,
  startAuthorizationServer,
} from '../introspect/helpers/authorization-server.js';

/**
 * OAuth2 egress against a real authorization server (oidc-provider): the gateway gets
 * client-credentials tokens, caches them, refreshes ahead of expiry, coalesces refreshes, renews
 * after a 401; the tokens the API received are checked by introspection at the same AS (not by the
 * gateway). Faults: the token endpoint down, slow or answering garbage → 503 and the API sees
 * nothing; the API slow → the route's timeout (504).
 */

describe('OAuth2 client-credentials egress (oidc-provider issues the tokens)', () => {
  let as: AuthorizationServer;
  let upstream: TestUpstream;
  let gw: TestGateway;
  let app: Agent;
  let jwtKeyFile: string;
  let config: { egress: { listen: unknown; routes: Record<string, unknown>[] } };

  /** The API: introspects the bearer token at the AS under /checked, hangs under /hang, else echoes. */
  async function introspect(token: string): Promise<Record<string, unknown>> {
    const res = await fetch(as.introspectionUrl, {
      method: 'POST',
      headers: {
        authorization: basicAuthorization(GATEWAY_CLIENT.clientId, GATEWAY_CLIENT.clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    });
    return (await res.json()) as Record<string, unknown>;
  }

  const bearerOf = (record: RecordedRequest) => {
    const values = record.rawHeaders.filter(
      (_, i, all) => i % 2 === 1 && all[i - 1]!.toLowerCase() === 'authorization',
    );
    return values;
  };

  beforeAll(async () => {
    as = await startAuthorizationServer();
    upstream = await startUpstream((req, res, record) => {
      if (record.url.includes('/hang')) return; // never answers
      if (record.url.includes('/hop')) {
        // Hop-by-hop answer headers, and one the upstream nominates in Connection.
        res.writeHead(200, {
          connection: 'x-secret-hop',
          'x-secret-hop': 'upstream-only',
          'keep-alive': 'timeout=77',
          'x-kept': 'yes',
          'content-length': '2',
        });
        res.end('{}');
        return;
      }
      const finish = async () => {
        let status = 200;
        if (record.url.includes('/checked')) {
          const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
          const info = token === undefined ? { active: false } : await introspect(token);
          status = info['active'] === true ? 200 : 401;
        }
        const body = JSON.stringify({ url: record.url, authorization: req.headers.authorization ?? null });
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      };
      if (req.readableEnded) void finish();
      else req.once('end', () => void finish());
    });
    const oauth2 = (extra: Record<string, unknown> = {}) => ({
      oauth2: {
        tokenUrl: as.tokenUrl,
        clientId: SERVICE_CLIENT.clientId,
        clientSecret: SERVICE_CLIENT.clientSecret,
        ...extra,
      },
    });
    const route = (name: string, sign: unknown, extra: Record<string, unknown> = {}) => ({
      name,
      match: { pathPrefix: `/${name}` },
      upstream: `${upstream.url}/v2`,
      sign,
      ...extra,
    });
    jwtKeyFile = join(await mkdtemp(join(tmpdir(), 'egress-jwt-')), 'client.pem');
    await writeFile(jwtKeyFile, JWT_CLIENT.privateKeyPem);
    config = {
      egress: {
        listen: { host: '127.0.0.1', port: 0 },
        routes: [
          route('basic', oauth2()),
          route(
            'post',
            oauth2({
              clientId: SERVICE_POST_CLIENT.clientId,
              clientSecret: SERVICE_POST_CLIENT.clientSecret,
              authMethod: 'client_secret_post',
            }),
          ),
          route('jwt', {
            oauth2: {
              tokenUrl: as.tokenUrl,
              clientId: JWT_CLIENT.clientId,
              authMethod: 'private_key_jwt',
              privateKeyFile: jwtKeyFile,
              assertionAlgorithm: 'ES256',
              keyId: JWT_CLIENT.keyId,
            },
          }),
          route('ahead', oauth2()),
          route('burst', oauth2()),
          route('renew', oauth2()),
          route('down', oauth2()),
          route('garbage', oauth2()),
          route('wrongtype', oauth2()),
          route('slowas', oauth2({ timeout: '300ms' })),
          route('slowapi', oauth2(), { timeout: '500ms' }),
        ],
      },
    };
    gw = await startTestGateway({ config });
    app = new Agent({ keepAliveTimeout: 1_000, connections: null });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await gw?.stop();
    await upstream?.close();
    await as?.close();
  });

  async function send(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
    const res = await app.request({
      origin: gw.egressUrl!,
      path,
      method: method as 'GET',
      headers,
      body: body ?? null,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  async function metric(name: string, labels: string): Promise<number> {
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  }

  test('a token is fetched once, cached, sent as Bearer, and the AS says it is the client’s', async () => {
    const before = as.requests('/token');
    const first = await send('GET', '/basic/items?x=1', { authorization: 'Bearer app-own-token' });
    const second = await send('GET', '/basic/items/2');
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(as.requests('/token')).toBe(before + 1);
    expect(first.body['url']).toBe('/v2/items?x=1');
    const authorization = String(first.body['authorization']);
    expect(authorization).toMatch(/^Bearer [A-Za-z0-9_-]+$/);
    expect(second.body['authorization']).toBe(authorization);
    // The app's own Authorization was replaced, not forwarded alongside.
    const seen = upstream.requests.find((r) => r.url === '/v2/items?x=1')!;
    expect(bearerOf(seen)).toEqual([authorization]);
    const info = await introspect(authorization.slice('Bearer '.length));
    expect(info).toMatchObject({ active: true, client_id: SERVICE_CLIENT.clientId });
  });

  test('client_secret_post authenticates too (RFC 6749 §2.3.1)', async () => {
    const { status, body } = await send('GET', '/post/x');
    expect(status).toBe(200);
    const info = await introspect(String(body['authorization']).slice('Bearer '.length));
    expect(info).toMatchObject({ active: true, client_id: SERVICE_POST_CLIENT.clientId });
  });

  test('private_key_jwt (RFC 7523): a signed client assertion instead of a secret', async () => {
    const before = as.requests('/token');
    const first = await send('GET', '/jwt/x');
    const second = await send('GET', '/jwt/y');
    expect(first.status).toBe(200);
    expect(second.body['authorization']).toBe(first.body['authorization']);
    expect(as.requests('/token')).toBe(before + 1);
    const info = await introspect(String(first.body['authorization']).slice('Bearer '.length));
    expect(info).toMatchObject({ active: true, client_id: JWT_CLIENT.clientId });
  });

  test('refreshed ahead of expiry in the background; the request in the window is not delayed', async () => {
    // 10 s tokens: refreshed from 5 s on (half the life), no longer used from 9 s on.
    as.setDefaultTokenTtl(10);
    try {
      const before = as.requests('/token');
      const first = await send('GET', '/ahead/a');
      expect(as.requests('/token')).toBe(before + 1);
      await sleep(5_500);
      const inWindow = await send('GET', '/ahead/b');
      // Still the current token: the refresh runs beside the request.
      expect(inWindow.body['authorization']).toBe(first.body['authorization']);
      await expect.poll(() => as.requests('/token'), { timeout: 3_000 }).toBe(before + 2);
      const after = await send('GET', '/ahead/c');
      expect(after.body['authorization']).not.toBe(first.body['authorization']);
      expect(as.requests('/token')).toBe(before + 2);
      expect(
        await metric(
          'oauth_gateway_egress_token_fetches_total',
          'route="ahead",reason="ahead",result="success"',
        ),
      ).toBe(1);
    } finally {
      as.setDefaultTokenTtl(undefined);
    }
  }, 20_000);

  test('1000 concurrent requests with an expired token cause exactly one token request', async () => {
    as.setDefaultTokenTtl(2);
    const before = as.requests('/token');
    const first = await send('GET', '/burst/warm');
    expect(as.requests('/token')).toBe(before + 1);
    // The next token lives long, so nothing during the burst is due for a refresh-ahead.
    as.setDefaultTokenTtl(undefined);
    await sleep(2_200);
    // Hold the token endpoint so that all 1000 requests are waiting while the one refresh runs.
    as.setTokenDelay(300);
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => send('GET', `/burst/${i}`)));
      expect(results.filter((r) => r.status !== 200)).toEqual([]);
      expect(as.requests('/token')).toBe(before + 2);
      const tokens = new Set(results.map((r) => r.body['authorization']));
      expect(tokens.size).toBe(1);
      expect(tokens.has(first.body['authorization'])).toBe(false);
      expect(
        await metric(
          'oauth_gateway_egress_token_fetches_total',
          'route="burst",reason="expired",result="success"',
        ),
      ).toBe(1);
    } finally {
      as.setTokenDelay(0);
    }
  }, 60_000);

  test('a 401 from the API: one renewal and one retry for an idempotent request; a POST with a body is not retried', async () => {
    const first = await send('GET', '/renew/checked/1');
    expect(first.status).toBe(200);
    const revoked = String(first.body['authorization']).slice('Bearer '.length);
    await as.revoke(revoked);
    const tokensBefore = as.requests('/token');
    const upstreamBefore = upstream.requests.length;
    const retried = await send('GET', '/renew/checked/2');
    expect(retried.status).toBe(200);
    expect(retried.body['authorization']).not.toBe(first.body['authorization']);
    expect(as.requests('/token')).toBe(tokensBefore + 1);
    // Exactly two API calls: the rejected one and the retry.
    expect(upstream.requests.length).toBe(upstreamBefore + 2);
    expect(await metric('oauth_gateway_egress_retries_total', 'route="renew"')).toBe(1);

    // A POST with a body cannot be replayed: the app gets the 401 itself.
    await as.revoke(String(retried.body['authorization']).slice('Bearer '.length));
    const post = await send('POST', '/renew/checked/3', { 'content-type': 'application/json' }, '{"a":1}');
    expect(post.status).toBe(401);
    // …and the rejected token is not used again.
    const next = await send('GET', '/renew/checked/4');
    expect(next.status).toBe(200);
    expect(await metric('oauth_gateway_egress_retries_total', 'route="renew"')).toBe(1);
  });

  test('hop-by-hop headers of the answer (and those it names in Connection) do not reach the app', async () => {
    const res = await app.request({ origin: gw.egressUrl!, path: '/basic/hop', method: 'GET' });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-kept']).toBe('yes');
    expect(res.headers['x-secret-hop']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=77'); // Node's own value for this hop is fine
  });

  test('a reload keeps the cached token of an unchanged route and serves added routes', async () => {
    const first = await send('GET', '/basic/before-reload');
    const tokensBefore = as.requests('/token');
    const routes = [
      ...config.egress.routes,
      { ...config.egress.routes[0], name: 'added', match: { pathPrefix: '/added' } },
    ];
    await gw.writeFiles({ config: { ...config, egress: { ...config.egress, routes } } });
    expect(await gw.reload()).toBe(true);
    const after = await send('GET', '/basic/after-reload');
    expect(after.body['authorization']).toBe(first.body['authorization']);
    expect(as.requests('/token')).toBe(tokensBefore);
    const added = await send('GET', '/added/x');
    expect(added.status).toBe(200);
    expect(added.body['url']).toBe('/v2/x');
    // A route of its own: its own token cache.
    expect(as.requests('/token')).toBe(tokensBefore + 1);
  });

  test('token endpoint answering garbage or a non-Bearer token → 503, the API sees nothing', async () => {
    const before = upstream.requests.length;
    as.setTokenOverride((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"access_token": "abc", "token_type": ');
    });
    try {
      const garbage = await send('GET', '/garbage/x');
      expect(garbage.status).toBe(503);
      expect(garbage.body).toEqual({
        error: 'temporarily_unavailable',
        error_description:
          'No access token: the token endpoint answered without a usable bearer access_token; the request was not sent',
      });
      as.setTokenOverride((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: 'abc', token_type: 'DPoP', expires_in: 60 }));
      });
      expect((await send('GET', '/wrongtype/x')).status).toBe(503);
      as.setTokenOverride((_req, res) => {
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end('<h1>oops</h1>');
      });
      await sleep(600); // past the failure cooldown of /garbage
      const error = await send('GET', '/garbage/y');
      expect(error.status).toBe(503);
      expect(String(error.body['error_description'])).toContain('answered with an error status');
    } finally {
      as.setTokenOverride(undefined);
    }
    expect(upstream.requests.length).toBe(before);
    expect(await metric('oauth_gateway_egress_signing_errors_total', 'route="garbage"')).toBe(2);
    expect(
      await metric(
        'oauth_gateway_egress_token_fetches_total',
        'route="garbage",reason="initial",result="failure"',
      ),
    ).toBe(2);
  });

  test('token endpoint slow → 503 after sign.oauth2.timeout; the API sees nothing', async () => {
    const before = upstream.requests.length;
    as.setTokenDelay(2_000);
    try {
      const started = performance.now();
      const slow = await send('GET', '/slowas/x');
      expect(slow.status).toBe(503);
      expect(String(slow.body['error_description'])).toContain('timed out');
      expect(performance.now() - started).toBeLessThan(1_900);
    } finally {
      as.setTokenDelay(0);
    }
    expect(upstream.requests.length).toBe(before);
  });

  test('remote API slow → 504 after the route timeout', async () => {
    const started = performance.now();
    const slow = await send('GET', '/slowapi/hang');
    expect(slow.status).toBe(504);
    expect(slow.body['error']).toBe('gateway_timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(450);
  });

  test('token endpoint down → 503, the API sees nothing', async () => {
    const before = upstream.requests.length;
    await as.stop();
    try {
      const down = await send('GET', '/down/x');
      expect(down.status).toBe(503);
      expect(down.body['error_description']).toBe(
        'No access token: the token endpoint is unreachable; the request was not sent',
      );
    } finally {
      await as.start();
    }
    expect(upstream.requests.length).toBe(before);
    const lines = gw.logEntries().filter((l) => l['msg'] === 'egress' && l['route'] === 'down');
    expect(lines[0]).toMatchObject({ status: 503, sign: 'oauth2', error: 'temporarily_unavailable' });
  });
});

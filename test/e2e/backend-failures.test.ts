import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { bearer, send, sleep } from './oauth2/support.js';

/**
 * Issue 14: every 503 says why. An introspection endpoint that refuses the gateway's client
 * credentials, one that answers something the gateway cannot read, and one that is down each give
 * 503 `temporarily_unavailable`, and each leaves one `warn` line naming the cause (HTTP status,
 * the member that was wrong, the token's sha256 prefix; never the token or the secret) and a count
 * in `oauth_gateway_auth_backend_failures_total{source,cause}`. A burst of the same cause is one
 * line (rate limited), while the counter counts every request.
 */

const SECRET = 'introspection-secret-Zq81';
type Mode = 'refuse' | 'malformed';

describe('503 causes are logged and counted', () => {
  let upstream: TestUpstream;
  let as: Server;
  let asUrl: string;
  let mode: Mode = 'refuse';
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    as = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (mode === 'refuse') {
          res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic' });
          res.end('{"error":"invalid_client"}');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"active":true,"sub":4.5,"client_id":"c"}');
        }
      });
    });
    await new Promise<void>((resolve) => as.listen(0, '127.0.0.1', resolve));
    asUrl = `http://127.0.0.1:${(as.address() as AddressInfo).port}/introspect`;
    gw = await startTestGateway({
      config: {
        oauth2: {
          tokenSources: ['introspection'],
          introspection: { url: asUrl, clientId: 'gateway', clientSecret: SECRET, timeout: '1s' },
        },
        routes: [{ name: 'api', match: { pathPrefix: '/' }, upstream: upstream.url, auth: 'oauth2' }],
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    as?.closeAllConnections();
    await new Promise<void>((resolve) => (as?.listening ? as.close(() => resolve()) : resolve()));
  });

  const warnings = (cause: string) =>
    gw.logEntries().filter((line) => line['level'] === 'warn' && line['cause'] === cause);

  async function failureCount(cause: string): Promise<number> {
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) =>
        l.startsWith(`oauth_gateway_auth_backend_failures_total{source="introspection",cause="${cause}"}`),
      );
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  }

  it('the AS refuses our client credentials (401): one warn line with the status, every request counted', async () => {
    mode = 'refuse';
    const tokens = ['refused-token-1', 'refused-token-2', 'refused-token-3'];
    for (const token of tokens) {
      const reply = await send(gw.url, '/x', { headers: bearer(token) });
      expect(reply.status).toBe(503);
      expect(JSON.parse(reply.text)).toMatchObject({ error: 'temporarily_unavailable' });
    }
    const lines = warnings('client_auth_refused');
    expect(lines).toHaveLength(1); // rate limited: one line per cause per window
    expect(lines[0]).toMatchObject({
      source: 'introspection',
      cause: 'client_auth_refused',
      status: 401,
      route: 'api',
      tokenHash: createHash('sha256').update(tokens[0]!).digest('hex').slice(0, 8),
    });
    expect(String(lines[0]!['msg'])).toContain('503');
    expect(await failureCount('client_auth_refused')).toBe(3);
  });

  it('a malformed answer (sub is 4.5): the warn line names the member', async () => {
    mode = 'malformed';
    const reply = await send(gw.url, '/x', { headers: bearer('malformed-answer-token') });
    expect(reply.status).toBe(503);
    const lines = warnings('malformed_response');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ source: 'introspection', status: 200, field: 'sub' });
    expect(await failureCount('malformed_response')).toBe(1);
  });

  it('the AS is down: unreachable, with the socket error code', async () => {
    as.closeAllConnections();
    await new Promise<void>((resolve) => as.close(() => resolve()));
    const reply = await send(gw.url, '/x', { headers: bearer('as-down-token') });
    expect(reply.status).toBe(503);
    const lines = warnings('unreachable');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ source: 'introspection', code: 'ECONNREFUSED' });
    expect(await failureCount('unreachable')).toBe(1);
  });

  it('no line carries a token or the client secret', () => {
    const all = gw.logs.join('\n');
    for (const secret of [SECRET, 'refused-token-1', 'malformed-answer-token', 'as-down-token']) {
      expect(all).not.toContain(secret);
    }
  });
});

describe('refused JWKS answers are logged and counted too', () => {
  let upstream: TestUpstream;
  let jwks: Server;
  let jwksUrl: string;
  let answer: { status: number; body: string } = { status: 500, body: 'oops' };
  let token: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    token = await new SignJWT({ sub: '42', client_id: 'c', scope: 'read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer('https://issuer.test')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    jwks = createServer((_req, res) => {
      if (answer.status === 200 && answer.body === 'keys') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [jwk] }));
      } else {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body);
      }
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
  });
  afterAll(async () => {
    await upstream?.close();
    jwks?.closeAllConnections();
    await new Promise<void>((resolve) => jwks?.close(() => resolve()));
  });

  const gatewayFor = () =>
    startTestGateway({
      config: {
        oauth2: {
          tokenSources: ['jwt'],
          jwt: { jwksUri: jwksUrl, issuer: 'https://issuer.test', algorithms: ['RS256'] },
        },
        routes: [{ name: 'jwt', match: { pathPrefix: '/' }, upstream: upstream.url, auth: 'oauth2' }],
      },
    });

  it('no keys yet: a 500 and then a non-JSON JWKS each give 503 with their cause', async () => {
    const gw = await gatewayFor();
    try {
      answer = { status: 500, body: 'oops' };
      expect((await send(gw.url, '/x', { headers: bearer(token) })).status).toBe(503);
      answer = { status: 200, body: '<html>' };
      await sleep(1_100); // with no keys the JWKS is retried after 1 s
      expect((await send(gw.url, '/x', { headers: bearer(token) })).status).toBe(503);
      const warn = gw.logEntries().filter((line) => line['level'] === 'warn');
      expect(warn).toEqual([
        expect.objectContaining({ source: 'jwks', cause: 'http_status', status: 500 }),
        expect.objectContaining({ source: 'jwks', cause: 'malformed_response', field: '(not JSON)' }),
      ]);
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      expect(metrics).toContain(
        'oauth_gateway_auth_backend_failures_total{source="jwks",cause="http_status"} 1',
      );
      expect(metrics).toContain(
        'oauth_gateway_auth_backend_failures_total{source="jwks",cause="malformed_response"} 1',
      );
    } finally {
      await gw.stop();
    }
  });

  it('keys held: an unknown kid whose refetch fails is answered from the keys held (401), and still logged', async () => {
    const gw = await gatewayFor();
    try {
      answer = { status: 200, body: 'keys' };
      expect((await send(gw.url, '/x', { headers: bearer(token) })).status).toBe(200);
      answer = { status: 502, body: '' };
      await sleep(1_100); // past the 1 s unknown-kid floor
      const [, payload, signature] = token.split('.');
      const otherKid = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k2', typ: 'at+jwt' })).toString(
        'base64url',
      );
      const unknownKid = `${otherKid}.${payload}.${signature}`;
      expect((await send(gw.url, '/x', { headers: bearer(unknownKid) })).status).toBe(401);
      const warn = gw.logEntries().filter((line) => line['level'] === 'warn');
      expect(warn).toEqual([expect.objectContaining({ source: 'jwks', cause: 'http_status', status: 502 })]);
      expect(String(warn[0]!['msg'])).toContain('verified with the keys already held');
    } finally {
      await gw.stop();
    }
  });
});

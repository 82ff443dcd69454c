import { createHmac } from 'node:crypto';
import OAuth from 'oauth-1.0a';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import {
  BEARER,
  CONSUMER,
  credentialsFile,
  oauth1Authorization,
  TOKEN,
} from '../security/helpers/credentials.js';

/**
 * The authorize listener judged directly, with the request descriptions each front proxy sends
 * (nginx auth_request, Traefik/Caddy forward auth, Envoy ext_authz). OAuth1 requests are signed by
 * the independent npm `oauth-1.0a` for the ORIGINAL URL, so a 200 means the gateway rebuilt the
 * original request byte for byte. The front proxies themselves run in test/e2e/forward-auth/.
 */

const oauth = new OAuth({
  consumer: { key: CONSUMER.clientId, secret: CONSUMER.clientSecret },
  signature_method: 'HMAC-SHA1',
  hash_function: (base, key) => createHmac('sha1', key).update(base).digest('base64'),
});
const token = { key: TOKEN.token, secret: TOKEN.tokenSecret };

function signedHeader(method: string, url: string, data?: Record<string, string>): string {
  return oauth.toHeader(oauth.authorize({ url, method, ...(data ? { data } : {}) }, token)).Authorization;
}

function signedQuery(method: string, url: string): string {
  const params = oauth.authorize({ url, method }, token) as unknown as Record<string, string>;
  // authorize() also returns the URL's own query parameters: send only the protocol ones again.
  const query = Object.entries(params)
    .filter(([k]) => k.startsWith('oauth_'))
    .map(([k, v]) => `${oauth.percentEncode(k)}=${oauth.percentEncode(String(v))}`)
    .join('&');
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

function check(
  port: number,
  headers: Record<string, string>,
  options: { path?: string; method?: string; body?: string } = {},
) {
  let head = `${options.method ?? 'GET'} ${options.path ?? '/check'} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (options.body !== undefined) head += `Content-Length: ${Buffer.byteLength(options.body)}\r\n`;
  return rawRequest(port, `${head}Connection: close\r\n\r\n${options.body ?? ''}`);
}

const ROUTES = (upstream: string) => [
  { name: 'photos', match: { pathPrefix: '/photos' }, upstream, auth: 'oauth1', scopes: ['photos:read'] },
  { name: 'feed', match: { pathPrefix: '/feed' }, upstream, auth: 'oauth2', scopes: ['photos:read'] },
  { name: 'admin', match: { pathPrefix: '/admin' }, upstream, auth: 'oauth2', scopes: ['admin'] },
  { name: 'judged', match: { pathPrefix: '/judged' }, auth: 'any' },
  { name: 'public', match: { pathPrefix: '/' }, upstream, auth: 'none' },
];

describe('authorize listener', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;
  let port: number;

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      config: { authorize: { listen: { host: '127.0.0.1', port: 0 } }, routes: ROUTES(upstream.url) },
      credentials: credentialsFile(),
    });
    port = gw.authorizePort!;
  });

  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  describe('nginx auth_request (X-Original-Method, X-Original-URI, Host)', () => {
    it('allows a signed OAuth1 request with the identity headers, and refuses its replay', async () => {
      const url = 'http://api.test:8080/photos/1?size=big&tag=a%20b';
      const authorization = signedHeader('GET', url);
      const described = {
        Host: 'api.test:8080',
        'X-Original-Method': 'GET',
        'X-Original-URI': '/photos/1?size=big&tag=a%20b',
        Authorization: authorization,
        'X-Request-Id': 'chk-1',
      };
      const allowed = await check(port, described);
      expect(allowed.status).toBe(200);
      expect(allowed.headers['x-oauth-user']).toBe(TOKEN.userId);
      expect(allowed.headers['x-oauth-client-id']).toBe(CONSUMER.clientId);
      expect(allowed.headers['x-oauth-scope']).toBe(TOKEN.scope);
      expect(allowed.headers['x-oauth-method']).toBe('oauth1');
      expect(allowed.headers['x-request-id']).toBe('chk-1');

      const replay = await check(port, described);
      expect(replay.status).toBe(401);
      expect(JSON.parse(replay.body).error).toBe('invalid_nonce');
      expect(replay.headers['www-authenticate']).toMatch(/^OAuth realm=".*", oauth_problem="nonce_used"$/);
      // Nothing is ever forwarded by a check.
      expect(upstream.requests).toHaveLength(0);
    });

    it('a bad signature, a wrong original method or a wrong host → 401 invalid_signature', async () => {
      const url = 'http://api.test/photos/2';
      for (const described of [
        { Host: 'api.test', 'X-Original-Method': 'GET', 'X-Original-URI': '/photos/2?x=1' },
        { Host: 'api.test', 'X-Original-Method': 'DELETE', 'X-Original-URI': '/photos/2' },
        { Host: 'other.test', 'X-Original-Method': 'GET', 'X-Original-URI': '/photos/2' },
      ]) {
        const reply = await check(port, { ...described, Authorization: signedHeader('GET', url) });
        expect(reply.status, JSON.stringify(described)).toBe(401);
        expect(JSON.parse(reply.body).error).toBe('invalid_signature');
      }
    });

    it('bearer: allowed with identity; unknown token 401; missing scope 403 with the scope challenge', async () => {
      const base = { Host: 'api.test', 'X-Original-Method': 'GET' };
      const ok = await check(port, {
        ...base,
        'X-Original-URI': '/feed/x',
        Authorization: `Bearer ${BEARER.accessToken}`,
      });
      expect(ok.status).toBe(200);
      expect(ok.headers['x-oauth-user']).toBe(BEARER.userId);
      expect(ok.headers['x-oauth-client-id']).toBe(BEARER.clientId);
      expect(ok.headers['x-oauth-method']).toBe('oauth2');

      const unknown = await check(port, {
        ...base,
        'X-Original-URI': '/feed/x',
        Authorization: 'Bearer nope-nope',
      });
      expect(unknown.status).toBe(401);
      expect(unknown.headers['www-authenticate']).toMatch(/^Bearer realm=".*", error="invalid_token"/);

      const scope = await check(port, {
        ...base,
        'X-Original-URI': '/admin/x',
        Authorization: `Bearer ${BEARER.accessToken}`,
      });
      expect(scope.status).toBe(403);
      expect(scope.headers['www-authenticate']).toMatch(/error="insufficient_scope".*scope="admin"/);

      const none = await check(port, { ...base, 'X-Original-URI': '/feed/x' });
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]*"$/);
    });

    it('a form body signed over its parameters cannot be verified without the body: a 401 that says so', async () => {
      const url = 'http://api.test/photos/upload';
      const authorization = signedHeader('POST', url, { title: 'sunset' });
      const reply = await check(port, {
        Host: 'api.test',
        'X-Original-Method': 'POST',
        'X-Original-URI': '/photos/upload',
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: authorization,
      });
      expect(reply.status).toBe(401);
      const body = JSON.parse(reply.body);
      expect(body.error).toBe('invalid_signature');
      expect(body.error_description).toMatch(/form body parameters.*Envoy with_request_body/);
    });
  });

  describe('Traefik forwardAuth / Caddy forward_auth (X-Forwarded-*)', () => {
    it('a body signed by oauth_body_hash cannot be checked without the body: a 401 that says so', async () => {
      const url = 'https://api.test/photos/json';
      const body = '{"title":"sunset"}';
      const authorization = oauth1Authorization('PUT', url, { body, contentType: 'application/json' });
      expect(authorization).toContain('oauth_body_hash');
      const reply = await check(port, {
        Host: 'gateway-check',
        'Content-Type': 'application/json',
        'X-Forwarded-Method': 'PUT',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'api.test',
        'X-Forwarded-Uri': '/photos/json',
        Authorization: authorization,
      });
      expect(reply.status).toBe(401);
      expect(JSON.parse(reply.body).error_description).toMatch(/oauth_body_hash.*does not send/);
    });

    it('allows OAuth1 with query placement over https, judged by the described method and host', async () => {
      const signed = signedQuery('POST', 'https://shop.test/photos/9?a=1');
      const target = signed.slice('https://shop.test'.length);
      const reply = await check(port, {
        Host: 'gateway-check',
        'X-Forwarded-Method': 'POST',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'shop.test',
        'X-Forwarded-Uri': target,
      });
      expect(reply.status).toBe(200);
      expect(reply.headers['x-oauth-user']).toBe(TOKEN.userId);
    });

    it('convention confusion: a client X-Original-URI passed through by Caddy/Traefik (or X-Forwarded-Uri by nginx) is refused', async () => {
      // The front set X-Forwarded-* for GET /admin/x; the client added an nginx-style description.
      const reply = await check(port, {
        Host: 'api.test',
        'X-Forwarded-Method': 'GET',
        'X-Forwarded-Proto': 'http',
        'X-Forwarded-Host': 'api.test',
        'X-Forwarded-Uri': '/admin/x',
        'X-Original-Method': 'GET',
        'X-Original-URI': '/public/x',
      });
      expect(reply.status).toBe(400);
      expect(JSON.parse(reply.body).error_description).toMatch(/one of them was sent by the client/);
      expect(reply.headers['x-oauth-error']).toBe('bad_request');
    });

    it('a described value given twice is refused (400): the check must be unambiguous', async () => {
      const reply = await rawRequest(
        port,
        'GET /check HTTP/1.1\r\nHost: g\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Host: a.test\r\nX-Forwarded-Uri: /public/x\r\nX-Forwarded-Uri: /admin/x\r\nConnection: close\r\n\r\n',
      );
      expect(reply.status).toBe(400);
    });
  });

  describe('Envoy ext_authz (original method and path under pathPrefix, body with with_request_body)', () => {
    it('verifies a form body signature when the body is sent', async () => {
      const url = 'http://api.test/photos/upload';
      const body = 'title=sunset&tags=a%20b';
      const authorization = signedHeader('POST', url, { title: 'sunset', tags: 'a b' });
      const reply = await check(
        port,
        {
          Host: 'api.test',
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: authorization,
        },
        { method: 'POST', path: '/ext-authz/photos/upload', body },
      );
      expect(reply.status).toBe(200);
      expect(reply.headers['x-oauth-user']).toBe(TOKEN.userId);
    });
  });

  it('route bypass shapes are routed exactly as in proxy mode: protected routes are never public', async () => {
    for (const target of [
      '/public/../admin/x',
      '/public/%2e%2e/admin/x',
      '//admin/x',
      '/admin;x/y',
      '/public/./../admin',
    ]) {
      const reply = await check(port, {
        Host: 'api.test',
        'X-Original-Method': 'GET',
        'X-Original-URI': target,
      });
      expect([400, 401], target).toContain(reply.status);
    }
    const open = await check(port, {
      Host: 'api.test',
      'X-Original-Method': 'GET',
      'X-Original-URI': '/public/x',
    });
    expect(open.status).toBe(200);
    expect(open.headers['x-oauth-user']).toBeUndefined();
  });

  it('a route without an upstream is judged here and 404 in proxy mode', async () => {
    const judged = await check(port, {
      Host: 'api.test',
      'X-Original-Method': 'GET',
      'X-Original-URI': '/judged/x',
      Authorization: `Bearer ${BEARER.accessToken}`,
    });
    expect(judged.status).toBe(200);
    const proxied = await fetch(`${gw.url}/judged/x`, {
      headers: { authorization: `Bearer ${BEARER.accessToken}` },
    });
    expect(proxied.status).toBe(404);
  });

  it('a request that describes nothing is a 400 naming the expected headers', async () => {
    const reply = await check(port, { Host: 'api.test' });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body).error_description).toMatch(/X-Forwarded-Uri.*X-Original-URI/);
  });

  it('checks are logged and counted by front proxy convention, without the query', async () => {
    const lines = gw.logEntries().filter((l) => l['msg'] === 'check');
    expect(lines.length).toBeGreaterThan(5);
    expect(new Set(lines.map((l) => l['front']))).toEqual(
      new Set(['nginx', 'forwarded', 'envoy', undefined]),
    );
    expect(JSON.stringify(lines)).not.toContain('size=big');
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /oauth_gateway_authorize_checks_total\{route="photos",status="200",auth_method="oauth1",front="nginx"\} 1/,
    );
    expect(metrics).toMatch(
      /oauth_gateway_authorize_checks_total\{route="photos",status="200",auth_method="oauth1",front="envoy"\} 1/,
    );
  });
});

describe('authorize listener trust', () => {
  it('forged X-Forwarded-Uri from a peer that is not a trusted proxy → 403 untrusted_peer, even with valid credentials', async () => {
    const upstream = await startUpstream();
    const make = (trustedProxies: string[]) =>
      startTestGateway({
        config: {
          trustedProxies,
          authorize: { listen: { host: '0.0.0.0', port: 0 } },
          routes: ROUTES(upstream.url),
        },
        credentials: credentialsFile(),
      });
    const untrusting = await make([]);
    const trusting = await make(['127.0.0.1/32']);
    try {
      const described = {
        Host: 'g',
        'X-Forwarded-Method': 'GET',
        'X-Forwarded-Host': 'api.test',
        'X-Forwarded-Uri': '/feed/x',
        Authorization: `Bearer ${BEARER.accessToken}`,
      };
      const refused = await check(untrusting.authorizePort!, described);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body).error).toBe('untrusted_peer');
      expect(refused.headers['x-oauth-user']).toBeUndefined();
      const allowed = await check(trusting.authorizePort!, described);
      expect(allowed.status).toBe(200);
    } finally {
      await untrusting.stop();
      await trusting.stop();
      await upstream.close();
    }
  });
});

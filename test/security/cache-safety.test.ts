import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import {
  type AuthorizationServer,
  GATEWAY_CLIENT,
  startAuthorizationServer,
} from '../introspect/helpers/authorization-server.js';
import { credentialsFile } from './helpers/credentials.js';
import { sleep, Tally } from './helpers/tally.js';

/**
 * Cached-decision attacks (the Oathkeeper class): the token cache must hold facts about a token,
 * never a route's verdict, so a token cached while serving route A (scope a) cannot then pass route
 * B (scope b); a revoked token stops within the documented bound; nothing is served past `exp`.
 */

const agent = new Agent({ keepAliveTimeout: 1_000, connections: 32 });
afterAll(() => agent.close());

async function get(origin: string, path: string, token: string): Promise<number> {
  const res = await agent.request({
    origin,
    path,
    method: 'GET',
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.body.text();
  if (res.statusCode === 400 || res.statusCode >= 500)
    console.log('[cache-safety] %s %d %s', path, res.statusCode, text);
  return res.statusCode;
}

const sha256Hex = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

function routes(upstream: string) {
  return [
    { name: 'a', match: { pathPrefix: '/a' }, upstream, auth: 'oauth2', scopes: ['read'] },
    { name: 'b', match: { pathPrefix: '/b' }, upstream, auth: 'oauth2', scopes: ['write'] },
    { name: 'ab', match: { pathPrefix: '/ab' }, upstream, auth: 'oauth2', scopes: ['read', 'write'] },
    {
      name: 'aud',
      match: { pathPrefix: '/aud' },
      upstream,
      auth: 'oauth2',
      audience: 'https://other.example',
    },
    { name: 'any', match: { pathPrefix: '/any' }, upstream, auth: 'oauth2' },
  ];
}

describe('cache safety', () => {
  let upstream: TestUpstream;
  let as: AuthorizationServer;

  beforeAll(async () => {
    upstream = await startUpstream();
    as = await startAuthorizationServer();
  });
  afterAll(async () => {
    await upstream?.close();
    await as?.close();
  });

  type Source = 'store' | 'introspection' | 'jwt';
  const sources: Source[] = ['store', 'introspection', 'jwt'];

  function oauth2For(source: Source): Record<string, unknown> {
    if (source === 'store') return { tokenSources: ['store'] };
    if (source === 'introspection')
      return {
        tokenSources: ['introspection'],
        introspection: {
          url: as.introspectionUrl,
          clientId: GATEWAY_CLIENT.clientId,
          clientSecret: GATEWAY_CLIENT.clientSecret,
        },
      };
    return { tokenSources: ['jwt'], jwt: { jwksUri: as.jwksUri, issuer: as.issuer, clockTolerance: 0 } };
  }

  /** Tokens with scope read, scope write, and read+write bound to another audience, per source. */
  async function tokensFor(source: Source): Promise<{ read: string; write: string; both: string }> {
    if (source === 'store') return { read: 'tokenScopeRead', write: 'tokenScopeWrite', both: 'tokenAudA' };
    const resource = source === 'jwt' ? 'jwt' : 'opaque';
    return {
      read: await as.getToken({ resource, scope: 'read' }),
      write: await as.getToken({ resource, scope: 'write' }),
      both: await as.getToken({ resource, scope: 'read write' }),
    };
  }

  for (const source of sources) {
    it(`${source}: a token cached for route A's scope never satisfies route B's`, async () => {
      const now = Math.floor(Date.now() / 1000);
      const gw = await startTestGateway({
        config: { oauth2: oauth2For(source), routes: routes(upstream.url) },
        credentials: {
          bearerTokens: [
            {
              accessToken: 'tokenScopeRead',
              clientId: 'c',
              userId: 'u',
              scope: 'read',
              issuedAt: now,
              expiresIn: 0,
            },
            {
              accessToken: 'tokenScopeWrite',
              clientId: 'c',
              userId: 'u',
              scope: 'write',
              issuedAt: now,
              expiresIn: 0,
            },
            {
              accessToken: 'tokenAudA',
              clientId: 'c',
              scope: 'read write',
              audience: 'https://a.example',
              issuedAt: now,
              expiresIn: 0,
            },
          ],
        },
      });
      try {
        const tally = new Tally(`cache-safety:scopes:${source}`);
        const t = await tokensFor(source);
        const expectations: [string, string, number][] = [
          ['/a/x', t.read, 200],
          ['/b/x', t.read, 403],
          ['/ab/x', t.read, 403],
          ['/b/x', t.write, 200],
          ['/a/x', t.write, 403],
          ['/ab/x', t.write, 403],
          ['/ab/x', t.both, 200],
          ['/aud/x', t.both, 401],
          ['/aud/x', t.read, 401],
          ['/any/x', t.read, 200],
        ];
        // Many rounds, alternating order, so every (route, token) pair is tried cold and hot.
        const rounds = 20;
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? expectations : [...expectations].reverse();
          const statuses = await Promise.all(order.map(([path, token]) => get(gw.url, path, token)));
          order.forEach(([path, , expected], i) => {
            const got = statuses[i]!;
            if (got === expected) {
              if (got === 200) tally.pass();
              else tally.reject();
            } else tally.bypass(`round ${round}: token on ${path} → ${got}, want ${expected}`);
          });
        }
        const stats = gw.gateway.runtime.tokens.stats();
        tally.report({ cacheHits: stats.hits, backendCalls: stats.backendCalls });
        expect(tally.findings).toEqual([]);
        // Introspected and JWT answers are cached (store answers bypass the cache by design, so
        // credentials.cacheTtl stays the revocation bound): the verdicts above came from cache hits.
        if (source !== 'store') expect(stats.hits).toBeGreaterThan(rounds * expectations.length * 0.5);
      } finally {
        await gw.stop();
      }
    });
  }

  it('a token revoked in credentials.yaml stops at the reload that reads it', async () => {
    const gw = await startTestGateway({
      config: { routes: routes(upstream.url) },
      credentials: credentialsFile(),
    });
    try {
      const token = { accessToken: 'revokeMeFile', clientId: 'c', scope: 'read', issuedAt: 1, expiresIn: 0 };
      await gw.writeFiles({ credentials: credentialsFile([{ ...token, revoked: false }]) });
      expect(await gw.reload()).toBe(true);
      for (let i = 0; i < 5; i++) expect(await get(gw.url, '/a/x', token.accessToken)).toBe(200);
      await gw.writeFiles({ credentials: credentialsFile([{ ...token, revoked: true }]) });
      expect(await gw.reload()).toBe(true);
      expect(await get(gw.url, '/a/x', token.accessToken)).toBe(401);
      // Removed entirely (not just flagged): also gone at once.
      await gw.writeFiles({ credentials: credentialsFile([{ ...token, revoked: false }]) });
      expect(await gw.reload()).toBe(true);
      expect(await get(gw.url, '/a/x', token.accessToken)).toBe(200);
      await gw.writeFiles({ credentials: credentialsFile() });
      expect(await gw.reload()).toBe(true);
      expect(await get(gw.url, '/a/x', token.accessToken)).toBe(401);
      console.log('[cache-safety:revoked-file] variants=2 rejected=2 bypasses=0');
    } finally {
      await gw.stop();
    }
  });

  it('a token deleted or revoked in Redis stops within credentials.cacheTtl', async () => {
    const redisUrl = inject('redisUrl');
    const prefix = `sec-cache-${process.pid}-${Date.now()}:`;
    const redis = new Redis(redisUrl);
    const cacheTtlMs = 1_000;
    const commandTimeoutMs = 1_000;
    const gw = await startTestGateway({
      config: {
        redis: { url: redisUrl, keyPrefix: prefix, commandTimeout: '1s' },
        credentials: { type: 'redis', cacheTtl: '1s' },
        routes: routes(upstream.url),
      },
    });
    const tally = new Tally('cache-safety:revoked-redis');
    try {
      for (const how of ['delete', 'revoked=1'] as const) {
        const token = `redisToken-${how.replace('=', '')}-${Date.now()}`;
        const key = `${prefix}oauth2:token:${sha256Hex(token)}`;
        await redis.hset(key, {
          clientId: 'c',
          userId: 'u',
          scope: 'read',
          revoked: '0',
          issuedAt: String(Math.floor(Date.now() / 1000)),
          expiresIn: '0',
        });
        // Warm every cache with a stream of successful requests.
        for (let i = 0; i < 20; i++) expect(await get(gw.url, '/a/x', token)).toBe(200);
        if (how === 'delete') await redis.del(key);
        else await redis.hset(key, 'revoked', '1');
        const revokedAt = Date.now();
        let lastAccepted = revokedAt;
        for (;;) {
          const started = Date.now();
          const status = await get(gw.url, '/a/x', token);
          if (status === 200) lastAccepted = started;
          else if (status === 401) break;
          else throw new Error(`unexpected ${status}`);
          if (started - revokedAt > 15_000) break;
          await sleep(25);
        }
        const worked = lastAccepted - revokedAt;
        const bound = cacheTtlMs + commandTimeoutMs;
        if (worked > bound)
          tally.bypass(`${how}: still accepted ${worked} ms after revocation (bound ${bound} ms)`);
        else tally.reject();
        // …and stays refused.
        for (let i = 0; i < 5; i++) expect(await get(gw.url, '/a/x', token)).toBe(401);
        console.log('[cache-safety:revoked-redis] %s: accepted for %d ms after revocation', how, worked);
      }
      tally.report();
      expect(tally.findings).toEqual([]);
    } finally {
      await gw.stop();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  /** The token's exp as the AS itself states it (JWT claim, RFC 7662 answer), so the oracle is exact. */
  async function expOf(token: string): Promise<number> {
    const jwtPayload = token.split('.')[1];
    if (jwtPayload !== undefined)
      return (JSON.parse(Buffer.from(jwtPayload, 'base64url').toString()) as { exp: number }).exp;
    const basic = Buffer.from(
      `${encodeURIComponent(GATEWAY_CLIENT.clientId)}:${encodeURIComponent(GATEWAY_CLIENT.clientSecret)}`,
    ).toString('base64');
    const res = await fetch(as.introspectionUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    return ((await res.json()) as { exp: number }).exp;
  }

  for (const source of sources) {
    it(`${source}: a cached token is never served past its exp`, async () => {
      const ttl = 2;
      let token = 'shortLived';
      let expMs: number;
      const credentials: Record<string, unknown> = {};
      if (source === 'store') {
        const issuedAt = Math.floor(Date.now() / 1000);
        expMs = (issuedAt + ttl) * 1000;
        credentials['bearerTokens'] = [
          { accessToken: token, clientId: 'c', scope: 'read', issuedAt, expiresIn: ttl },
        ];
      } else {
        token = await as.getToken({
          resource: source === 'jwt' ? 'jwt' : 'opaque',
          scope: 'read',
          ttlSeconds: ttl,
        });
        expMs = (await expOf(token)) * 1000;
      }
      const gw = await startTestGateway({
        config: { oauth2: oauth2For(source), routes: routes(upstream.url) },
        credentials,
      });
      const tally = new Tally(`cache-safety:exp:${source}`);
      try {
        // Hammer it (so it is cached) until past exp, with no clock injection: real time only.
        while (Date.now() < expMs + 600) {
          const started = Date.now();
          const statuses = await Promise.all([1, 2, 3, 4].map(() => get(gw.url, '/a/x', token)));
          for (const status of statuses) {
            if (status === 200 && started >= expMs)
              tally.bypass(`200 for a request sent ${started - expMs} ms after exp`);
            else if (status === 200) tally.pass();
            else if (status === 401 && started >= expMs - 50) tally.reject();
            else tally.bypass(`status ${status} ${expMs - started} ms before exp`);
          }
          await sleep(10);
        }
        tally.report({ cacheHits: gw.gateway.runtime.tokens.stats().hits });
        expect(tally.findings).toEqual([]);
        expect(tally.passed).toBeGreaterThan(0);
        expect(tally.rejected).toBeGreaterThan(0);
        if (source !== 'store') expect(gw.gateway.runtime.tokens.stats().hits).toBeGreaterThan(10);
      } finally {
        await gw.stop();
      }
    });
  }
});

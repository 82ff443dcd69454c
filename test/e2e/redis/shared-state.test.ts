import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signOAuth1Request } from '../../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import {
  type AuthorizationServer,
  GATEWAY_CLIENT,
  SERVICE_CLIENT,
  startAuthorizationServer,
} from '../../introspect/helpers/authorization-server.js';
import {
  bearer,
  errorCode,
  expectBearerError,
  receivedIdentity,
  send,
  sha256Hex,
  sleep,
  until,
} from '../oauth2/support.js';

/**
 * Two gateways sharing one Redis, as replicas behind a load balancer would. The test writes
 * credentials the way an authorization server would (DESIGN.md "Redis layout", plain ioredis
 * HSET), and observes what both gateways do with them: shared records, revocation by deleting a
 * key within the documented bound, OAuth1 replays across replicas, and the shared introspection
 * cache (one AS call for N replicas).
 */

const KEY_PREFIX = `e2e-shared-state:${randomUUID()}:`;
const CACHE_TTL_MS = 500;
/** Slack on top of a TTL bound: one Redis round trip plus timer and scheduling jitter. */
const MARGIN_MS = 250;
const INTROSPECT_PATH = '/token/introspection';
const L1_MAX_TTL_MS = 1_500;

const OAUTH1_CLIENT = { clientId: 'replica-consumer', clientSecret: 'replica-consumer-secret' };
const OAUTH1_TOKEN = {
  token: 'replica-token',
  tokenSecret: 'replica-token-secret',
  clientId: OAUTH1_CLIENT.clientId,
  userId: 'bob',
  scope: 'photos:read',
};

describe('shared state in Redis across two gateways', () => {
  const redisUrl = inject('redisUrl');
  let writer: Redis;
  let upstream: TestUpstream;

  beforeAll(async () => {
    writer = new Redis(redisUrl);
    upstream = await startUpstream();
  });
  afterAll(async () => {
    const keys = await writer.keys(`${KEY_PREFIX}*`);
    if (keys.length > 0) await writer.del(...keys);
    writer.disconnect();
    await upstream?.close();
  });

  /** An Authlib-style OAuth2Token record under `oauth2:token:{sha256hex(token)}`. */
  async function writeBearer(token: string, fields: Record<string, string> = {}): Promise<string> {
    const key = `${KEY_PREFIX}oauth2:token:${sha256Hex(token)}`;
    await writer.hset(key, {
      clientId: 'redis-client',
      userId: 'alice',
      scope: 'photos:read photos:write',
      revoked: '0',
      issuedAt: String(Math.floor(Date.now() / 1000) - 10),
      expiresIn: '3600',
      ...fields,
    });
    return key;
  }

  describe('credentials.type: redis (store records written by the AS)', () => {
    let one: TestGateway;
    let two: TestGateway;

    beforeAll(async () => {
      await writer.hset(`${KEY_PREFIX}oauth1:client:${OAUTH1_CLIENT.clientId}`, OAUTH1_CLIENT);
      await writer.hset(`${KEY_PREFIX}oauth1:token:${OAUTH1_TOKEN.token}`, OAUTH1_TOKEN);
      const config = {
        redis: { url: redisUrl, keyPrefix: KEY_PREFIX, commandTimeout: '500ms' },
        credentials: { type: 'redis', cacheTtl: `${CACHE_TTL_MS}ms` },
        oauth1: { nonceStore: 'redis' },
        oauth2: { tokenSources: ['store'] },
        routes: [
          { name: 'api', match: { pathPrefix: '/api' }, upstream: upstream.url, auth: 'oauth2' },
          { name: 'photos', match: { pathPrefix: '/photos' }, upstream: upstream.url, auth: 'oauth1' },
        ],
      };
      one = await startTestGateway({ config });
      two = await startTestGateway({ config });
    });
    afterAll(async () => {
      await one?.stop();
      await two?.stop();
    });

    it('a bearer record written to Redis is honoured by both gateways, with its identity', async () => {
      const token = `bearer-${randomBytes(8).toString('hex')}`;
      await writeBearer(token);
      for (const gw of [one, two]) {
        const before = upstream.requests.length;
        const reply = await send(gw.url, '/api/x', { headers: bearer(token) });
        expect(reply.status).toBe(200);
        expect(receivedIdentity(upstream.requests[before]!)).toMatchObject({
          user: ['alice'],
          client: ['redis-client'],
          scope: ['photos:read photos:write'],
          method: ['oauth2'],
        });
      }
    });

    it('revoked: "1" and expired records → 401 on both', async () => {
      const revoked = `revoked-${randomBytes(8).toString('hex')}`;
      const expired = `expired-${randomBytes(8).toString('hex')}`;
      await writeBearer(revoked, { revoked: '1' });
      await writeBearer(expired, { issuedAt: '1700000000', expiresIn: '60' });
      for (const gw of [one, two]) {
        for (const token of [revoked, expired]) {
          expectBearerError(
            await send(gw.url, '/api/x', { headers: bearer(token) }),
            401,
            'invalid_token',
            'oauth-gateway',
          );
        }
      }
    });

    it(`deleting the key revokes the token on both gateways within credentials.cacheTtl (${CACHE_TTL_MS} ms)`, async () => {
      const token = `deleted-${randomBytes(8).toString('hex')}`;
      const key = await writeBearer(token);
      // Both gateways have the token cached right before the delete: the worst case for the bound.
      for (const gw of [one, two])
        expect((await send(gw.url, '/api/x', { headers: bearer(token) })).status).toBe(200);

      await writer.del(key);
      const deletedAt = performance.now();
      const revokedAfter: number[] = [];
      for (const gw of [one, two]) {
        const statuses: number[] = [];
        for (;;) {
          const reply = await send(gw.url, '/api/x', { headers: bearer(token) });
          statuses.push(reply.status);
          if (reply.status !== 200) {
            expectBearerError(reply, 401, 'invalid_token', 'oauth-gateway');
            break;
          }
          if (performance.now() - deletedAt > 10_000) break;
          await sleep(20);
        }
        revokedAfter.push(performance.now() - deletedAt);
        // Once refused, refused for good.
        for (let i = 0; i < 3; i++) {
          expect((await send(gw.url, '/api/x', { headers: bearer(token) })).status).toBe(401);
        }
      }
      console.log(
        'revocation by DEL: 401 after %j ms (bound cacheTtl %d ms + margin %d)',
        revokedAfter.map(Math.round),
        CACHE_TTL_MS,
        MARGIN_MS,
      );
      for (const elapsed of revokedAfter) expect(elapsed).toBeLessThanOrEqual(CACHE_TTL_MS + MARGIN_MS);
    });

    it('an OAuth1 nonce used on one gateway is a replay on the other (Redis nonce store)', async () => {
      const { host } = new URL(one.url);
      const sign = () =>
        signOAuth1Request({
          method: 'GET',
          url: `${one.url}/photos/1`,
          consumerKey: OAUTH1_CLIENT.clientId,
          consumerSecret: OAUTH1_CLIENT.clientSecret,
          token: OAUTH1_TOKEN.token,
          tokenSecret: OAUTH1_TOKEN.tokenSecret,
        });
      const authorization = sign();
      // Same Host on both, as behind one load-balanced name: the signature is valid on either.
      const headers = { authorization, host };
      expect((await send(one.url, '/photos/1', { headers })).status).toBe(200);
      const replay = await send(two.url, '/photos/1', { headers });
      expect(replay.status).toBe(401);
      expect(errorCode(replay)).toBe('invalid_nonce');
      // Control: a fresh nonce with the same Host passes on the second gateway.
      expect((await send(two.url, '/photos/1', { headers: { authorization: sign(), host } })).status).toBe(
        200,
      );
    });
  });

  describe('oauth2.introspection.cache.shared: true (Redis L2)', () => {
    let as: AuthorizationServer;
    let one: TestGateway;
    let two: TestGateway;

    beforeAll(async () => {
      as = await startAuthorizationServer();
      const config = {
        redis: { url: redisUrl, keyPrefix: KEY_PREFIX, commandTimeout: '500ms' },
        oauth2: {
          tokenSources: ['introspection'],
          introspection: {
            url: as.introspectionUrl,
            clientId: GATEWAY_CLIENT.clientId,
            clientSecret: GATEWAY_CLIENT.clientSecret,
            cache: { shared: true, maxTtl: `${L1_MAX_TTL_MS}ms` },
          },
        },
        routes: [{ name: 'api', match: { pathPrefix: '/api' }, upstream: upstream.url, auth: 'oauth2' }],
      };
      one = await startTestGateway({ config });
      two = await startTestGateway({ config });
    });
    afterAll(async () => {
      await one?.stop();
      await two?.stop();
      await as?.close();
    });

    const sharedKey = (token: string) => `${KEY_PREFIX}introspect:${sha256Hex(token)}`;

    /** Caches `token` through `gw` and waits until its L2 entry is in Redis (the write is not awaited by the request). */
    async function warm(gw: TestGateway, token: string): Promise<{ sentAt: number; answeredAt: number }> {
      const sentAt = performance.now();
      expect((await send(gw.url, '/api/x', { headers: bearer(token) })).status).toBe(200);
      const answeredAt = performance.now();
      await until(async () => (await writer.exists(sharedKey(token))) === 1, 2_000, 'the L2 entry');
      return { sentAt, answeredAt };
    }

    it('gateway 1 then gateway 2, same token → exactly one introspection call at the AS', async () => {
      const token = await as.getToken({ resource: 'opaque', scope: 'read' });
      const before = as.requests(INTROSPECT_PATH);
      await warm(one, token);
      expect(as.requests(INTROSPECT_PATH) - before).toBe(1);

      // L2 entry: hashed key (never the raw token), TTL as L1.
      const ttl = await writer.pttl(sharedKey(token));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(L1_MAX_TTL_MS);
      expect(await writer.keys(`${KEY_PREFIX}*${token}*`)).toEqual([]);

      const beforeTwo = upstream.requests.length;
      expect((await send(two.url, '/api/x', { headers: bearer(token) })).status).toBe(200);
      expect(receivedIdentity(upstream.requests[beforeTwo]!)).toMatchObject({
        user: [],
        client: [SERVICE_CLIENT.clientId],
        scope: ['read'],
      });
      console.log(
        'shared L2: introspection calls for two gateways = %d',
        as.requests(INTROSPECT_PATH) - before,
      );
      expect(as.requests(INTROSPECT_PATH) - before).toBe(1);
    });

    /**
     * Bounds: deleting `introspect:{sha256hex}` pushes a revocation to every replica that does not
     * hold the token in its in-process L1; a replica that does keeps serving it until its L1 entry
     * expires, i.e. at most min(exp − now, introspection.cache.maxTtl) after it was cached.
     */
    it('revocation pushed by deleting the L2 key; replicas holding it in L1 stop within the L1 TTL', async () => {
      const pushed = await as.getToken({ resource: 'opaque', scope: 'read' });
      const control = await as.getToken({ resource: 'opaque', scope: 'read' });
      const cachedAt = await warm(one, pushed);
      await warm(one, control);
      await as.revoke(pushed);
      await as.revoke(control);
      await writer.del(sharedKey(pushed));

      // Gateway 2 never saw either token: the control is still served from the (stale) L2 without
      // asking the AS — which is exactly what the delete fixes for the pushed one.
      const before = as.requests(INTROSPECT_PATH);
      expect((await send(two.url, '/api/x', { headers: bearer(control) })).status).toBe(200);
      expect(as.requests(INTROSPECT_PATH)).toBe(before);
      expectBearerError(
        await send(two.url, '/api/x', { headers: bearer(pushed) }),
        401,
        'invalid_token',
        'oauth-gateway',
      );
      expect(as.requests(INTROSPECT_PATH)).toBe(before + 1);

      // Gateway 1 holds `pushed` in L1: 200 until that entry expires, then 401.
      const timeline: { at: number; status: number }[] = [];
      for (;;) {
        const status = (await send(one.url, '/api/x', { headers: bearer(pushed) })).status;
        timeline.push({ at: performance.now(), status });
        if (status !== 200 || performance.now() - cachedAt.sentAt > 10_000) break;
        await sleep(25);
      }
      const stoppedAfter = timeline.at(-1)!.at - cachedAt.answeredAt;
      console.log(
        'L1 bound: gateway 1 served the revoked token %d more times, 401 %d ms after caching it (maxTtl %d ms)',
        timeline.length - 1,
        Math.round(stoppedAfter),
        L1_MAX_TTL_MS,
      );
      expect(timeline.at(-1)!.status).toBe(401);
      expect(stoppedAfter).toBeLessThanOrEqual(L1_MAX_TTL_MS + MARGIN_MS);
      // It really was serving from L1 (not asking the AS) until then.
      expect(timeline.length).toBeGreaterThan(1);
    });
  });
});

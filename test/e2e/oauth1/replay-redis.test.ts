import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { signOAuth1Request } from '../../../src/oauth1-client/sign.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import {
  ALICE,
  CLIENT,
  expectForwarded,
  expectIdentity,
  expectRejected,
  type Reply,
  startWorld,
  TOKEN,
  type World,
} from './world.js';

/**
 * Replicas agree on replays through Redis (DESIGN "Scale-out"): two gateway instances share one
 * real Redis and one upstream. Requests are signed for the public name `api.example.com` and sent
 * with that Host header to either instance, exactly as a load balancer would spread them.
 * Also the Redis credential store, written the way an authorization server would (DESIGN layout).
 */

const redisUrl = inject('redisUrl');
const prefix = `oauth1-e2e-${randomUUID()}:`;
const PUBLIC_HOST = 'api.example.com';

let redis: Redis;
let upstream: TestUpstream;
let gw1: World;
let gw2: World;

function redisConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { redis: { url: redisUrl, keyPrefix: prefix }, ...extra };
}

beforeAll(async () => {
  redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  upstream = await startUpstream();
  gw1 = await startWorld({ upstream, oauth1: { nonceStore: 'redis' }, config: redisConfig() });
  gw2 = await startWorld({ upstream, oauth1: { nonceStore: 'redis' }, config: redisConfig() });
});

afterAll(async () => {
  await gw1?.close();
  await gw2?.close();
  await upstream?.close();
  if (redis !== undefined) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

interface SignedRequest {
  readonly target: string;
  readonly authorization: string;
  readonly nonce: string;
  readonly timestamp: number;
}

function signForPublicHost(
  target: string,
  credentials: { consumerKey: string; consumerSecret: string; token?: string; tokenSecret?: string } = {
    consumerKey: CLIENT.clientId,
    consumerSecret: CLIENT.clientSecret,
    token: TOKEN.token,
    tokenSecret: TOKEN.tokenSecret,
  },
): SignedRequest {
  const nonce = randomUUID();
  const timestamp = Math.floor(Date.now() / 1000);
  const authorization = signOAuth1Request({
    method: 'GET',
    url: `http://${PUBLIC_HOST}${target}`,
    ...credentials,
    nonce,
    timestamp,
  });
  return { target, authorization, nonce, timestamp };
}

function sendVia(world: World, request: SignedRequest): Promise<Reply> {
  return world.send(request.target, { headers: { host: PUBLIC_HOST, authorization: request.authorization } });
}

describe('nonceStore: redis shared by two gateway instances', () => {
  test('accepted by gateway 1, the identical request replayed to gateway 2 → 401 invalid_nonce', async () => {
    const before = upstream.requests.length;
    const request = signForPublicHost('/photos/replica?size=large');
    const first = await sendVia(gw1, request);
    const record = expectForwarded(first, upstream, before + 1);
    expectIdentity(record, ALICE);

    // The claim is in Redis under the DESIGN key, expiring after at least 2 × the 300 s window.
    const key = `${prefix}oauth1:nonce:${CLIENT.clientId}:${TOKEN.token}:${request.timestamp}:${request.nonce}`;
    expect(await redis.get(key)).toBe('1');
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000 + 1_000);

    const replay = await sendVia(gw2, request);
    expectRejected(replay, 401, 'invalid_nonce', 'nonce_used');
    const replayAgain = await sendVia(gw1, request);
    expectRejected(replayAgain, 401, 'invalid_nonce', 'nonce_used');
    expect(upstream.requests).toHaveLength(before + 1);
  });

  test('50 concurrent copies of one signed request across both gateways → exactly one 200', async () => {
    const before = upstream.requests.length;
    const request = signForPublicHost('/photos/race');
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sendVia(i % 2 === 0 ? gw1 : gw2, request)),
    );
    const statuses = replies.map((reply) => reply.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 401)).toHaveLength(49);
    for (const reply of replies) {
      if (reply.status !== 200) expectRejected(reply, 401, 'invalid_nonce', 'nonce_used');
    }
    expect(upstream.requests).toHaveLength(before + 1);
  });

  test('distinct nonces are all accepted, on either gateway', async () => {
    const before = upstream.requests.length;
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sendVia(i % 2 === 0 ? gw1 : gw2, signForPublicHost(`/photos/many/${i}`)),
      ),
    );
    expect(replies.map((reply) => reply.status)).toEqual(Array(20).fill(200));
    expect(upstream.requests).toHaveLength(before + 20);
  });
});

describe('credentials.type: redis (records written by the authorization server)', () => {
  const client = { clientId: 'redis-app', clientSecret: 'redis-app-secret é&' };
  const token = {
    token: 'redis-token',
    tokenSecret: 'redis-token-secret',
    clientId: client.clientId,
    userId: 'erin',
    scope: 'photos:read albums:write',
  };
  const creds = {
    consumerKey: client.clientId,
    consumerSecret: client.clientSecret,
    token: token.token,
    tokenSecret: token.tokenSecret,
  };
  let world: World;

  beforeAll(async () => {
    await redis.hset(`${prefix}oauth1:client:${client.clientId}`, client);
    await redis.hset(`${prefix}oauth1:token:${token.token}`, token);
    world = await startWorld({
      upstream,
      config: redisConfig({ credentials: { type: 'redis', cacheTtl: '500ms' } }),
    });
  });
  afterAll(async () => {
    await world?.close();
  });

  test('a client and token read from Redis hashes authenticate, with their user and scope', async () => {
    const before = upstream.requests.length;
    const reply = await sendVia(world, signForPublicHost('/photos/from-redis', creds));
    const record = expectForwarded(reply, upstream, before + 1);
    expectIdentity(record, { user: 'erin', clientId: client.clientId, scope: 'photos:read albums:write' });
  });

  test('two-legged with a Redis client record', async () => {
    const before = upstream.requests.length;
    const reply = await sendVia(
      world,
      signForPublicHost('/photos/two-legged', {
        consumerKey: client.clientId,
        consumerSecret: client.clientSecret,
      }),
    );
    const record = expectForwarded(reply, upstream, before + 1);
    expectIdentity(record, { user: undefined, clientId: client.clientId, scope: '' });
  });

  test('a client that is not in Redis → 401 invalid_client', async () => {
    const reply = await sendVia(
      world,
      signForPublicHost('/photos', { consumerKey: 'absent-app', consumerSecret: 'whatever' }),
    );
    expectRejected(reply, 401, 'invalid_client', 'consumer_key_unknown');
  });

  test('deleting the token key revokes it within credentials.cacheTtl (500 ms)', async () => {
    const warm = await sendVia(world, signForPublicHost('/photos/warm', creds));
    expect(warm.status).toBe(200);

    await redis.del(`${prefix}oauth1:token:${token.token}`);
    const deletedAt = performance.now();
    // A cached answer may be served for up to cacheTtl (500 ms) after the record is gone; a
    // request that starts after that (plus a little slack for the Redis round trip) must fail.
    const waitMs = deletedAt + 500 + 100 - performance.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    const rejected = await sendVia(world, signForPublicHost('/photos/after-delete', creds));
    expectRejected(rejected, 401, 'invalid_token', 'token_rejected');

    // And it stays rejected.
    const later = await sendVia(world, signForPublicHost('/photos/after-delete', creds));
    expectRejected(later, 401, 'invalid_token', 'token_rejected');
  });
});

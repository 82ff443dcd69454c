import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TemporarilyUnavailable } from '../../src/errors.js';
import { createRedisClient, RedisCredentialStore, RedisNonceStore } from '../../src/store/redis.js';
import { freePort } from '../helpers/ports.js';
import { OwnRedisServer, waitFor } from '../helpers/redis-server.js';
import { nonceClaim, testRedisConfig } from './support.js';

/**
 * Fail closed, heal by itself: with Redis gone every decision that needs it rejects with
 * TemporarilyUnavailable (→ 503) quickly, cached answers keep working, and once Redis is back the
 * same store objects work again.
 */

const COMMAND_TIMEOUT = 500;
/** commandTimeout + margin: nothing may hang longer than this. */
const QUICK = COMMAND_TIMEOUT + 1000;

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');

async function timed<T>(
  operation: () => Promise<T>,
): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
  const start = performance.now();
  const [result] = await Promise.allSettled([operation()]);
  return { ms: performance.now() - start, result: result! };
}

function expectUnavailable(outcome: { ms: number; result: PromiseSettledResult<unknown> }): void {
  expect(outcome.result.status).toBe('rejected');
  if (outcome.result.status === 'rejected')
    expect(outcome.result.reason).toBeInstanceOf(TemporarilyUnavailable);
  expect(outcome.ms).toBeLessThan(QUICK);
}

async function seed(url: string, prefix: string): Promise<void> {
  const writer = new Redis(url);
  await writer.hset(`${prefix}oauth1:client:c1`, { clientId: 'c1', clientSecret: 'secret-1' });
  await writer.hset(`${prefix}oauth1:client:c2`, { clientId: 'c2', clientSecret: 'secret-2' });
  await writer.hset(`${prefix}oauth2:token:${sha256Hex('bearer-1')}`, {
    clientId: 'c1',
    revoked: '0',
    issuedAt: '1700000000',
    expiresIn: '0',
  });
  writer.disconnect();
}

describe('Redis down', () => {
  const servers: OwnRedisServer[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers) await close();
    for (const server of servers) await server.kill();
  });

  it('rejects claims and uncached lookups quickly, keeps cached answers, and recovers on restart', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const config = testRedisConfig(server.url, { commandTimeout: COMMAND_TIMEOUT });
    const redis = createRedisClient(config);
    closers.push(() => redis.close());
    const nonces = new RedisNonceStore(redis);
    const credentials = new RedisCredentialStore(redis, { cacheTtlMs: 60_000 });
    await seed(server.url, config.keyPrefix);

    expect(await nonces.claim(nonceClaim('c1:t:1:before'))).toBe('fresh');
    expect(await credentials.getClient('c1')).toMatchObject({ clientSecret: 'secret-1' });
    expect(await credentials.getBearerToken('bearer-1')).toMatchObject({ clientId: 'c1' });
    expect(await redis.ping()).toBe(true);

    await server.kill();

    expectUnavailable(await timed(() => nonces.claim(nonceClaim('c1:t:1:during'))));
    // A replay of the nonce claimed before the outage must not slip through either.
    expectUnavailable(await timed(() => nonces.claim(nonceClaim('c1:t:1:before'))));
    expectUnavailable(await timed(() => credentials.getClient('c2')));
    expectUnavailable(await timed(() => credentials.getToken('any-token')));
    expectUnavailable(await timed(() => credentials.getBearerToken('bearer-2')));

    // Under load: every claim fails closed, none is accepted, none hangs.
    const burst = await timed(() =>
      Promise.allSettled(
        Array.from({ length: 200 }, (_, i) => nonces.claim(nonceClaim(`c1:t:1:burst-${i}`))),
      ),
    );
    expect(burst.ms).toBeLessThan(QUICK);
    const outcomes = burst.result.status === 'fulfilled' ? burst.result.value : [];
    expect(outcomes).toHaveLength(200);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(TemporarilyUnavailable);
    }

    // Cached within cacheTtl: still answered without Redis.
    expect(await credentials.getClient('c1')).toMatchObject({ clientSecret: 'secret-1' });
    expect(await credentials.getBearerToken('bearer-1')).toMatchObject({ clientId: 'c1' });

    const ping = await timed(() => redis.ping());
    expect(ping.result).toEqual({ status: 'fulfilled', value: false });
    expect(ping.ms).toBeLessThan(QUICK);
    // isReady() follows ioredis's status, which flips when the socket's close event is handled.
    expect(await waitFor(async () => !redis.isReady(), 1000)).toBe(true);

    // Same port, empty server (no persistence): the same store objects work again.
    await server.start();
    expect(await waitFor(() => redis.ping(), 5000)).toBe(true);
    await seed(server.url, config.keyPrefix);
    expect(await nonces.claim(nonceClaim('c1:t:1:after'))).toBe('fresh');
    expect(await nonces.claim(nonceClaim('c1:t:1:after'))).toBe('replayed');
    expect(await credentials.getClient('c2')).toMatchObject({ clientSecret: 'secret-2' });
  });

  it('times out against a hung server (socket open, no replies) and recovers when it resumes', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const redis = createRedisClient(testRedisConfig(server.url, { commandTimeout: COMMAND_TIMEOUT }));
    closers.push(() => redis.close());
    const nonces = new RedisNonceStore(redis);
    const credentials = new RedisCredentialStore(redis, { cacheTtlMs: 60_000 });
    expect(await nonces.claim(nonceClaim('k:hung-before'))).toBe('fresh');

    server.pause();
    try {
      const claim = await timed(() => nonces.claim(nonceClaim('k:hung-during')));
      expectUnavailable(claim);
      expect(claim.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT - 50);
      expectUnavailable(await timed(() => credentials.getClient('c9')));
    } finally {
      server.resume();
    }
    expect(await waitFor(() => redis.ping(), 5000)).toBe(true);
    expect(await nonces.claim(nonceClaim('k:hung-after'))).toBe('fresh');
  });

  it('fails closed when Redis is down at start-up and connects once it comes up', async () => {
    const port = await freePort();
    const redis = createRedisClient(
      testRedisConfig(`redis://127.0.0.1:${port}`, { commandTimeout: COMMAND_TIMEOUT }),
    );
    closers.push(() => redis.close());
    const nonces = new RedisNonceStore(redis);

    expectUnavailable(await timed(() => nonces.claim(nonceClaim('k:startup-down'))));
    expect(await redis.ping()).toBe(false);

    const server = await OwnRedisServer.start(port);
    servers.push(server);
    expect(await waitFor(() => redis.ping(), 5000)).toBe(true);
    expect(await nonces.claim(nonceClaim('k:startup-up'))).toBe('fresh');
  });
});

describe('revocation through the shared Redis', () => {
  const CACHE_TTL = 200;
  const config = testRedisConfig(inject('redisUrl'));
  const redis = createRedisClient(config);
  const writer = new Redis(config.url);
  afterAll(async () => {
    writer.disconnect();
    await redis.close();
  });

  /** Polls until `check` holds; returns how long it took. */
  async function msUntil(check: () => Promise<boolean>): Promise<number> {
    const start = performance.now();
    expect(await waitFor(check, CACHE_TTL * 5, 10)).toBe(true);
    return performance.now() - start;
  }

  it('stops answering a deleted bearer token within cacheTtl', async () => {
    const store = new RedisCredentialStore(redis, { cacheTtlMs: CACHE_TTL });
    const key = `${config.keyPrefix}oauth2:token:${sha256Hex('to-delete')}`;
    await writer.hset(key, { clientId: 'c', issuedAt: '1', expiresIn: '0' });
    expect(await store.getBearerToken('to-delete')).toMatchObject({ clientId: 'c' });

    await writer.del(key);
    // Cached for a while (that is the point of the cache), but never past the bound.
    expect(await store.getBearerToken('to-delete')).toBeDefined();
    const ms = await msUntil(async () => (await store.getBearerToken('to-delete')) === undefined);
    expect(ms).toBeLessThanOrEqual(CACHE_TTL + 100);
  });

  it('reports revoked: true within cacheTtl after the flag is set', async () => {
    const store = new RedisCredentialStore(redis, { cacheTtlMs: CACHE_TTL });
    const key = `${config.keyPrefix}oauth2:token:${sha256Hex('to-revoke')}`;
    await writer.hset(key, { clientId: 'c', revoked: 'false', issuedAt: '1', expiresIn: '0' });
    expect(await store.getBearerToken('to-revoke')).toMatchObject({ revoked: false });

    await writer.hset(key, 'revoked', 'true');
    const ms = await msUntil(async () => (await store.getBearerToken('to-revoke'))?.revoked === true);
    expect(ms).toBeLessThanOrEqual(CACHE_TTL + 100);
  });

  it('stops answering a deleted OAuth1 client within cacheTtl', async () => {
    const store = new RedisCredentialStore(redis, { cacheTtlMs: CACHE_TTL });
    const key = `${config.keyPrefix}oauth1:client:gone`;
    await writer.hset(key, { clientId: 'gone', clientSecret: 's' });
    expect(await store.getClient('gone')).toBeDefined();
    await writer.del(key);
    const ms = await msUntil(async () => (await store.getClient('gone')) === undefined);
    expect(ms).toBeLessThanOrEqual(CACHE_TTL + 100);
  });

  it('sees a newly written record within cacheTtl even after caching its absence', async () => {
    const store = new RedisCredentialStore(redis, { cacheTtlMs: CACHE_TTL });
    expect(await store.getToken('late-token')).toBeUndefined();
    await writer.hset(`${config.keyPrefix}oauth1:token:late-token`, {
      token: 'late-token',
      tokenSecret: 'ts',
      clientId: 'c',
    });
    expect(await store.getToken('late-token')).toBeUndefined(); // negative answer cached
    const ms = await msUntil(async () => (await store.getToken('late-token')) !== undefined);
    expect(ms).toBeLessThanOrEqual(CACHE_TTL + 100);
  });

  it('with cacheTtl 0 sees a deletion at once', async () => {
    const store = new RedisCredentialStore(redis, { cacheTtlMs: 0 });
    const key = `${config.keyPrefix}oauth1:client:uncached`;
    await writer.hset(key, { clientId: 'uncached', clientSecret: 's' });
    expect(await store.getClient('uncached')).toBeDefined();
    await writer.del(key);
    expect(await store.getClient('uncached')).toBeUndefined();
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MemoryNonceStore } from '../../src/store/memory.js';
import { createRedisClient, RedisNonceStore } from '../../src/store/redis.js';
import type { NonceStore } from '../../src/store/types.js';
import { testRedisConfig } from './support.js';

/** One behaviour, two implementations: every replica must judge replays the same way. */

const redis = createRedisClient(testRedisConfig(inject('redisUrl')));
afterAll(() => redis.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Shaped like the verifier's key: clientId:token:timestamp:nonce. */
const nonceKey = (nonce = randomUUID()) => `client-1:token-1:1700000000:${nonce}`;

describe.each<[string, () => NonceStore]>([
  ['MemoryNonceStore', () => new MemoryNonceStore()],
  ['RedisNonceStore', () => new RedisNonceStore(redis)],
])('%s', (_name, createStore) => {
  const store = createStore();

  it('accepts the first claim of a key and rejects the second as a replay', async () => {
    const key = nonceKey();
    expect(await store.claim(key, 60_000)).toBe(true);
    expect(await store.claim(key, 60_000)).toBe(false);
    expect(await store.claim(key, 60_000)).toBe(false);
  });

  it('keeps keys that differ in any one component independent', async () => {
    const nonce = randomUUID();
    const keys = [
      `client-1:token-1:1700000000:${nonce}`,
      `client-2:token-1:1700000000:${nonce}`,
      `client-1:token-2:1700000000:${nonce}`,
      `client-1:token-1:1700000001:${nonce}`,
      `client-1::1700000000:${nonce}`,
    ];
    for (const key of keys) expect(await store.claim(key, 60_000)).toBe(true);
    for (const key of keys) expect(await store.claim(key, 60_000)).toBe(false);
  });

  it('forgets a claim once its ttl has passed, not before', async () => {
    const key = nonceKey();
    expect(await store.claim(key, 300)).toBe(true);
    await sleep(100);
    expect(await store.claim(key, 300)).toBe(false);
    await sleep(350);
    expect(await store.claim(key, 300)).toBe(true);
  });

  it('does not extend a claim when a replay is rejected', async () => {
    const key = nonceKey();
    expect(await store.claim(key, 200)).toBe(true);
    await sleep(120);
    expect(await store.claim(key, 200)).toBe(false);
    await sleep(130); // 250 ms after the first claim; a refreshed ttl would still hold it
    expect(await store.claim(key, 200)).toBe(true);
  });

  it('lets exactly one of 200 concurrent claims of one key win', async () => {
    const key = nonceKey();
    const results = await Promise.all(Array.from({ length: 200 }, () => store.claim(key, 60_000)));
    expect(results.filter((won) => won)).toHaveLength(1);
  });

  it('lets every one of 200 concurrent claims of distinct keys win', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => store.claim(nonceKey(), 60_000)));
    expect(results.every((won) => won)).toBe(true);
  });
});

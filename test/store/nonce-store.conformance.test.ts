import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { MemoryNonceStore } from '../../src/store/memory.js';
import { createRedisClient, RedisNonceStore } from '../../src/store/redis.js';
import type { NonceClaim, NonceStore } from '../../src/store/types.js';
import { nonceClaim, testRedisConfig } from './support.js';

/** One behaviour, two implementations: every replica must judge replays the same way. */

const redis = createRedisClient(testRedisConfig(inject('redisUrl')));
afterAll(() => redis.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Shaped like the verifier's key: clientId:token:timestamp:nonce (timestamp of now). */
const nonceKey = (nonce = randomUUID()) => `client-1:token-1:${Math.floor(Date.now() / 1000)}:${nonce}`;
/** A claim the verifier would pass on to the store: |timestamp × 1000 − now| ≤ 500 < windowMs. */
function claimInWindow(windowMs: number): NonceClaim {
  const now = Date.now();
  const timestamp = Math.round(now / 1000);
  return { key: `client-1:token-1:${timestamp}:${randomUUID()}`, timestamp, windowMs, now };
}

describe.each<[string, () => NonceStore]>([
  ['MemoryNonceStore', () => new MemoryNonceStore()],
  ['RedisNonceStore', () => new RedisNonceStore(redis)],
])('%s', (_name, createStore) => {
  let store: NonceStore;
  beforeEach(() => {
    store = createStore();
  });

  it('accepts the first claim of a key and rejects the second as a replay', async () => {
    const key = nonceKey();
    expect(await store.claim(nonceClaim(key))).toBe('fresh');
    expect(await store.claim(nonceClaim(key))).toBe('replayed');
    expect(await store.claim(nonceClaim(key))).toBe('replayed');
  });

  it('keeps keys that differ in any one component independent', async () => {
    const nonce = randomUUID();
    const ts = Math.floor(Date.now() / 1000);
    const keys = [
      `client-1:token-1:${ts}:${nonce}`,
      `client-2:token-1:${ts}:${nonce}`,
      `client-1:token-2:${ts}:${nonce}`,
      `client-1:token-1:${ts + 1}:${nonce}`,
      `client-1::${ts}:${nonce}`,
    ];
    for (const key of keys) expect(await store.claim(nonceClaim(key))).toBe('fresh');
    for (const key of keys) expect(await store.claim(nonceClaim(key))).toBe('replayed');
  });

  it('never answers fresh again while the request could still pass the window', async () => {
    const windowMs = 1500;
    const first = claimInWindow(windowMs);
    expect(await store.claim(first)).toBe('fresh');
    // The verifier accepts the timestamp while now ≤ timestamp × 1000 + window.
    const acceptedUntil = first.timestamp * 1000 + windowMs;
    let checks = 0;
    for (let now = Date.now(); now <= acceptedUntil; now = Date.now()) {
      expect(await store.claim({ ...first, now })).not.toBe('fresh');
      checks++;
      await sleep(100);
    }
    expect(checks).toBeGreaterThan(0);
  });

  it('lets go of a claim once the window has passed, whether or not replays were tried', async () => {
    const windowMs = 600;
    const first = claimInWindow(windowMs);
    expect(await store.claim(first)).toBe('fresh');
    await sleep(120);
    expect(await store.claim({ ...first, now: Date.now() })).not.toBe('fresh');
    // A refused replay does not extend anything: 2 × window after the claim the key is gone
    // (Redis: the key expired; memory: the timestamp fell below the floor, so it is refused as stale).
    await sleep(2 * windowMs + 100);
    expect(await store.claim({ ...first, now: Date.now() })).not.toBe('replayed');
  });

  it('lets exactly one of 200 concurrent claims of one key win', async () => {
    const claim = nonceClaim(nonceKey());
    const results = await Promise.all(Array.from({ length: 200 }, () => store.claim(claim)));
    expect(results.filter((verdict) => verdict === 'fresh')).toHaveLength(1);
    expect(results.filter((verdict) => verdict === 'replayed')).toHaveLength(199);
  });

  it('lets every one of 200 concurrent claims of distinct keys win', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => store.claim(nonceClaim(nonceKey()))));
    expect(results.every((verdict) => verdict === 'fresh')).toBe(true);
  });
});

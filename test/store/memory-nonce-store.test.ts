import { describe, expect, test } from 'vitest';
import { MemoryNonceStore } from '../../src/store/memory.js';

// Behaviour shared with the Redis store lives in nonce-store.conformance.test.ts; these are the
// memory store's own guarantees, checked with an injected clock.
describe('MemoryNonceStore', () => {
  test('a claim is remembered for its whole ttl, however the generations rotate', async () => {
    let now = 0;
    const store = new MemoryNonceStore(1000, () => now);
    const claimedAt = new Map<string, number>();
    // One new key per simulated second, each checked on every step until its ttl has passed.
    for (let second = 0; second < 900; second++) {
      now = second * 1000;
      for (const [key, at] of claimedAt) {
        if (now < at + 300_000) expect(await store.claim(key, 300_000), `${key} at ${now}`).toBe(false);
      }
      const key = `k${second}`;
      expect(await store.claim(key, 300_000)).toBe(true);
      claimedAt.set(key, now);
    }
  });

  test('a key becomes claimable again once its ttl has passed', async () => {
    let now = 0;
    const store = new MemoryNonceStore(1000, () => now);
    expect(await store.claim('a', 100)).toBe(true);
    now = 99;
    expect(await store.claim('a', 100)).toBe(false);
    now = 100;
    expect(await store.claim('a', 100)).toBe(true);
  });

  test('memory stays bounded: old generations are dropped as time passes', async () => {
    let now = 0;
    const store = new MemoryNonceStore(1_000_000, () => now);
    for (let i = 0; i < 10_000; i++) {
      await store.claim(`n${i}`, 100);
      now += 1;
    }
    // ttl 100 ms and one claim per ms: at most ~2 generations × 100 keys are held.
    expect(store.size).toBeLessThanOrEqual(201);
  });

  test('each generation holds at most half of maxEntries', async () => {
    const store = new MemoryNonceStore(100, () => 0);
    for (let i = 0; i < 1000; i++) await store.claim(`n${i}`, 60_000);
    expect(store.size).toBeLessThanOrEqual(100);
    expect(await store.claim('n999', 60_000)).toBe(false);
  });
});

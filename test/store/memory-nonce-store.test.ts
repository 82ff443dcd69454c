import { describe, expect, test } from 'vitest';
import { MemoryNonceStore } from '../../src/store/memory.js';

// Behaviour shared with the Redis store lives in nonce-store.conformance.test.ts; these are the
// memory store's own guarantees, checked with an injected clock.
describe('MemoryNonceStore', () => {
  test('a claim is remembered for its whole ttl, however the generations rotate', async () => {
    let now = 1_000_000;
    const store = new MemoryNonceStore(1000, () => now);
    for (const offset of [0, 1, 299_999]) {
      expect(await store.claim(`k${offset}`, 300_000)).toBe(true);
      now += 1;
    }
    // Walk time forward in small steps (forcing rotations) and re-check every key until its ttl.
    for (let step = 0; step < 300; step++) {
      now += 1_000;
      for (const offset of [0, 1, 299_999]) {
        const claimedAt = 1_000_000 + [0, 1, 299_999].indexOf(offset);
        const expected = now >= claimedAt + 300_000;
        if (!expected) expect(await store.claim(`k${offset}`, 300_000)).toBe(false);
      }
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

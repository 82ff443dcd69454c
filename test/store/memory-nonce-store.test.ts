import { describe, expect, test } from 'vitest';
import { type FloorRaiseReport, MemoryNonceStore } from '../../src/store/memory.js';
import type { NonceClaim } from '../../src/store/types.js';

// Behaviour shared with the Redis store lives in nonce-store.conformance.test.ts; these are the
// memory store's own guarantees (bounded, floor, stats), with the clock given in each claim.

const WINDOW = 300_000;
const T0 = 1_700_000_000;

/** What the verifier would send for nonce `n` of client `c` with timestamp `ts`, judged at `now`. */
function claim(n: string | number, ts: number, now: number, c = 'victim', windowMs = WINDOW): NonceClaim {
  return { key: `${c}:tok:${ts}:${n}`, timestamp: ts, windowMs, now };
}

describe('MemoryNonceStore', () => {
  test('issue 13: a flood of fresh nonces no longer makes a captured one claimable again', () => {
    const store = new MemoryNonceStore({ maxEntries: 1000 });
    const now = T0 * 1000;
    expect(store.judge(claim('n0nce', T0, now))).toBe('fresh');
    // The attacker's own validly signed requests, one second later (the victim's bucket is older).
    for (let i = 0; i < 1001; i++) store.judge(claim(i, T0 + 1, now + 1000, 'attacker'));
    expect(store.size).toBeLessThanOrEqual(1000);
    expect(store.floor).toBe(T0 + 1);
    // The replay is refused as stale (401 invalid_timestamp), never accepted.
    expect(store.judge(claim('n0nce', T0, now + 1000))).toBe('stale');
    // Clients with current timestamps keep working.
    expect(store.judge(claim('next', T0 + 2, now + 2000))).toBe('fresh');
    // Once for the victim's second, once more to make room for T0 + 2.
    expect(store.stats().floorRaises).toBe(2);
  });

  test('the reproduction from the issue: 1,000,001 claims at one timestamp with the default bound', () => {
    const store = new MemoryNonceStore();
    const now = T0 * 1000;
    expect(store.judge(claim('n0nce', T0, now))).toBe('fresh');
    let refused = 0;
    for (let i = 0; i < 1_000_001; i++) {
      if (store.judge(claim(i, T0, now, 'attacker')) === 'stale') refused++;
    }
    // Full, and every remembered nonce shares the victim's timestamp: the flood is refused instead.
    expect(store.size).toBe(1_000_000);
    expect(refused).toBe(2);
    expect(store.judge(claim('n0nce', T0, now))).toBe('replayed');
  }, 60_000);

  test('a claim is remembered for as long as its timestamp passes the window', () => {
    const store = new MemoryNonceStore({ maxEntries: 10_000 });
    const claimedAt = new Map<number, number>();
    // One new nonce per simulated second, each re-tried on every step while still in the window.
    for (let second = 0; second < 900; second++) {
      const now = (T0 + second) * 1000;
      for (const [ts] of claimedAt) {
        if (Math.abs(ts * 1000 - now) <= WINDOW) {
          expect(store.judge(claim(ts, ts, now)), `${ts} at ${now}`).toBe('replayed');
        }
      }
      expect(store.judge(claim(T0 + second, T0 + second, now))).toBe('fresh');
      claimedAt.set(T0 + second, now);
    }
    expect(store.stats().floorRaises).toBe(0);
  });

  test('memory follows the window, not the history: whole buckets expire as time passes', () => {
    const store = new MemoryNonceStore();
    for (let second = 0; second < 2000; second++) {
      for (let i = 0; i < 5; i++) store.judge(claim(`${second}-${i}`, T0 + second, (T0 + second) * 1000));
    }
    // 301 seconds of 5 nonces each are still acceptable; everything older was dropped.
    expect(store.size).toBe(301 * 5);
    expect(store.stats().floorRaises).toBe(0);
    expect(store.stats().effectiveWindowMs).toBe(WINDOW);
  });

  test('when full, the oldest timestamps go first and the floor moves just past them', () => {
    const store = new MemoryNonceStore({ maxEntries: 10 });
    const now = T0 * 1000;
    for (let s = 0; s < 10; s++) expect(store.judge(claim(s, T0 - 20 + s, now))).toBe('fresh');
    expect(store.judge(claim('new', T0, now))).toBe('fresh');
    expect(store.floor).toBe(T0 - 19);
    expect(store.judge(claim(0, T0 - 20, now))).toBe('stale');
    expect(store.judge(claim(1, T0 - 19, now))).toBe('replayed');
    expect(store.stats()).toMatchObject({ entries: 10, floorRaises: 1, effectiveWindowMs: 19_000 });
  });

  test('when nothing older than the claim is left to drop, the claim is refused and nothing is forgotten', () => {
    const store = new MemoryNonceStore({ maxEntries: 3 });
    const now = T0 * 1000;
    for (const n of ['a', 'b', 'c']) expect(store.judge(claim(n, T0, now))).toBe('fresh');
    expect(store.judge(claim('d', T0, now))).toBe('stale');
    expect(store.judge(claim('e', T0 - 1, now))).toBe('stale');
    for (const n of ['a', 'b', 'c']) expect(store.judge(claim(n, T0, now))).toBe('replayed');
    // The next second makes room by giving up T0 as a whole.
    expect(store.judge(claim('f', T0 + 1, now + 1000))).toBe('fresh');
    expect(store.judge(claim('a', T0, now + 1000))).toBe('stale');
  });

  test('a flood with timestamps far ahead gets its own future seconds cut; current clients keep working', () => {
    const store = new MemoryNonceStore({ maxEntries: 100 });
    const now = T0 * 1000;
    for (let i = 0; i < 10; i++) expect(store.judge(claim(`early-${i}`, T0 - 1, now))).toBe('fresh');
    // 300 s ahead is inside the window; the attacker fills the store with it.
    let attacker = 0;
    for (let i = 0; i < 200; i++) {
      if (store.judge(claim(i, T0 + 290 + (i % 10), now, 'attacker')) === 'fresh') attacker++;
    }
    expect(store.size).toBeLessThanOrEqual(100);
    expect(store.stats().floorRaises).toBeGreaterThan(0);
    // Current requests: the farthest-ahead seconds are cut to make room, nothing current is lost.
    for (let i = 0; i < 50; i++) expect(store.judge(claim(`now-${i}`, T0, now))).toBe('fresh');
    for (let i = 0; i < 10; i++) expect(store.judge(claim(`early-${i}`, T0 - 1, now))).toBe('replayed');
    expect(store.floor).toBeLessThan(T0 - 1);
    // The cut seconds stay refused (their nonces were forgotten), whoever asks.
    expect(store.refuses(T0 + 299)).toBe(true);
    expect(store.judge(claim(199, T0 + 299, now, 'attacker'))).toBe('stale');
    expect(store.judge(claim('ahead', T0 + 299, now))).toBe('stale');
    expect(store.refuses(T0 + 1)).toBe(false);
    expect(attacker).toBeGreaterThan(100);
    // Until the floor passes them: then they are simply out of the window.
    const later = (T0 + 299) * 1000 + WINDOW + 1000;
    store.judge(claim('later', T0 + 600, later));
    expect(store.refuses(T0 + 600)).toBe(false);
  });

  test('a timestamp below the floor is refused even if the clock of the claim is older', () => {
    const store = new MemoryNonceStore();
    expect(store.judge(claim('x', T0, T0 * 1000))).toBe('fresh');
    // Another request moved the store's clock past the window of T0 …
    store.judge(claim('y', T0 + 400, (T0 + 400) * 1000));
    // … a request judged before that (its `now` is old) cannot bring T0 back.
    expect(store.judge(claim('x', T0, T0 * 1000))).toBe('stale');
  });

  test('stats count nonces and bytes; the warning comes at most once a minute and names the numbers', () => {
    const reports: FloorRaiseReport[] = [];
    const store = new MemoryNonceStore({ maxEntries: 100, onFloorRaise: (r) => reports.push(r) });
    for (let s = 0; s < 600; s++) {
      const now = (T0 + s) * 1000;
      for (let i = 0; i < 10; i++) store.judge(claim(`${s}-${i}`, T0 + s, now));
    }
    const stats = store.stats();
    expect(stats.entries).toBe(100);
    expect(stats.bytes).toBeGreaterThan(100 * 8);
    expect(stats.floorRaises).toBeGreaterThan(500);
    expect(stats.effectiveWindowMs).toBeLessThanOrEqual(10_000);
    // 600 simulated seconds of continuous pressure: one report a minute.
    expect(reports.length).toBeGreaterThanOrEqual(9);
    expect(reports.length).toBeLessThanOrEqual(11);
    expect(reports[1]).toMatchObject({ maxEntries: 100 });
    expect(reports[1]!.raises).toBeGreaterThan(50);
    expect(reports[1]!.dropped).toBeGreaterThan(500);
  });

  test('a reload can lower the bound: the oldest buckets go at once, behind the floor', () => {
    const store = new MemoryNonceStore({ maxEntries: 100 });
    for (let s = 0; s < 50; s++) store.judge(claim(s, T0 + s, (T0 + 50) * 1000));
    store.configure({ maxEntries: 10 });
    expect(store.size).toBe(10);
    expect(store.floor).toBe(T0 + 40);
    expect(store.judge(claim(39, T0 + 39, (T0 + 50) * 1000))).toBe('stale');
    expect(store.judge(claim(40, T0 + 40, (T0 + 50) * 1000))).toBe('replayed');
    expect(store.judge(claim('n', T0 + 50, (T0 + 50) * 1000))).toBe('fresh');
    expect(store.size).toBe(10);
  });

  test('close releases everything', async () => {
    const store = new MemoryNonceStore();
    store.judge(claim('a', T0, T0 * 1000));
    await store.close();
    expect(store.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});

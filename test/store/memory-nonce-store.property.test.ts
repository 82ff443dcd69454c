import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryNonceStore } from '../../src/store/memory.js';
import type { NonceVerdict } from '../../src/store/types.js';

/**
 * The memory nonce store against a reference model that never forgets: for any sequence of claims
 * (as the verifier makes them, i.e. only timestamps inside the window at the claim's clock), clock
 * moves (including claims judged a little before the store's latest clock, as concurrent requests
 * are) and bounds (maxEntries, changed by reloads):
 *  - no key the reference remembers as used is ever answered `fresh` again (the security property);
 *  - a used key whose timestamp the store does not refuse (floor, cuts) is answered `replayed`;
 *  - a new key is refused only as `stale`, and only for a refused timestamp or with the store full;
 *  - the store never holds more than maxEntries nonces after a claim.
 */

const T0_MS = 1_700_000_000_000;

type Op =
  | { kind: 'claim'; client: number; nonce: number; skewMs: number; lagMs: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'bound'; maxEntries: number };

const op = (windowMs: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('claim' as const),
        client: fc.integer({ min: 0, max: 2 }),
        nonce: fc.integer({ min: 0, max: 4 }),
        skewMs: fc.integer({ min: -windowMs - 2000, max: windowMs + 2000 }),
        lagMs: fc.integer({ min: 0, max: 1500 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('tick' as const),
        ms: fc.integer({ min: 0, max: 2 * windowMs }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('bound' as const),
        maxEntries: fc.integer({ min: 1, max: 30 }),
      }),
    },
  );

const scenario = fc
  .record({ windowMs: fc.integer({ min: 500, max: 20_000 }), maxEntries: fc.integer({ min: 1, max: 30 }) })
  .chain(({ windowMs, maxEntries }) =>
    fc.record({
      windowMs: fc.constant(windowMs),
      maxEntries: fc.constant(maxEntries),
      ops: fc.array(op(windowMs), { minLength: 1, maxLength: 300 }),
    }),
  );

describe('MemoryNonceStore against a reference model (fast-check)', () => {
  it('never accepts a used nonce, and refuses a new one only for a stated reason', () => {
    fc.assert(
      fc.property(scenario, ({ windowMs, maxEntries, ops }) => {
        const store = new MemoryNonceStore({ maxEntries });
        let bound = maxEntries;
        let clock = T0_MS;
        const used = new Set<string>();
        const counts: Record<NonceVerdict, number> = { fresh: 0, replayed: 0, stale: 0 };
        for (const step of ops) {
          if (step.kind === 'tick') {
            clock += step.ms;
            continue;
          }
          if (step.kind === 'bound') {
            bound = step.maxEntries;
            store.configure({ maxEntries: bound });
            continue;
          }
          const now = clock - step.lagMs;
          const timestamp = Math.floor((clock + step.skewMs) / 1000);
          // The verifier only claims nonces whose timestamp passed the window at its clock.
          if (Math.abs(timestamp * 1000 - now) > windowMs) continue;
          const key = `client-${step.client}:tok:${timestamp}:n${step.nonce}`;
          const verdict = store.judge({ key, timestamp, windowMs, now });
          counts[verdict]++;
          if (used.has(key)) {
            expect(verdict, `${key} was used before`).not.toBe('fresh');
            if (!store.refuses(timestamp)) expect(verdict, `${key} is still remembered`).toBe('replayed');
          } else {
            expect(verdict, `${key} was never used`).not.toBe('replayed');
            if (verdict === 'stale') {
              expect(store.refuses(timestamp) || store.size >= bound, `${key} refused without reason`).toBe(
                true,
              );
            }
          }
          if (verdict === 'fresh') used.add(key);
          expect(store.size).toBeLessThanOrEqual(bound);
        }
        return counts.fresh + counts.replayed + counts.stale >= 0;
      }),
      { seed: 0x13, numRuns: 3000 },
    );
  });

  it('accepts every new nonce inside the window when the bound is never reached', () => {
    fc.assert(
      fc.property(scenario, ({ windowMs, ops }) => {
        const store = new MemoryNonceStore({ maxEntries: 100_000 });
        let clock = T0_MS;
        const used = new Set<string>();
        for (const step of ops) {
          if (step.kind === 'tick') clock += step.ms;
          if (step.kind !== 'claim') continue;
          // Claims judged at the store's own latest clock: nothing is below the floor but the
          // timestamps the window refuses anyway.
          const timestamp = Math.floor((clock + step.skewMs) / 1000);
          if (Math.abs(timestamp * 1000 - clock) > windowMs) continue;
          const key = `client-${step.client}:tok:${timestamp}:n${step.nonce}`;
          const verdict = store.judge({ key, timestamp, windowMs, now: clock });
          expect(verdict).toBe(used.has(key) ? 'replayed' : 'fresh');
          used.add(key);
        }
        expect(store.stats().floorRaises).toBe(0);
      }),
      { seed: 0x1313, numRuns: 1000 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../src/errors.js';
import { sha256Hex } from '../../src/hash.js';
import { TokenCache } from '../../src/introspect/cache.js';
import type { SharedCache } from '../../src/store/types.js';
import type { TokenInfo } from '../../src/verify/oauth2/token-info.js';

const START = 1_700_000_000_000;

/** A backend whose answers and availability the test controls, counting calls. */
function backend(answer: (token: string) => TokenInfo) {
  const state = { calls: 0, down: false, answer };
  const lookup = async (token: string): Promise<TokenInfo> => {
    state.calls++;
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (state.down) throw new TemporarilyUnavailable();
    return state.answer(token);
  };
  return { state, lookup };
}

function clock() {
  const c = { ms: START, now: () => c.ms };
  return c;
}

const activeUntil = (expS: number): TokenInfo => ({
  active: true,
  clientId: 'c',
  scopes: ['read'],
  exp: expS,
});

describe('TokenCache', () => {
  it('caches an active token for min(exp − now, maxTtl)', async () => {
    const time = clock();
    const { state, lookup } = backend(() => activeUntil(START / 1000 + 3600));
    const cache = new TokenCache(lookup, {
      maxEntries: 10,
      maxTtlMs: 60_000,
      negativeTtlMs: 1000,
      now: time.now,
    });
    await cache.get('t');
    time.ms += 59_999;
    expect((await cache.get('t')).active).toBe(true);
    expect(state.calls).toBe(1);
    time.ms += 1; // maxTtl reached
    await cache.get('t');
    expect(state.calls).toBe(2);
  });

  it('never serves a token past its exp, even when maxTtl is longer', async () => {
    const time = clock();
    const exp = START / 1000 + 30;
    const { state, lookup } = backend(() => activeUntil(exp));
    const cache = new TokenCache(lookup, {
      maxEntries: 10,
      maxTtlMs: 300_000,
      negativeTtlMs: 0,
      now: time.now,
    });
    expect((await cache.get('t')).active).toBe(true);
    time.ms += 29_999;
    expect((await cache.get('t')).active).toBe(true);
    expect(state.calls).toBe(1);
    time.ms += 1; // now = exp
    // The backend (a stale one, say) still claims active with the same exp: the answer is inactive.
    expect((await cache.get('t')).active).toBe(false);
    time.ms += 60_000;
    expect((await cache.get('t')).active).toBe(false);
  });

  it('an answer that is already past its exp is inactive and not stored as active', async () => {
    const time = clock();
    const { state, lookup } = backend(() => activeUntil(START / 1000 - 1));
    const cache = new TokenCache(lookup, {
      maxEntries: 10,
      maxTtlMs: 300_000,
      negativeTtlMs: 0,
      now: time.now,
    });
    expect((await cache.get('t')).active).toBe(false);
    expect((await cache.get('t')).active).toBe(false);
    expect(state.calls).toBe(2); // negativeTtl 0: not cached at all
  });

  it('caches inactive answers for negativeTtl, then asks again', async () => {
    const time = clock();
    const { state, lookup } = backend(() => ({ active: false, scopes: [] }));
    const cache = new TokenCache(lookup, {
      maxEntries: 10,
      maxTtlMs: 300_000,
      negativeTtlMs: 10_000,
      now: time.now,
    });
    await cache.get('bad');
    time.ms += 9_999;
    await cache.get('bad');
    expect(state.calls).toBe(1);
    // The AS now knows the token (e.g. just issued): visible once negativeTtl is over.
    state.answer = () => activeUntil(START / 1000 + 3600);
    time.ms += 1;
    expect((await cache.get('bad')).active).toBe(true);
    expect(state.calls).toBe(2);
  });

  it('an inactive answer with retryAt (unknown JWT kid) is kept only until retryAt, not a whole negativeTtl', async () => {
    const time = clock();
    const { state, lookup } = backend(() => ({ active: false, scopes: [], retryAt: START + 700 }));
    const cache = new TokenCache(lookup, {
      maxEntries: 10,
      maxTtlMs: 300_000,
      negativeTtlMs: 10_000,
      now: time.now,
    });
    await cache.get('new-kid');
    time.ms += 699;
    await cache.get('new-kid');
    expect(state.calls).toBe(1);
    // The JWKS may be refetched now: the key is found and the token verifies.
    state.answer = () => activeUntil(START / 1000 + 3600);
    time.ms += 1;
    expect((await cache.get('new-kid')).active).toBe(true);
    expect(state.calls).toBe(2);
  });

  it('coalesces concurrent misses for one token into one backend call', async () => {
    const { state, lookup } = backend(() => activeUntil(START / 1000 + 3600));
    const cache = new TokenCache(lookup, {
      maxEntries: 10,
      maxTtlMs: 60_000,
      negativeTtlMs: 1000,
      now: () => START,
    });
    const answers = await Promise.all(Array.from({ length: 500 }, () => cache.get('same')));
    expect(answers.every((info) => info.active)).toBe(true);
    expect(state.calls).toBe(1);
    expect(cache.stats()).toMatchObject({ misses: 1, coalesced: 499, backendCalls: 1, hits: 0 });
    await cache.get('same');
    expect(cache.stats().hits).toBe(1);
  });

  it('does not cache failures: the next request retries, and a cached token outlives the outage', async () => {
    const time = clock();
    const { state, lookup } = backend(() => activeUntil(START / 1000 + 3600));
    const cache = new TokenCache(lookup, {
      maxEntries: 10,
      maxTtlMs: 60_000,
      negativeTtlMs: 1000,
      now: time.now,
    });
    await cache.get('cached');
    state.down = true;
    await expect(cache.get('uncached')).rejects.toBeInstanceOf(TemporarilyUnavailable);
    await expect(cache.get('uncached')).rejects.toBeInstanceOf(TemporarilyUnavailable);
    expect((await cache.get('cached')).active).toBe(true);
    state.down = false;
    expect((await cache.get('uncached')).active).toBe(true);
    expect(state.calls).toBe(4);
  });

  it('is bounded by maxEntries', async () => {
    const { lookup } = backend(() => activeUntil(START / 1000 + 3600));
    const cache = new TokenCache(lookup, {
      maxEntries: 3,
      maxTtlMs: 60_000,
      negativeTtlMs: 1000,
      now: () => START,
    });
    for (const token of ['a', 'b', 'c', 'd', 'e']) await cache.get(token);
    expect(cache.stats().entries).toBe(3);
  });

  it('keys are sha256(token): the raw token is never a key', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  describe('shared L2', () => {
    function memoryL2() {
      const entries = new Map<string, { info: TokenInfo; ttlMs: number }>();
      const l2: SharedCache<TokenInfo> & { failing: boolean } = {
        failing: false,
        async get(key) {
          if (l2.failing) throw new Error('redis down');
          return entries.get(key)?.info;
        },
        async set(key, info, ttlMs) {
          if (l2.failing) throw new Error('redis down');
          entries.set(key, { info, ttlMs });
        },
      };
      return { l2, entries };
    }

    it('fills L2 under the hashed key with the computed TTL, and replicas read from it', async () => {
      const time = clock();
      const { l2, entries } = memoryL2();
      const first = backend(() => activeUntil(START / 1000 + 30));
      const replicaA = new TokenCache(first.lookup, {
        maxEntries: 10,
        maxTtlMs: 60_000,
        negativeTtlMs: 1000,
        now: time.now,
        shared: l2,
      });
      await replicaA.get('tok');
      await new Promise((resolve) => setImmediate(resolve));
      expect([...entries.keys()]).toEqual([sha256Hex('tok')]);
      expect(entries.get(sha256Hex('tok'))?.ttlMs).toBe(30_000);

      const second = backend(() => ({ active: false, scopes: [] }));
      const replicaB = new TokenCache(second.lookup, {
        maxEntries: 10,
        maxTtlMs: 60_000,
        negativeTtlMs: 1000,
        now: time.now,
        shared: l2,
      });
      expect((await replicaB.get('tok')).active).toBe(true);
      expect(second.state.calls).toBe(0);
      expect(replicaB.stats().sharedHits).toBe(1);

      // An L2 entry is still re-checked against exp.
      time.ms += 30_000;
      const replicaC = new TokenCache(second.lookup, {
        maxEntries: 10,
        maxTtlMs: 60_000,
        negativeTtlMs: 1000,
        now: time.now,
        shared: l2,
      });
      expect((await replicaC.get('tok')).active).toBe(false);
    });

    it('a failing L2 is a miss, not an error', async () => {
      const { l2 } = memoryL2();
      l2.failing = true;
      const { state, lookup } = backend(() => activeUntil(START / 1000 + 30));
      const cache = new TokenCache(lookup, {
        maxEntries: 10,
        maxTtlMs: 60_000,
        negativeTtlMs: 1000,
        now: () => START,
        shared: l2,
      });
      expect((await cache.get('tok')).active).toBe(true);
      expect(state.calls).toBe(1);
      await new Promise((resolve) => setImmediate(resolve));
      expect(cache.stats().sharedErrors).toBe(2);
    });
  });
});

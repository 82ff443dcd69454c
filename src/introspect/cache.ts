import { LRUCache } from 'lru-cache';
import { keyToHex, sha256Key } from '../hash.js';
import type { SharedCache } from '../store/types.js';
import type { TokenInfo } from '../verify/oauth2/token-info.js';
import { INACTIVE } from './token-info.js';

/**
 * The one cache in front of every token source.
 *
 * - Key: sha256(token), as 32 raw bytes in memory and as hex in the shared L2; the raw token is
 *   never a key.
 * - Coalescing: lru-cache's fetchMethod keeps one in-flight lookup per key, so N concurrent
 *   requests with one uncached token cost one backend call.
 * - Lifetime: active → min(exp − now, maxTtl) (no exp → maxTtl); inactive → negativeTtl, or less
 *   when the answer says when it may change (`retryAt`: an unknown JWT kid). Every hit
 *   is re-checked against the clock and the token's own exp, so nothing outlives the token.
 * - Failures (TemporarilyUnavailable) reject the fetch and are not stored: the next request retries.
 * - What is stored is the token's facts, never a route's decision (see token-info.ts).
 */

export interface TokenCacheOptions {
  readonly maxEntries: number;
  readonly maxTtlMs: number;
  readonly negativeTtlMs: number;
  /** Unix milliseconds; injected so tests can move time. */
  readonly now: () => number;
  readonly shared?: SharedCache<TokenInfo> | undefined;
}

export interface TokenCacheStats {
  /** Answered from L1 without waiting. */
  readonly hits: number;
  /** Started a lookup (L2, then the sources). */
  readonly misses: number;
  /** Joined a lookup already in flight for the same token. */
  readonly coalesced: number;
  /** Lookups that reached the source chain. */
  readonly backendCalls: number;
  readonly sharedHits: number;
  readonly sharedErrors: number;
  readonly entries: number;
}

interface Entry {
  readonly info: TokenInfo;
  /** Unix ms after which this entry must not be served. */
  readonly expiresAt: number;
}

export class TokenCache {
  readonly #lookup: (token: string) => Promise<TokenInfo>;
  readonly #options: TokenCacheOptions;
  readonly #lru: LRUCache<string, Entry, string>;
  #hits = 0;
  #misses = 0;
  #coalesced = 0;
  #backendCalls = 0;
  #sharedHits = 0;
  #sharedErrors = 0;

  constructor(lookup: (token: string) => Promise<TokenInfo>, options: TokenCacheOptions) {
    this.#lookup = lookup;
    this.#options = options;
    this.#lru = new LRUCache<string, Entry, string>({
      max: options.maxEntries,
      // TTLs follow the injected clock; checked on every read (no 1 ms `now` memo).
      perf: { now: options.now },
      ttlResolution: 0,
      fetchMethod: (key, _stale, { options: fetchOptions, context: token }) =>
        this.#fill(key, token, fetchOptions),
    });
  }

  /** How long `info` may be served from now, in ms (≤ 0: not at all). */
  #lifetime(info: TokenInfo, nowMs: number): number {
    if (!info.active) {
      const { negativeTtlMs } = this.#options;
      return info.retryAt === undefined ? negativeTtlMs : Math.min(negativeTtlMs, info.retryAt - nowMs);
    }
    const { maxTtlMs } = this.#options;
    return info.exp === undefined ? maxTtlMs : Math.min(info.exp * 1000 - nowMs, maxTtlMs);
  }

  /** An active token whose exp has passed is, from now on, simply inactive. */
  #settle(info: TokenInfo, nowMs: number): TokenInfo {
    return info.active && info.exp !== undefined && info.exp * 1000 <= nowMs ? INACTIVE : info;
  }

  async #fill(key: string, token: string, fetchOptions: { ttl?: number }): Promise<Entry> {
    const { shared, now } = this.#options;
    if (shared !== undefined) {
      try {
        const found = await shared.get(keyToHex(key));
        if (found !== undefined) {
          const nowMs = now();
          const info = this.#settle(found, nowMs);
          const lifetime = this.#lifetime(info, nowMs);
          if (lifetime > 0) {
            this.#sharedHits++;
            fetchOptions.ttl = lifetime;
            return { info, expiresAt: nowMs + lifetime };
          }
        }
      } catch {
        // A failing L2 is a miss: the sources can still answer.
        this.#sharedErrors++;
      }
    }

    this.#backendCalls++;
    const answered = await this.#lookup(token);
    const nowMs = now();
    const info = this.#settle(answered, nowMs);
    const lifetime = this.#lifetime(info, nowMs);
    // lru-cache reads ttl 0 as "forever": an uncacheable answer gets 1 ms and expiresAt = now, so it
    // serves the callers already waiting for it and no one after.
    fetchOptions.ttl = Math.max(1, lifetime);
    if (shared !== undefined && lifetime > 0) {
      shared.set(keyToHex(key), info, lifetime).catch(() => {
        this.#sharedErrors++;
      });
    }
    return { info, expiresAt: nowMs + Math.max(0, lifetime) };
  }

  async get(token: string): Promise<TokenInfo> {
    const key = sha256Key(token);
    // The common case, a fresh entry, without fetch()'s machinery (a pending lookup or a stale or
    // absent entry reads as undefined here and goes the fetch() way below).
    const held = this.#lru.get(key);
    if (held !== undefined) {
      const nowMs = this.#options.now();
      if (held.expiresAt > nowMs) {
        this.#hits++;
        return this.#settle(held.info, nowMs);
      }
    }
    const status: LRUCache.Status<string, Entry, string> = {};
    let entry = await this.#lru.fetch(key, { context: token, status });
    this.#count(status.fetch);
    if (entry !== undefined && status.fetch === 'hit' && entry.expiresAt <= this.#options.now()) {
      // Outlived its lifetime by the injected clock: drop it and look again, once.
      this.#lru.delete(key);
      const again: LRUCache.Status<string, Entry, string> = {};
      entry = await this.#lru.fetch(key, { context: token, status: again });
      this.#count(again.fetch);
    }
    if (entry === undefined) return INACTIVE;
    return this.#settle(entry.info, this.#options.now());
  }

  #count(outcome: LRUCache.Status<string, Entry, string>['fetch']): void {
    if (outcome === 'hit') this.#hits++;
    else if (outcome === 'inflight') this.#coalesced++;
    else this.#misses++;
  }

  stats(): TokenCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      coalesced: this.#coalesced,
      backendCalls: this.#backendCalls,
      sharedHits: this.#sharedHits,
      sharedErrors: this.#sharedErrors,
      entries: this.#lru.size,
    };
  }

  clear(): void {
    this.#lru.clear();
  }
}

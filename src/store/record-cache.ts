import { LRUCache } from 'lru-cache';

/**
 * A bounded lru-cache in front of one record type of a remote credential store (Redis, SQL).
 * Found records are kept `ttlMs`, unknown keys `negativeTtlMs`, both counted from the moment the
 * backend answered and never extended by use: that is the revocation bound. Concurrent misses for
 * one key share a single backend lookup (lru-cache fetchMethod), also when caching is off. A failed
 * lookup caches nothing and rejects (→ 503 for the requests that waited on it).
 *
 * `context` is handed to `load` with the key: a bearer token is cached under its sha256 but
 * looked up by its value.
 */

interface Cached<T> {
  readonly value: T | undefined;
}

export interface RecordCacheOptions {
  readonly ttlMs: number;
  /** Default: ttlMs. */
  readonly negativeTtlMs?: number;
  readonly maxEntries: number;
}

export class RecordCache<T, C = string> {
  readonly #load: (key: string, context: C) => Promise<T | undefined>;
  readonly #cache: LRUCache<string, Cached<T>, unknown> | undefined;
  readonly #inflight = new Map<string, Promise<T | undefined>>();
  /** Lookups that reached the backend (for metrics: everything else was a hit or joined one). */
  loads = 0;

  constructor(load: (key: string, context: C) => Promise<T | undefined>, options: RecordCacheOptions) {
    this.#load = async (key, context) => {
      this.loads++;
      return load(key, context);
    };
    const ttl = options.ttlMs;
    const negativeTtl = options.negativeTtlMs ?? ttl;
    this.#cache =
      ttl > 0 || negativeTtl > 0
        ? new LRUCache<string, Cached<T>, unknown>({
            max: options.maxEntries,
            ttl: Math.max(ttl, negativeTtl),
            updateAgeOnGet: false,
            allowStale: false,
            fetchMethod: async (key, _stale, { options: entry, context }) => {
              const value = await this.#load(key, context as C);
              // lru-cache reads ttl 0 as "forever": an answer that must not be kept lives 1 ms.
              entry.ttl = Math.max(1, value === undefined ? negativeTtl : ttl);
              return { value };
            },
          })
        : undefined;
  }

  async get(key: string, context: C): Promise<T | undefined> {
    if (this.#cache !== undefined) return (await this.#cache.fetch(key, { context }))?.value;
    const running = this.#inflight.get(key);
    if (running !== undefined) return running;
    const started = this.#load(key, context).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, started);
    return started;
  }

  delete(key: string): void {
    this.#cache?.delete(key);
  }

  clear(): void {
    this.#cache?.clear();
  }

  get size(): number {
    return this.#cache?.size ?? 0;
  }
}

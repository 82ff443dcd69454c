import { LRUCache } from 'lru-cache';
import type { NonceStore } from './types.js';

/**
 * Nonces claimed in this process only (one replica). Bounded: when full, the oldest nonce is
 * evicted, which can only matter for a replay older than every newer claim; the timestamp window
 * still rejects anything older than the window.
 */
export class MemoryNonceStore implements NonceStore {
  readonly #seen: LRUCache<string, true>;

  constructor(maxEntries = 1_000_000) {
    this.#seen = new LRUCache<string, true>({ max: maxEntries, ttlAutopurge: false, ttl: 1 });
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    // has() honours TTL; set() then records the claim. No await in between, so this is atomic.
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, true, { ttl: Math.max(1, ttlMs) });
    return true;
  }

  async close(): Promise<void> {
    this.#seen.clear();
  }
}

import { createHash } from 'node:crypto';
import type { NonceStore } from './types.js';

/**
 * 16 bytes of SHA-256 as a one-byte string: a fixed ~32-byte key instead of the ~60-100 character
 * `client:token:timestamp:nonce`. A collision could only make a fresh request look like a replay
 * (a refused request, never an accepted one), and at 2^-64 odds per pair it does not happen.
 */
function compactKey(key: string): string {
  return createHash('sha256').update(key).digest('binary').slice(0, 16);
}

/**
 * Nonces claimed in this process only (one replica). Two generations of plain Maps rotate every
 * `ttl`: a claim is remembered for at least `ttl` (it survives one rotation) and dropped after at
 * most about 2 × ttl, without a timer and without preallocating anything (an lru-cache sized for a
 * million entries costs ~33 MB of RSS before the first request; a sidecar cannot afford that).
 *
 * Bounded: each generation holds at most maxEntries / 2 keys. When a flood of *validly signed*
 * requests fills it, the gateway rotates early and forgets the oldest generation; the timestamp
 * window still bounds how old a replay can be. Use the Redis store when that matters.
 */
export class MemoryNonceStore implements NonceStore {
  #current = new Map<string, number>();
  #previous = new Map<string, number>();
  #rotatedAt: number;
  readonly #epoch: number;
  readonly #generationLimit: number;
  readonly #now: () => number;

  constructor(maxEntries = 1_000_000, now: () => number = Date.now) {
    this.#generationLimit = Math.max(1, Math.floor(maxEntries / 2));
    this.#now = now;
    this.#epoch = now();
    this.#rotatedAt = 0;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    // Synchronous from lookup to insert: two concurrent claims of one key cannot both win.
    // Times are kept relative to the store's epoch: small integers are stored inline by V8, where
    // epoch milliseconds would each need a heap number (hundreds of thousands of live nonces).
    const now = this.#now() - this.#epoch;
    key = compactKey(key);
    if (now - this.#rotatedAt >= ttlMs || this.#current.size >= this.#generationLimit) {
      this.#previous = this.#current;
      this.#current = new Map();
      this.#rotatedAt = now;
    }
    const expiresAt = this.#current.get(key) ?? this.#previous.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.#current.set(key, now + ttlMs);
    return true;
  }

  /** Keys currently remembered (both generations). */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  async close(): Promise<void> {
    this.#current.clear();
    this.#previous.clear();
  }
}

import { hash, randomBytes } from 'node:crypto';
import type { NonceClaim, NonceStore, NonceStoreStats, NonceVerdict } from './types.js';

/**
 * Nonces claimed in this process only (one replica), bounded by `maxEntries`.
 *
 * ## Layout
 * One bucket per `oauth_timestamp` second. A bucket is an open-addressing hash set (linear
 * probing, load ≤ 3/4, doubling) of 64-bit keyed hashes of the nonce key (the first 8 bytes of
 * SHA-1(per-process secret ‖ key)), kept in a Uint32Array as (lo, hi) pairs: 8 bytes a slot,
 * 11–20 bytes a nonce measured (bench/nonce-memory.mjs), no per-nonce object (a Map entry with a
 * string key cost ~117 bytes). Buckets sit in a Map by timestamp plus an ascending array of their
 * timestamps, so expiry and eviction take whole buckets from the front.
 *
 * ## The rule: a nonce whose request could still be accepted is never forgotten
 * The store keeps a *floor* F (seconds) and a few *cuts* (ranges of future seconds given up), and
 * refuses (`stale`, 401 invalid_timestamp) every claim with timestamp < F or inside a cut, before
 * looking anything up. Proof that no key is ever answered `fresh` twice:
 *  1. F never decreases, and neither does the store's clock (the largest `now` it was given). A cut
 *     never shrinks; it is forgotten only once F has passed all of it.
 *  2. A bucket T is removed in exactly three places, and each first makes T refused for good:
 *     - expiry: F := ceil((clock − window) / 1000); T < F means T × 1000 < clock − window, which the
 *       verifier's window check (|T × 1000 − now| ≤ window) refuses at any now ≥ clock;
 *     - pressure (maxEntries reached), bucket in the past: the oldest bucket T goes and F := T + 1
 *       ("floor raise");
 *     - pressure, bucket in the future: the newest bucket T goes and T joins a cut.
 *  3. So once key k (timestamp T) was answered `fresh`, it is either still in bucket T (a later claim
 *     finds it: `replayed`) or T is refused for ever after (a later claim is `stale`).
 * Under pressure the bucket *farthest from now* goes first (the oldest, or the newest when it is
 * farther ahead than the oldest is behind), and only when it is farther from now than the claim's
 * own timestamp; otherwise the claim itself is refused as `stale` and nothing is dropped. So a flood
 * gives up the edges of the window, clients with accurate clocks keep working, and a client
 * flooding with timestamps far ahead only gets its own future seconds cut. The *effective window*
 * (now − F) shrinks instead, and a metric and a warning say so.
 *
 * A clock stepped back by more than the window leaves current timestamps below F until the clock
 * catches up: refused, never replayable. Hash collisions (2^-64 per pair; the hash is keyed with a
 * per-process secret, so clients cannot aim for one or flood one probe chain) can only turn a fresh
 * nonce into a false `replayed`: a refused request, never an accepted replay.
 */

/**
 * Sized for a sidecar: at most ~20 MB of heap when full (measured 19.9 bytes a nonce at 3,333 per
 * second), and enough for 3,300 signed requests/s sustained over the default 5-minute window
 * before the floor has to rise. Nothing is allocated up front.
 */
export const DEFAULT_MAX_NONCES = 1_000_000;

const INITIAL_SLOTS = 16;
/**
 * Heap a bucket costs besides its slots: the Bucket object, the Uint32Array and ArrayBuffer
 * headers, the Map entry and the order-array slot (measured with bench/nonce-memory.mjs).
 */
const BUCKET_OVERHEAD_BYTES = 200;
const WARN_INTERVAL_MS = 60_000;

class Bucket {
  /** (lo, hi) pairs; (0, 0) marks an empty slot, so no hash is ever (0, 0). */
  slots = new Uint32Array(INITIAL_SLOTS * 2);
  count = 0;

  has(lo: number, hi: number): boolean {
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const a = slots[i << 1]!;
      const b = slots[(i << 1) + 1]!;
      if (a === lo && b === hi) return true;
      if (a === 0 && b === 0) return false;
    }
  }

  /** Adds a hash known to be absent; returns the bytes the slots grew by. */
  add(lo: number, hi: number): number {
    let grown = 0;
    if ((this.count + 1) * 4 > (this.slots.length >>> 1) * 3) grown = this.#grow();
    this.#place(this.slots, lo, hi);
    this.count++;
    return grown;
  }

  #place(slots: Uint32Array, lo: number, hi: number): void {
    const mask = (slots.length >>> 1) - 1;
    let i = lo & mask;
    while (slots[i << 1] !== 0 || slots[(i << 1) + 1] !== 0) i = (i + 1) & mask;
    slots[i << 1] = lo;
    slots[(i << 1) + 1] = hi;
  }

  #grow(): number {
    const old = this.slots;
    const next = new Uint32Array(old.length * 2);
    for (let j = 0; j < old.length; j += 2) {
      const lo = old[j]!;
      const hi = old[j + 1]!;
      if (lo !== 0 || hi !== 0) this.#place(next, lo, hi);
    }
    this.slots = next;
    return next.byteLength - old.byteLength;
  }
}

/** Passed to `onFloorRaise`, at most once a minute: why the effective window shrank. */
export interface FloorRaiseReport {
  /** Oldest oauth_timestamp (seconds) still accepted. */
  readonly floor: number;
  readonly effectiveWindowMs: number;
  readonly maxEntries: number;
  /** Floor raises since the previous report. */
  readonly raises: number;
  /** Nonces dropped with the raised-over buckets since the previous report. */
  readonly dropped: number;
}

export interface MemoryNonceStoreOptions {
  /** Most nonces remembered at once (default DEFAULT_MAX_NONCES). */
  readonly maxEntries?: number;
  /** Called when the floor had to rise to stay within maxEntries; at most once per minute. */
  readonly onFloorRaise?: (report: FloorRaiseReport) => void;
}

export class MemoryNonceStore implements NonceStore {
  readonly #buckets = new Map<number, Bucket>();
  /** Timestamps of #buckets, ascending. */
  #order: number[] = [];
  #floor = Number.NEGATIVE_INFINITY;
  /** Future seconds given up under pressure: [lo, hi] pairs, ascending, disjoint, not adjacent. */
  #cuts: number[] = [];
  #clock = Number.NEGATIVE_INFINITY;
  #windowMs = 0;
  #entries = 0;
  #bytes = 0;
  #maxEntries: number;
  #floorRaises = 0;
  #onFloorRaise: ((report: FloorRaiseReport) => void) | undefined;
  #unreported = { raises: 0, dropped: 0 };
  #lastReportAt = Number.NEGATIVE_INFINITY;
  /** Keys the hash so clients can neither aim for a collision nor pile keys onto one probe chain. */
  readonly #secret = randomBytes(16).toString('base64');

  constructor(options: MemoryNonceStoreOptions = {}) {
    this.#maxEntries = Math.max(1, Math.floor(options.maxEntries ?? DEFAULT_MAX_NONCES));
    this.#onFloorRaise = options.onFloorRaise;
  }

  /** A reload may change the bound; a lower one is applied at once (oldest buckets, floor raised). */
  configure(options: MemoryNonceStoreOptions): void {
    this.#maxEntries = Math.max(1, Math.floor(options.maxEntries ?? DEFAULT_MAX_NONCES));
    this.#onFloorRaise = options.onFloorRaise;
    if (this.#entries > this.#maxEntries) {
      let dropped = 0;
      while (this.#entries > this.#maxEntries) {
        const oldest = this.#order[0]!;
        dropped += this.#buckets.get(oldest)!.count;
        this.#raiseFloorTo(oldest + 1);
      }
      this.#countRaise(dropped);
    }
  }

  claim(claim: NonceClaim): Promise<NonceVerdict> {
    return Promise.resolve(this.judge(claim));
  }

  /** The claim, synchronously from lookup to insert: of two concurrent claims of a key one wins. */
  judge({ key, timestamp, windowMs, now }: NonceClaim): NonceVerdict {
    if (now > this.#clock) this.#clock = now;
    this.#windowMs = windowMs;
    // Expiry (proof step 2): below this no timestamp can pass the verifier's window any more.
    const expiredBelow = Math.ceil((this.#clock - windowMs) / 1000);
    if (expiredBelow > this.#floor) this.#raiseFloorTo(expiredBelow);
    if (this.refuses(timestamp)) return 'stale';

    // One-shot hash (no Hash object): ~2× cheaper than createHash().update().digest().
    const digest = hash('sha1', this.#secret + key, 'buffer');
    let lo = digest.readUInt32LE(0);
    const hi = digest.readUInt32LE(4);
    if (lo === 0 && hi === 0) lo = 1;

    let bucket = this.#buckets.get(timestamp);
    if (bucket?.has(lo, hi) === true) return 'replayed';
    if (this.#entries >= this.#maxEntries && !this.#makeRoomFor(timestamp)) return 'stale';
    if (bucket === undefined) {
      bucket = new Bucket();
      this.#buckets.set(timestamp, bucket);
      this.#insertOrder(timestamp);
      this.#bytes += bucket.slots.byteLength + BUCKET_OVERHEAD_BYTES;
    }
    this.#bytes += bucket.add(lo, hi);
    this.#entries++;
    return 'fresh';
  }

  /** Nonces remembered now. */
  get size(): number {
    return this.#entries;
  }

  /** Oldest oauth_timestamp (seconds) a claim may carry; -Infinity before the first claim. */
  get floor(): number {
    return this.#floor;
  }

  /** Whether every claim with this timestamp is refused as stale (below the floor, or cut). */
  refuses(timestamp: number): boolean {
    if (!(timestamp >= this.#floor)) return true;
    const cuts = this.#cuts;
    for (let i = 0; i < cuts.length; i += 2) {
      if (timestamp < cuts[i]!) return false;
      if (timestamp <= cuts[i + 1]!) return true;
    }
    return false;
  }

  /** `windowMs`: the configured window (what the effective window is before the first claim). */
  stats(windowMs = this.#windowMs): NonceStoreStats {
    return {
      entries: this.#entries,
      bytes: this.#bytes,
      floorRaises: this.#floorRaises,
      effectiveWindowMs: this.#effectiveWindowMs(windowMs),
    };
  }

  async close(): Promise<void> {
    this.#buckets.clear();
    this.#order = [];
    this.#cuts = [];
    this.#entries = 0;
    this.#bytes = 0;
  }

  #effectiveWindowMs(windowMs = this.#windowMs): number {
    if (this.#clock === Number.NEGATIVE_INFINITY) return windowMs;
    return Math.max(0, Math.min(windowMs, this.#clock - this.#floor * 1000));
  }

  /**
   * Pressure (proof step 2): drop the bucket farthest from now — the oldest (floor raised past it) or
   * the newest (cut) — while it is farther from now than `timestamp`, until there is room. False
   * when no such bucket is left: the caller refuses the claim. Farther than the claim also means the
   * claim's own second stays acceptable: oldest < timestamp < newest for the bucket dropped.
   */
  #makeRoomFor(timestamp: number): boolean {
    const nowSec = this.#clock / 1000;
    const distance = Math.abs(timestamp - nowSec);
    let dropped = 0;
    let raised = false;
    while (this.#entries >= this.#maxEntries) {
      const oldest = this.#order[0];
      if (oldest === undefined) break;
      const newest = this.#order[this.#order.length - 1]!;
      if (newest - nowSec > nowSec - oldest) {
        if (newest - nowSec <= distance) break;
        dropped += this.#buckets.get(newest)!.count;
        this.#cut(newest);
      } else {
        if (nowSec - oldest <= distance) break;
        dropped += this.#buckets.get(oldest)!.count;
        this.#raiseFloorTo(oldest + 1);
      }
      raised = true;
    }
    if (raised) this.#countRaise(dropped);
    return this.#entries < this.#maxEntries;
  }

  /** Drops the newest bucket and refuses its second from now on (merged with adjacent cuts). */
  #cut(timestamp: number): void {
    this.#removeBucket(timestamp);
    this.#order.pop();
    const cuts = this.#cuts;
    let i = 0;
    while (i < cuts.length && cuts[i]! < timestamp) i += 2;
    // No bucket lies inside a cut, and `timestamp` was a bucket: it is in no cut yet.
    const joinsBefore = i > 0 && cuts[i - 1]! === timestamp - 1;
    const joinsAfter = i < cuts.length && cuts[i]! === timestamp + 1;
    if (joinsBefore && joinsAfter) {
      cuts.splice(i - 1, 2);
    } else if (joinsBefore) {
      cuts[i - 1] = timestamp;
    } else if (joinsAfter) {
      cuts[i] = timestamp;
    } else {
      cuts.splice(i, 0, timestamp, timestamp);
    }
  }

  #removeBucket(timestamp: number): void {
    const bucket = this.#buckets.get(timestamp)!;
    this.#entries -= bucket.count;
    this.#bytes -= bucket.slots.byteLength + BUCKET_OVERHEAD_BYTES;
    this.#buckets.delete(timestamp);
  }

  #countRaise(dropped: number): void {
    this.#floorRaises++;
    this.#unreported.raises++;
    this.#unreported.dropped += dropped;
    this.#report();
  }

  /** F := floor (never lower), and every bucket below it goes. */
  #raiseFloorTo(floor: number): void {
    if (floor <= this.#floor) return;
    this.#floor = floor;
    let k = 0;
    while (k < this.#order.length && this.#order[k]! < floor) {
      this.#removeBucket(this.#order[k]!);
      k++;
    }
    if (k > 0) this.#order.splice(0, k);
    // Cuts wholly below the floor are covered by it now.
    let c = 0;
    while (c < this.#cuts.length && this.#cuts[c + 1]! < floor) c += 2;
    if (c > 0) this.#cuts.splice(0, c);
  }

  /** Timestamps mostly arrive in order: search from the end. */
  #insertOrder(timestamp: number): void {
    const order = this.#order;
    let i = order.length;
    while (i > 0 && order[i - 1]! > timestamp) i--;
    if (i === order.length) order.push(timestamp);
    else order.splice(i, 0, timestamp);
  }

  #report(): void {
    if (this.#onFloorRaise === undefined || this.#clock - this.#lastReportAt < WARN_INTERVAL_MS) return;
    this.#lastReportAt = this.#clock;
    const { raises, dropped } = this.#unreported;
    this.#unreported = { raises: 0, dropped: 0 };
    this.#onFloorRaise({
      floor: this.#floor,
      effectiveWindowMs: this.#effectiveWindowMs(),
      maxEntries: this.#maxEntries,
      raises,
      dropped,
    });
  }
}

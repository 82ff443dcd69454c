import type { createLocalJWKSet, JSONWebKeySet } from 'jose';
import { loadJose } from '../jose.js';
import { readBoundedText } from '../oauth2-client-http.js';
import { BackendFault, transportFault } from '../observability/backend-failures.js';
import { Pool } from '../undici-pool.js';

/**
 * The issuer's JSON Web Key Set, fetched and kept fresh on the injected clock. Its one job is to
 * decide when to (re)fetch:
 *
 * - keys older than `maxAgeMs` are refetched before use;
 * - an unknown `kid` may be a key the AS published since the last fetch (a rotation), so it
 *   refetches at once whenever the last fetch is older than `unknownKidFloorMs` (1 s): a rotated
 *   key works within about a second, and a stream of forged kids costs the AS at most one fetch a
 *   second;
 * - after a failed fetch, the keys already held keep verifying (stale-if-error) and the endpoint
 *   is left alone for `failureBackoffMs` (`jwksCooldown`); with no keys at all, for at most 1 s;
 * - concurrent fetches are coalesced into one.
 *
 * Fetch failures are BackendFaults naming the HTTP status or transport error, for the warn line.
 */

export interface RemoteJwksOptions {
  readonly uri: string;
  /** Unix milliseconds. */
  readonly now: () => number;
  readonly maxAgeMs: number;
  readonly unknownKidFloorMs: number;
  readonly failureBackoffMs: number;
  readonly timeoutMs: number;
}

/** A key set far larger than any real JWKS is a misbehaving endpoint. */
const MAX_JWKS_BYTES = 512 * 1024;
/** With no keys, nothing stale can answer: retry soon so the gateway recovers with the AS. */
const NO_KEYS_BACKOFF_MS = 1_000;

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * One GET of the key set over a one-connection undici Pool, closed afterwards (fetches are rare:
 * once per maxAge, at most once a second on unknown kids). Not the global `fetch`: its first use
 * loads Node's own bundled copy of undici, ≈13 MB of resident memory for a JWT-only sidecar.
 * Redirects are not followed (a 3xx is an http_status fault, as before).
 */
async function fetchKeySet(uri: string, timeoutMs: number): Promise<LocalKeySet> {
  const jose = await loadJose();
  const url = new URL(uri);
  const pool = new Pool(url.origin, {
    connections: 1,
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  let status: number;
  let text: string | undefined;
  try {
    const response = await pool.request({
      method: 'GET',
      path: `${url.pathname}${url.search}`,
      headers: { accept: 'application/json, application/jwk-set+json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = response.statusCode;
    const TOO_LARGE = new Error('JWKS body too large');
    text = await readBoundedText(response.body, MAX_JWKS_BYTES, () => TOO_LARGE).catch((error: unknown) => {
      if (error === TOO_LARGE) return undefined;
      throw error;
    });
  } catch (error) {
    throw transportFault('jwks', error);
  } finally {
    pool.destroy().catch(() => {});
  }
  if (status !== 200) throw new BackendFault('jwks', 'http_status', { status });
  if (text === undefined) {
    throw new BackendFault('jwks', 'malformed_response', { status: 200, field: '(body too large)' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackendFault('jwks', 'malformed_response', { status: 200, field: '(not JSON)' });
  }
  try {
    // Throws unless this is a JWK Set (RFC 7517 §5): an object with a `keys` array of objects.
    return jose.createLocalJWKSet(json as JSONWebKeySet);
  } catch {
    throw new BackendFault('jwks', 'malformed_response', { status: 200, field: 'keys' });
  }
}

export class RemoteJwks {
  readonly #options: RemoteJwksOptions;
  #keys: LocalKeySet | undefined;
  /** Bumped by every successful fetch: a caller can tell that keys changed under it. */
  #generation = 0;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #failedAt = Number.NEGATIVE_INFINITY;
  #lastFault: BackendFault | undefined;
  #pending: Promise<void> | undefined;

  constructor(options: RemoteJwksOptions) {
    this.#options = options;
  }

  /** jose's key lookup over the keys held (undefined before the first successful fetch). */
  get keys(): LocalKeySet | undefined {
    return this.#keys;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Why the last fetch failed, if it did. */
  get lastFault(): BackendFault | undefined {
    return this.#lastFault;
  }

  /** Unix ms from which a fetch may start: the floor after a success, the backoff after a failure. */
  nextFetchAt(): number {
    const { unknownKidFloorMs, failureBackoffMs } = this.#options;
    if (this.#failedAt > this.#fetchedAt) {
      const backoff =
        this.#keys === undefined ? Math.min(NO_KEYS_BACKOFF_MS, failureBackoffMs) : failureBackoffMs;
      return this.#failedAt + backoff;
    }
    return this.#fetchedAt + unknownKidFloorMs;
  }

  /** Keys are missing or older than maxAge, and a fetch is allowed now. */
  wantsRefresh(nowMs: number): boolean {
    const due = this.#keys === undefined || nowMs - this.#fetchedAt >= this.#options.maxAgeMs;
    return due && nowMs >= this.nextFetchAt();
  }

  /**
   * A token named a kid the keys held do not have (they had generation `seen`). Resolves true when
   * newer keys are now held (fetched by this call or by a concurrent one), false when a fetch is
   * not allowed yet. Rejects with the BackendFault of a failed fetch.
   */
  async refreshForUnknownKid(seen: number): Promise<boolean> {
    if (this.#generation !== seen) return true;
    if (this.#pending !== undefined) {
      await this.#pending.catch(() => {});
      return this.#generation !== seen;
    }
    if (this.#options.now() < this.nextFetchAt()) return false;
    await this.refresh();
    return this.#generation !== seen;
  }

  /** Fetch now (joining a fetch in flight). Rejects with a BackendFault. */
  refresh(): Promise<void> {
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #fetch(): Promise<void> {
    const { uri, timeoutMs, now } = this.#options;
    try {
      this.#keys = await fetchKeySet(uri, timeoutMs);
      this.#generation++;
      this.#fetchedAt = now();
      this.#lastFault = undefined;
    } catch (error) {
      this.#failedAt = now();
      this.#lastFault = error instanceof BackendFault ? error : transportFault('jwks', error);
      throw this.#lastFault;
    }
  }
}

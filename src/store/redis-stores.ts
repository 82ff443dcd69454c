/**
 * Stores on top of a RedisConnection (see redis.ts for the key layout and the fail-closed
 * contract). Nothing here imports ioredis.
 */
import { sha256Hex } from '../hash.js';
import { RecordCache } from './record-cache.js';
import type { RedisConnection } from './redis.js';
import type { RedisPolicyGuard } from './redis-policy.js';
import { decodeBearerHash, decodeClientHash, decodeTokenHash } from './redis-records.js';
import type {
  BearerToken,
  CredentialStore,
  NonceClaim,
  NonceStore,
  NonceVerdict,
  OAuth1Client,
  OAuth1Token,
  SharedCache,
} from './types.js';

// ── Nonces ─────────────────────────────────────────────────────────────────────────────────────

/**
 * RFC 5849 §3.3 replay protection shared by every replica: one atomic SET NX PX per claim, so of
 * N concurrent requests with the same nonce (on any gateways) exactly one wins.
 */
export class RedisNonceStore implements NonceStore {
  readonly #redis: RedisConnection;
  readonly #namespace: string;
  readonly #policy: RedisPolicyGuard | undefined;

  /**
   * `namespace`: `oauth1:nonce:` (DESIGN "Redis layout") or `dpop:jti:` for DPoP proofs. `policy`:
   * refuses claims (503) while Redis runs an evicting maxmemory-policy that was not allowed.
   */
  constructor(redis: RedisConnection, namespace = 'oauth1:nonce:', policy?: RedisPolicyGuard) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#policy = policy;
  }

  /**
   * `key` is `${clientId}:${token}:${timestamp}:${nonce}` as the verifier builds it. Kept 2 × window
   * from now: a request is accepted while |timestamp − now| ≤ window, so its nonce can matter until
   * timestamp + window ≤ now + 2 × window (DESIGN "Redis layout"); the margin also covers replicas
   * whose clocks disagree. No floor: Redis never drops a key early unless its maxmemory-policy evicts,
   * which the gateway refuses to run with (redis-policy.ts).
   */
  async claim(claim: NonceClaim): Promise<NonceVerdict> {
    if (this.#policy !== undefined) await this.#policy.beforeClaim();
    const ttlMs = Math.max(1, 2 * claim.windowMs);
    return (await this.#redis.setIfAbsent(`${this.#namespace}${claim.key}`, '1', ttlMs))
      ? 'fresh'
      : 'replayed';
  }

  /** The connection belongs to whoever created it (it is shared); nothing to release here. */
  async close(): Promise<void> {}
}

// ── Credentials ────────────────────────────────────────────────────────────────────────────────

export interface RedisCredentialStoreOptions {
  /** `credentials.cacheTtl` in ms. */
  readonly cacheTtlMs: number;
  /** Per record type; default 100 000. */
  readonly maxEntries?: number;
}

/**
 * Credentials an authorization server writes into Redis (layout at the top of this file).
 *
 * Revocation bound: a record changed or deleted in Redis at time t is no longer used after
 * t + cacheTtl + one Redis round trip (≤ commandTimeout) — the age of a cached answer is counted
 * from when Redis returned it and is never extended by use or by Redis being down. Unknown ids are
 * cached the same way, so a record created at t is seen by t + cacheTtl at the latest.
 */
export class RedisCredentialStore implements CredentialStore {
  readonly #redis: RedisConnection;
  readonly #clients: RecordCache<OAuth1Client>;
  readonly #tokens: RecordCache<OAuth1Token>;
  readonly #bearerTokens: RecordCache<BearerToken>;

  constructor(redis: RedisConnection, options: RedisCredentialStoreOptions) {
    this.#redis = redis;
    const max = options.maxEntries ?? 100_000;
    const ttl = options.cacheTtlMs;
    this.#clients = new RecordCache(
      async (clientId) => decodeClientHash(clientId, await redis.getHash(`oauth1:client:${clientId}`)),
      { ttlMs: ttl, maxEntries: max },
    );
    this.#tokens = new RecordCache(
      async (token) => decodeTokenHash(token, await redis.getHash(`oauth1:token:${token}`)),
      { ttlMs: ttl, maxEntries: max },
    );
    this.#bearerTokens = new RecordCache(
      async (tokenHash) => decodeBearerHash(await redis.getHash(`oauth2:token:${tokenHash}`)),
      { ttlMs: ttl, maxEntries: max },
    );
  }

  getClient(clientId: string): Promise<OAuth1Client | undefined> {
    return this.#clients.get(clientId, clientId);
  }

  getToken(token: string): Promise<OAuth1Token | undefined> {
    return this.#tokens.get(token, token);
  }

  getBearerToken(accessToken: string): Promise<BearerToken | undefined> {
    const key = sha256Hex(accessToken);
    return this.#bearerTokens.get(key, key);
  }

  ping(): Promise<boolean> {
    return this.#redis.ping();
  }

  /** Drops the caches; the shared connection is closed by its owner. */
  async close(): Promise<void> {
    this.#clients.clear();
    this.#tokens.clear();
    this.#bearerTokens.clear();
  }
}

// ── Introspection L2 ───────────────────────────────────────────────────────────────────────────

export interface RedisSharedTokenCacheOptions<T> {
  /** Checks what came out of Redis; return undefined to treat it as a miss. Default: trust it. */
  readonly revive?: (value: unknown) => T | undefined;
}

/**
 * Introspection results shared by all replicas under `introspect:{sha256hex(token)}` (the caller
 * passes the hex key), so N gateways make one introspection call per token, and deleting the key
 * pushes a revocation. Values are JSON; an unparsable value is a miss. Redis failures reject with
 * TemporarilyUnavailable; the caller decides whether to fall back to introspecting directly.
 */
export class RedisSharedTokenCache<T> implements SharedCache<T> {
  readonly #redis: RedisConnection;
  readonly #revive: (value: unknown) => T | undefined;

  constructor(redis: RedisConnection, options: RedisSharedTokenCacheOptions<T> = {}) {
    this.#redis = redis;
    this.#revive = options.revive ?? ((value) => (value === null ? undefined : (value as T)));
  }

  async get(key: string): Promise<T | undefined> {
    const text = await this.#redis.get(`introspect:${key}`);
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    return this.#revive(value);
  }

  async set(key: string, value: T, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    await this.#redis.set(`introspect:${key}`, JSON.stringify(value), ttlMs);
  }

  async delete(key: string): Promise<void> {
    await this.#redis.del(`introspect:${key}`);
  }
}

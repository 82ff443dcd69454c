/**
 * Everything Redis: the one module that imports ioredis.
 *
 * Key layout (all keys start with `redis.keyPrefix`, default `oauth-gateway:`; DESIGN.md
 * "Redis layout", so an authorization server can write what the gateway reads):
 *   oauth1:client:{clientId}                       hash  clientId, clientSecret, rsaPublicKey
 *   oauth1:token:{token}                           hash  token, tokenSecret, clientId, userId, scope
 *   oauth2:token:{sha256hex(accessToken)}          hash  accessToken?, clientId, userId, scope,
 *                                                        revoked (0/1/true/false), issuedAt,
 *                                                        expiresIn, audience
 *   oauth1:nonce:{clientId}:{token}:{ts}:{nonce}   string "1", SET NX PX (RFC 5849 §3.3)
 *   introspect:{sha256hex(token)}                  string JSON TokenInfo, SET PX
 *
 * Fail closed: every operation either answers or rejects with TemporarilyUnavailable (503) within
 * about `commandTimeout` (at most 2 × commandTimeout when a connect is already under way). There
 * is no offline queue: while Redis is unreachable, commands fail at once instead of piling up, so
 * a possibly replayed nonce is never accepted and an uncached credential is never guessed. The
 * client reconnects on its own with capped exponential backoff; the stores need no restart.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { RedisConfig } from '../config/schema.js';
import { TemporarilyUnavailable } from '../errors.js';
import { sha256Hex } from './records.js';
import { decodeBearerHash, decodeClientHash, decodeTokenHash } from './redis-records.js';
import type { BearerToken, CredentialStore, NonceStore, OAuth1Client, OAuth1Token } from './types.js';

// ── Connection ─────────────────────────────────────────────────────────────────────────────────

/**
 * The narrow set of commands the stores use. Keys are relative: the connection adds
 * `redis.keyPrefix`. Every method except ping/close/isReady rejects with TemporarilyUnavailable
 * when Redis cannot answer in time.
 */
export interface RedisConnection {
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  /** Connected and not reconnecting (cheap; for metrics and /readyz). */
  isReady(): boolean;
  /** PING within commandTimeout; never rejects. */
  ping(): Promise<boolean>;
  /** SET key value NX PX ttl: true if the key was absent and is now set. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
  /** HGETALL: `{}` when the key does not exist. */
  getHash(key: string): Promise<Readonly<Record<string, string>>>;
  /** QUIT (bounded), then drop the socket and stop reconnecting. */
  close(): Promise<void>;
}

export interface RedisClientEvents {
  /** Connection errors (refused, reset, auth); already redacted of nothing secret by ioredis. */
  onError?: (error: Error) => void;
  onReady?: () => void;
}

type Client = Redis | Cluster;

/**
 * A key holding another type (a string where a hash belongs) is a malformed record, i.e. unknown
 * (401), not an outage (503). Every other error still fails the operation.
 */
function unlessWrongType<T>(empty: T): (error: unknown) => T {
  return (error) => {
    if (error instanceof Error && error.message.startsWith('WRONGTYPE')) return empty;
    throw error;
  };
}

/** A connect is in progress: worth waiting (bounded) for it rather than failing the request. */
const CONNECTING = new Set(['wait', 'connecting', 'connect']);
const RECONNECT_BASE_MS = 50;

class IoRedisConnection implements RedisConnection {
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly #client: Client;
  #readyWaiter: Promise<void> | undefined;

  constructor(client: Client, keyPrefix: string, commandTimeoutMs: number) {
    this.#client = client;
    this.keyPrefix = keyPrefix;
    this.commandTimeoutMs = commandTimeoutMs;
  }

  isReady(): boolean {
    return this.#client.status === 'ready';
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.#run((client) => client.ping())) === 'PONG';
    } catch {
      return false;
    }
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const full = this.keyPrefix + key;
    const ttl = Math.max(1, Math.ceil(ttlMs));
    return this.#run(async (client) => (await client.set(full, value, 'PX', ttl, 'NX')) === 'OK');
  }

  get(key: string): Promise<string | undefined> {
    const full = this.keyPrefix + key;
    return this.#run(async (client) => (await client.get(full).catch(unlessWrongType(null))) ?? undefined);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    const full = this.keyPrefix + key;
    const ttl = Math.max(1, Math.ceil(ttlMs));
    return this.#run(async (client) => {
      await client.set(full, value, 'PX', ttl);
    });
  }

  del(key: string): Promise<void> {
    const full = this.keyPrefix + key;
    return this.#run(async (client) => {
      await client.del(full);
    });
  }

  getHash(key: string): Promise<Readonly<Record<string, string>>> {
    const full = this.keyPrefix + key;
    return this.#run((client) => client.hgetall(full).catch(unlessWrongType({})));
  }

  async close(): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.quit().catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.commandTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    client.disconnect();
  }

  async #run<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    try {
      if (this.#client.status !== 'ready') await this.#whenReady();
      return await operation(this.#client);
    } catch (error) {
      throw error instanceof TemporarilyUnavailable ? error : new TemporarilyUnavailable(error);
    }
  }

  /**
   * Waits for a connect already under way (start-up, or a reconnect attempt in flight), at most
   * commandTimeout; between attempts (status `reconnecting`) or after close it fails at once.
   */
  #whenReady(): Promise<void> {
    const client = this.#client;
    if (!CONNECTING.has(client.status)) {
      return Promise.reject(new TemporarilyUnavailable(new Error(`redis connection is ${client.status}`)));
    }
    this.#readyWaiter ??= new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('close', onClose);
        client.off('end', onClose);
        this.#readyWaiter = undefined;
        if (error === undefined) resolve();
        else reject(new TemporarilyUnavailable(error));
      };
      const onReady = () => settle();
      const onClose = () => settle(new Error('redis connection closed while connecting'));
      const timer = setTimeout(
        () => settle(new Error('redis not ready within commandTimeout')),
        this.commandTimeoutMs,
      );
      client.once('ready', onReady);
      client.once('close', onClose);
      client.once('end', onClose);
    });
    return this.#readyWaiter;
  }
}

interface UrlParts {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  db: number;
  tls: boolean;
}

function parseRedisUrl(url: string): UrlParts {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    // URL keeps IPv6 hosts in brackets; sockets want them bare.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    username: parsed.username === '' ? undefined : decodeURIComponent(parsed.username),
    password: parsed.password === '' ? undefined : decodeURIComponent(parsed.password),
    db: /^\d+$/.test(db) ? Number(db) : 0,
    tls: parsed.protocol === 'rediss:',
  };
}

function backoff(maxDelayMs: number): (attempt: number) => number {
  // Never gives up (no `null`): Redis coming back must heal the gateway without a restart.
  return (attempt) => Math.min(RECONNECT_BASE_MS * 2 ** Math.min(attempt, 20), Math.max(maxDelayMs, 1));
}

/**
 * Connects to Redis as configured: `sentinels` → Sentinel, `cluster` → Cluster, else the
 * standalone `url`. Credentials and TLS come from the URL in every mode (`rediss://user:pass@…`,
 * typically `${REDIS_URL}` from the environment). The connection starts at once.
 */
export function createRedisClient(config: RedisConfig, events: RedisClientEvents = {}): RedisConnection {
  const url = parseRedisUrl(config.url);
  const retry = backoff(config.maxReconnectDelay);
  const common: RedisOptions = {
    connectTimeout: config.connectTimeout,
    commandTimeout: config.commandTimeout,
    // No offline queue and no resend: a command either goes out now or fails now. Resending a
    // nonce SET after a reconnect could turn a request whose reply was lost into a "replay".
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    enableReadyCheck: true,
    // After a Sentinel/managed failover the old master turns replica and refuses writes: drop the
    // connection so the next attempt finds the new master (1 = reconnect, do not resend).
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 1 : false),
    ...(url.username === undefined ? {} : { username: url.username }),
    ...(url.password === undefined ? {} : { password: url.password }),
    ...(url.tls ? { tls: {} } : {}),
  };

  let client: Client;
  if (config.cluster !== undefined) {
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      enableReadyCheck: true,
      clusterRetryStrategy: retry,
      slotsRefreshTimeout: config.commandTimeout,
      // ioredis keeps an offline queue on its lazily connected node connections whatever we pass;
      // the cluster-level enableOfflineQueue above is what makes user commands fail fast.
      redisOptions: common,
    };
    client = new Cluster(
      config.cluster.map((node) => ({ host: node.host, port: node.port })),
      options,
    );
  } else if (config.sentinels !== undefined) {
    client = new Redis({
      ...common,
      db: url.db,
      sentinels: config.sentinels.map((node) => ({ host: node.host, port: node.port })),
      name: config.sentinelName ?? 'mymaster',
      role: 'master',
      retryStrategy: retry,
      sentinelRetryStrategy: retry,
      ...(config.sentinelPassword === undefined ? {} : { sentinelPassword: config.sentinelPassword }),
      ...(url.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    });
  } else {
    client = new Redis({ ...common, host: url.host, port: url.port, db: url.db, retryStrategy: retry });
  }

  // Always listen: an 'error' event without a listener is printed by ioredis on every retry.
  client.on('error', (error: Error) => events.onError?.(error));
  if (client instanceof Cluster) client.on('node error', (error: Error) => events.onError?.(error));
  client.on('ready', () => events.onReady?.());
  return new IoRedisConnection(client, config.keyPrefix, config.commandTimeout);
}

// ── Nonces ─────────────────────────────────────────────────────────────────────────────────────

/**
 * RFC 5849 §3.3 replay protection shared by every replica: one atomic SET NX PX per claim, so of
 * N concurrent requests with the same nonce (on any gateways) exactly one wins.
 */
export class RedisNonceStore implements NonceStore {
  readonly #redis: RedisConnection;

  constructor(redis: RedisConnection) {
    this.#redis = redis;
  }

  /** `key` is `${clientId}:${token}:${timestamp}:${nonce}` as the verifier builds it. */
  claim(key: string, ttlMs: number): Promise<boolean> {
    return this.#redis.setIfAbsent(`oauth1:nonce:${key}`, '1', ttlMs);
  }

  /** The connection belongs to whoever created it (it is shared); nothing to release here. */
  async close(): Promise<void> {}
}

// ── Credentials ────────────────────────────────────────────────────────────────────────────────

interface Cached<T> {
  readonly value: T | undefined;
}

/**
 * An lru-cache in front of one record type: positive and negative results kept `ttlMs` from the
 * moment Redis answered, concurrent misses for a key coalesced into one HGETALL (fetchMethod).
 * A failed fetch caches nothing and rejects (→ 503). ttlMs 0 disables caching.
 */
class RecordCache<T> {
  readonly #load: (key: string) => Promise<T | undefined>;
  readonly #cache: LRUCache<string, Cached<T>> | undefined;

  constructor(load: (key: string) => Promise<T | undefined>, ttlMs: number, maxEntries: number) {
    this.#load = load;
    this.#cache =
      ttlMs > 0
        ? new LRUCache<string, Cached<T>>({
            max: maxEntries,
            ttl: ttlMs,
            // An entry's age counts from the Redis read, never refreshed by use: that is the bound.
            updateAgeOnGet: false,
            allowStale: false,
            fetchMethod: async (key) => ({ value: await load(key) }),
          })
        : undefined;
  }

  async get(key: string): Promise<T | undefined> {
    if (this.#cache === undefined) return this.#load(key);
    return (await this.#cache.fetch(key))?.value;
  }

  clear(): void {
    this.#cache?.clear();
  }
}

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
      ttl,
      max,
    );
    this.#tokens = new RecordCache(
      async (token) => decodeTokenHash(token, await redis.getHash(`oauth1:token:${token}`)),
      ttl,
      max,
    );
    this.#bearerTokens = new RecordCache(
      async (tokenHash) => decodeBearerHash(await redis.getHash(`oauth2:token:${tokenHash}`)),
      ttl,
      max,
    );
  }

  getClient(clientId: string): Promise<OAuth1Client | undefined> {
    return this.#clients.get(clientId);
  }

  getToken(token: string): Promise<OAuth1Token | undefined> {
    return this.#tokens.get(token);
  }

  getBearerToken(accessToken: string): Promise<BearerToken | undefined> {
    return this.#bearerTokens.get(sha256Hex(accessToken));
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

/**
 * Same shape as `SharedTokenCache` in src/introspect/shared-cache.ts (defined there by the
 * introspection module; kept structural here so store/ does not depend on introspect/).
 */
export interface SharedCache<T> {
  get(key: string): Promise<T | undefined>;
  set(key: string, value: T, ttlMs: number): Promise<void>;
}

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

/**
 * The Redis connection: the one module that imports ioredis. The stores built on it live in
 * redis-stores.ts (they only need the RedisConnection interface), so a gateway that uses no Redis
 * never loads ioredis (~11 MB of RSS): runtime.ts imports this module on demand.
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
import type { RedisConfig } from '../config/schema.js';
import { TemporarilyUnavailable } from '../errors.js';
import { BackendFault } from '../observability/backend-failures.js';

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
  /**
   * `maxmemory-policy` by CONFIG GET, else from INFO memory (CONFIG is often renamed or forbidden);
   * undefined when Redis refuses both. Rejects with TemporarilyUnavailable when Redis cannot answer.
   */
  readMaxmemoryPolicy(): Promise<string | undefined>;
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

/** Redis answered with an error (unknown/renamed command, NOPERM): not an outage. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

const MAXMEMORY_POLICY_LINE = /^maxmemory_policy:(\S+)/m;

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

  readMaxmemoryPolicy(): Promise<string | undefined> {
    return this.#run(async (client) => {
      try {
        const reply: unknown = await client.config('GET', 'maxmemory-policy');
        if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1];
      } catch (error) {
        if (!isReplyError(error)) throw error;
      }
      try {
        const info = await client.info('memory');
        const policy = MAXMEMORY_POLICY_LINE.exec(info)?.[1];
        if (policy !== undefined) return policy;
      } catch (error) {
        if (!isReplyError(error)) throw error;
      }
      return undefined;
    });
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
      throw error instanceof TemporarilyUnavailable ? error : redisUnavailable(error);
    }
  }

  /**
   * Waits for a connect already under way (start-up, or a reconnect attempt in flight), at most
   * commandTimeout; between attempts (status `reconnecting`) or after close it fails at once.
   */
  #whenReady(): Promise<void> {
    const client = this.#client;
    if (!CONNECTING.has(client.status)) {
      return Promise.reject(redisUnavailable(new Error(`redis connection is ${client.status}`)));
    }
    this.#readyWaiter ??= new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('close', onClose);
        client.off('end', onClose);
        this.#readyWaiter = undefined;
        if (error === undefined) resolve();
        else reject(redisUnavailable(error));
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

export {
  RedisCredentialStore,
  type RedisCredentialStoreOptions,
  RedisNonceStore,
  RedisSharedTokenCache,
  type RedisSharedTokenCacheOptions,
} from './redis-stores.js';
export type { SharedCache } from './types.js';

/** 503 with a cause the backend-failure log can name (the ioredis error code, if it has one). */
function redisUnavailable(error: unknown): TemporarilyUnavailable {
  const code = (error as { code?: unknown } | null)?.code;
  return new TemporarilyUnavailable(
    new BackendFault('redis', 'unavailable', { code: typeof code === 'string' ? code : undefined }),
  );
}

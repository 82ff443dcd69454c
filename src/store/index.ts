import type { CredentialsFile } from '../config/credentials-schema.js';
import { dpopInUse } from '../config/derived.js';
import type { GatewayFileConfig } from '../config/schema.js';
import { FileCredentialStore } from './file.js';
import { type FloorRaiseReport, MemoryNonceStore } from './memory.js';
import type { RedisConnection } from './redis.js';
import type { RedisPolicyGuard } from './redis-policy.js';
import type { SqlDriver } from './sql-driver.js';
import { presetQueries, type SqlQueries } from './sql-queries.js';
import type { SqlStoreObserver } from './sql-store.js';
import type { CredentialStore, NonceStore } from './types.js';

export interface Stores {
  readonly credentials: CredentialStore;
  readonly nonces: NonceStore;
  /** RFC 9449 proof jti values, when any route speaks DPoP; a store of its own (never OAuth1's). */
  readonly dpopJtis: NonceStore | undefined;
}

export interface StoreHooks {
  /** The memory nonce store raised its timestamp floor (at most once a minute). */
  readonly onFloorRaise?: (report: FloorRaiseReport) => void;
  /** The same for the DPoP jti store. */
  readonly onDpopFloorRaise?: (report: FloorRaiseReport) => void;
  /** Watches the maxmemory-policy of the Redis the Redis nonce and jti stores write to. */
  readonly redisPolicy?: RedisPolicyGuard;
}

/** True when the config needs a Redis connection (redis credentials, nonces or shared L2 cache). */
export function needsRedis(config: GatewayFileConfig): boolean {
  return (
    config.credentials.type === 'redis' ||
    config.oauth1.nonceStore.type === 'redis' ||
    (dpopInUse(config) && config.oauth2.dpop.jtiStore.type === 'redis') ||
    config.oauth2.introspection?.cache.shared === true
  );
}

/** The SQL connection settings a pool is built from: equal settings let a reload keep the pool. */
export function sqlConnectionSettings(config: GatewayFileConfig): unknown {
  if (config.credentials.type !== 'sql') return undefined;
  const { url, tls, pool, statementTimeout, notifyChannel } = config.credentials.sql;
  return { url, tls, pool, statementTimeout, notifyChannel };
}

/** The queries the SQL store runs: the preset's, in the database's dialect, or the explicit ones. */
export function sqlQueries(config: GatewayFileConfig, driver: SqlDriver): SqlQueries {
  if (config.credentials.type !== 'sql') return {};
  const { preset, queries } = config.credentials.sql;
  return preset === undefined ? (queries ?? {}) : presetQueries(preset, driver.dialect);
}

export interface SqlDependencies {
  readonly driver: SqlDriver;
  readonly observer?: SqlStoreObserver | undefined;
}

/**
 * Picks the stores the config asks for. `redis` is required when `needsRedis(config)` (the caller
 * owns it and closes it after the stores). On reload pass the previous stores: a memory nonce store
 * is carried over, since starting a fresh one would forget every nonce claimed so far and reopen
 * the replay window (RFC 5849 §3.3) for the rest of the timestamp window.
 * The caller must then not close `previous.nonces` if it is the same object as the new one.
 * Throws ConfigError when file credentials are unusable (e.g. an RSA key that does not parse).
 */
export async function createStores(
  loaded: { readonly config: GatewayFileConfig; readonly credentials: CredentialsFile | undefined },
  redis?: RedisConnection,
  previous?: Stores,
  hooks: StoreHooks = {},
  sql?: SqlDependencies,
): Promise<Stores> {
  const { config } = loaded;
  // The Redis and SQL stores (and the record validation they bring) load only when configured.
  const redisStores = redis === undefined ? undefined : await import('./redis-stores.js');
  const requireRedis = (what: string): RedisConnection => {
    if (redis === undefined) throw new Error(`${what} needs a Redis connection`);
    return redis;
  };

  let credentials: CredentialStore;
  if (config.credentials.type === 'sql') {
    if (sql === undefined) throw new Error('credentials.type: sql needs a database driver');
    const options = config.credentials.sql;
    const { SqlCredentialStore } = await import('./sql-store.js');
    credentials = new SqlCredentialStore(sql.driver, {
      queries: sqlQueries(config, sql.driver),
      cacheTtlMs: options.cacheTtl,
      negativeTtlMs: options.negativeTtl,
      maxEntries: options.cacheMaxEntries,
      maxPending: options.pool.max + options.pool.maxWaiting,
      notifyChannel: options.notifyChannel,
      observer: sql.observer,
    });
  } else if (config.credentials.type === 'redis') {
    const connection = requireRedis('credentials.type: redis');
    credentials = new redisStores!.RedisCredentialStore(connection, {
      cacheTtlMs: config.credentials.cacheTtl,
    });
  } else {
    if (loaded.credentials === undefined)
      throw new Error('credentials.type: file needs the loaded credentials file');
    credentials = new FileCredentialStore(loaded.credentials);
  }

  /**
   * One replay store by the never-forget rule: Redis, or a bounded memory store carried over from
   * the previous runtime (a fresh one would forget every claim and reopen the replay window).
   */
  const replayStore = (
    settings: GatewayFileConfig['oauth1']['nonceStore'],
    namespace: string,
    what: string,
    carried: NonceStore | undefined,
    onFloorRaise: StoreHooks['onFloorRaise'],
  ): NonceStore => {
    if (settings.type === 'redis') {
      const connection = requireRedis(`${what}: redis`);
      return new redisStores!.RedisNonceStore(connection, namespace, hooks.redisPolicy);
    }
    const options = {
      maxEntries: settings.maxEntries,
      ...(onFloorRaise === undefined ? {} : { onFloorRaise }),
    };
    if (carried instanceof MemoryNonceStore) {
      carried.configure(options);
      return carried;
    }
    return new MemoryNonceStore(options);
  };

  const nonces = replayStore(
    config.oauth1.nonceStore,
    'oauth1:nonce:',
    'oauth1.nonceStore',
    previous?.nonces,
    hooks.onFloorRaise,
  );
  const dpopJtis = dpopInUse(config)
    ? replayStore(
        config.oauth2.dpop.jtiStore,
        'dpop:jti:',
        'oauth2.dpop.jtiStore',
        previous?.dpopJtis,
        hooks.onDpopFloorRaise,
      )
    : undefined;

  return { credentials, nonces, dpopJtis };
}

export { createCredentialStoreFromFile, FileCredentialStore } from './file.js';
export { type FloorRaiseReport, MemoryNonceStore } from './memory.js';
// createRedisClient is deliberately not re-exported: importing it loads ioredis, so callers
// import './redis.js' only when the config needs Redis.
export type { RedisClientEvents, RedisConnection } from './redis.js';
export {
  EvictingPolicyError,
  type PolicyState,
  RedisPolicyGuard,
} from './redis-policy.js';
// The Redis and SQL stores are not re-exported: they import the record validation (zod), so
// callers import './redis-stores.js' / './sql-store.js' only when the config uses them.
// The SQL drivers are not re-exported either: runtime.ts loads sql-driver.js's openSqlDriver,
// which imports pg or mysql2 only when the config asks for that database.
export type { SqlDriver } from './sql-driver.js';
export type { SqlStoreObserver } from './sql-store.js';
export type {
  BearerToken,
  CredentialStore,
  NonceClaim,
  NonceStore,
  NonceStoreStats,
  NonceVerdict,
  OAuth1Client,
  OAuth1Token,
} from './types.js';

import type { CredentialsFile } from '../config/credentials-schema.js';
import type { GatewayFileConfig } from '../config/schema.js';
import { FileCredentialStore } from './file.js';
import { type FloorRaiseReport, MemoryNonceStore } from './memory.js';
import type { RedisConnection } from './redis.js';
import { RedisCredentialStore, RedisNonceStore } from './redis-stores.js';
import type { CredentialStore, NonceStore } from './types.js';

export interface Stores {
  readonly credentials: CredentialStore;
  readonly nonces: NonceStore;
}

export interface StoreHooks {
  /** The memory nonce store raised its timestamp floor (at most once a minute). */
  readonly onFloorRaise?: (report: FloorRaiseReport) => void;
}

/** True when the config needs a Redis connection (redis credentials, nonces or shared L2 cache). */
export function needsRedis(config: GatewayFileConfig): boolean {
  return (
    config.credentials.type === 'redis' ||
    config.oauth1.nonceStore.type === 'redis' ||
    config.oauth2.introspection?.cache.shared === true
  );
}

/**
 * Picks the stores the config asks for. `redis` is required when `needsRedis(config)` (the caller
 * owns it and closes it after the stores). On reload pass the previous stores: a memory nonce store
 * is carried over, since starting a fresh one would forget every nonce claimed so far and reopen
 * the replay window (RFC 5849 §3.3) for the rest of the timestamp window.
 * The caller must then not close `previous.nonces` if it is the same object as the new one.
 * Throws ConfigError when file credentials are unusable (e.g. an RSA key that does not parse).
 */
export function createStores(
  loaded: { readonly config: GatewayFileConfig; readonly credentials: CredentialsFile | undefined },
  redis?: RedisConnection,
  previous?: Stores,
  hooks: StoreHooks = {},
): Stores {
  const { config } = loaded;
  const requireRedis = (what: string): RedisConnection => {
    if (redis === undefined) throw new Error(`${what} needs a Redis connection`);
    return redis;
  };

  let credentials: CredentialStore;
  if (config.credentials.type === 'redis') {
    credentials = new RedisCredentialStore(requireRedis('credentials.type: redis'), {
      cacheTtlMs: config.credentials.cacheTtl,
    });
  } else {
    if (loaded.credentials === undefined)
      throw new Error('credentials.type: file needs the loaded credentials file');
    credentials = new FileCredentialStore(loaded.credentials);
  }

  let nonces: NonceStore;
  const nonceStore = config.oauth1.nonceStore;
  if (nonceStore.type === 'redis') {
    nonces = new RedisNonceStore(requireRedis('oauth1.nonceStore: redis'));
  } else {
    const options = {
      maxEntries: nonceStore.maxEntries,
      ...(hooks.onFloorRaise === undefined ? {} : { onFloorRaise: hooks.onFloorRaise }),
    };
    if (previous?.nonces instanceof MemoryNonceStore) {
      nonces = previous.nonces;
      previous.nonces.configure(options);
    } else {
      nonces = new MemoryNonceStore(options);
    }
  }

  return { credentials, nonces };
}

export { createCredentialStoreFromFile, FileCredentialStore } from './file.js';
export { type FloorRaiseReport, MemoryNonceStore } from './memory.js';
// createRedisClient is deliberately not re-exported: importing it loads ioredis, so callers
// import './redis.js' only when the config needs Redis.
export type { RedisClientEvents, RedisConnection } from './redis.js';
export { RedisCredentialStore, RedisNonceStore, RedisSharedTokenCache } from './redis-stores.js';
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

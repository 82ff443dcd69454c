import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { dirname, resolve as resolvePath } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { dpopInUse } from './config/derived.js';
import type { LoadedConfig } from './config/load.js';
import type { AuthMode, GatewayFileConfig } from './config/schema.js';
import type { EgressContext } from './egress/context.js';
import { ConfigError } from './errors.js';
import { type AssertionSigner, createAssertionSigner } from './identity/assertion.js';
import { AssertionKeyError, type AssertionKeySet, loadAssertionKeys } from './identity/assertion-keys.js';
import { createTokenResolver, type TokenResolver } from './introspect/resolver.js';
import { reviveTokenInfo } from './introspect/token-info-codec.js';
import { BackendFailureLog } from './observability/backend-failures.js';
import type { Logger } from './observability/logger.js';
import { countNonceClaims, type Metrics } from './observability/metrics.js';
import { challengesFor, createAuthenticator } from './proxy/authenticate.js';
import type { ProxyContext } from './proxy/context.js';
import { buildHeaderPolicy } from './proxy/headers.js';
import { buildRouteTable, type CompiledRoute } from './proxy/router.js';
import { createOAuth1Scheme, createOAuth2Scheme } from './proxy/schemes.js';
import {
  createStores,
  type FloorRaiseReport,
  MemoryNonceStore,
  type NonceStore,
  type NonceStoreStats,
  needsRedis,
  type RedisConnection,
  RedisPolicyGuard,
  type SqlDriver,
  type SqlStoreObserver,
  type Stores,
  sqlConnectionSettings,
} from './store/index.js';
import { createDpopNonces } from './verify/dpop/nonce.js';
import type { DpopBindingContext, DpopMode } from './verify/dpop/request.js';

/**
 * Everything a request reads, built once per config load and never mutated: the route table,
 * header sets, trusted-proxy list, verifiers, stores. A reload builds a whole new Runtime and swaps
 * the reference; requests already running keep the one they started with. Connections and the
 * nonce store carry over to the next Runtime when their settings are unchanged, so a reload
 * neither drops Redis connections nor forgets claimed nonces.
 */
export interface Runtime extends ProxyContext {
  readonly loaded: LoadedConfig;
  readonly stores: Stores;
  readonly redis: RedisConnection | undefined;
  /** The SQL credential store's pool (credentials.type: sql), carried over by reloads. */
  readonly sql: SqlDriver | undefined;
  readonly tokens: TokenResolver;
  /** Egress routes (signers, token caches), when `egress` is configured. */
  readonly egress: EgressContext | undefined;
  /** Nonce store numbers for metrics (a Redis store reports only the configured window). */
  nonceStats(): NonceStoreStats;
  /** Where 503 causes and refused backend answers are logged and counted. */
  readonly backendFailures: BackendFailureLog;
  /** The identity assertion keys (their JWKS is served on the admin listener), when configured. */
  readonly assertionKeys: AssertionKeySet | undefined;
  /** Backends for /readyz: name → reachable. */
  readiness(): Promise<Record<string, boolean>>;
  /** Risks accepted by configuration that /readyz states without failing (redis.allowEvictingPolicy). */
  readinessWarnings(): readonly string[];
  /** Release what this runtime owns that `next` (the runtime replacing it, if any) does not reuse. */
  close(next: Runtime | undefined): Promise<void>;
}

export interface RuntimeOptions {
  /** Clock for timestamp windows and token expiry (tests inject one). */
  readonly now?: () => number;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** One per process so its rate limit spans reloads; built from logger and metrics if absent. */
  readonly backendFailures?: BackendFailureLog;
}

function buildTrustedProxies(cidrs: readonly string[]): (address: string | undefined) => boolean {
  if (cidrs.length === 0) return () => false;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return (address) => {
    if (address === undefined) return false;
    // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d.
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
  };
}

/** One maxmemory-policy guard per connection (connections outlive reloads when unchanged). */
const policyGuards = new WeakMap<RedisConnection, RedisPolicyGuard>();

function policyGuardFor(
  redis: RedisConnection,
  config: GatewayFileConfig,
  options: RuntimeOptions,
): RedisPolicyGuard {
  let guard = policyGuards.get(redis);
  if (guard === undefined) {
    const { logger, metrics } = options;
    guard = new RedisPolicyGuard(redis, {
      allowEvicting: config.redis.allowEvictingPolicy,
      ...(logger === undefined ? {} : { log: logger }),
      onState: (state) => {
        metrics?.redisEvictingPolicy.reset();
        if (state.kind === 'evicting') metrics?.redisEvictingPolicy.set({ policy: state.policy }, 1);
      },
    });
    policyGuards.set(redis, guard);
  }
  return guard;
}

/**
 * Import the assertion keys of this config (once per load: the request path reuses the KeyObject).
 * A key that is missing was already reported by loadConfig; one that does not parse or does not
 * fit the algorithm fails here, as a ConfigError naming the path, so `check`, start and reload
 * all refuse it.
 */
export async function buildAssertions(
  loaded: LoadedConfig,
  now: () => number,
): Promise<{ keys: AssertionKeySet; signer: AssertionSigner } | undefined> {
  const config = loaded.config.identity.assertion;
  if (config === undefined) return undefined;
  try {
    const keys = await loadAssertionKeys(config, loaded.assertionKeys ?? []);
    return { keys, signer: createAssertionSigner(config, keys, now) };
  } catch (error) {
    if (error instanceof AssertionKeyError) throw new ConfigError(error.issues);
    throw error;
  }
}

async function connectRedis(
  config: GatewayFileConfig,
  previous: Runtime | undefined,
  logger: Logger | undefined,
): Promise<RedisConnection | undefined> {
  if (!needsRedis(config)) return undefined;
  if (previous?.redis !== undefined && isDeepStrictEqual(previous.config.redis, config.redis))
    return previous.redis;
  // Loaded on demand: ioredis costs ~11 MB of RSS that a Redis-less sidecar should not pay.
  const { createRedisClient } = await import('./store/redis.js');
  let lastLogged = 0;
  const connection: RedisConnection = createRedisClient(config.redis, {
    onError: (error) => {
      // ioredis reports every reconnect attempt; one line per 10 s is enough.
      const now = Date.now();
      if (now - lastLogged > 10_000) {
        lastLogged = now;
        logger?.warn({ error: error.message }, 'redis unavailable; requests that need it get 503');
      }
    },
    onReady: () => {
      logger?.info('redis connected');
      // A reconnect may reach another node (failover) with another maxmemory-policy.
      policyGuards.get(connection)?.recheck();
    },
  });
  return connection;
}

/** Per process: server nonces stay valid across reloads (set a shared secret for several replicas). */
const PROCESS_NONCE_SECRET = randomBytes(32);

/** A bounded replay store gave up timestamps (at most once a minute per store). */
function warnFloorRaise(logger: Logger | undefined, setting: string, report: FloorRaiseReport): void {
  logger?.warn(
    {
      cause: `${setting}.maxEntries reached`,
      maxEntries: report.maxEntries,
      floor: report.floor,
      effectiveWindowSeconds: Math.floor(report.effectiveWindowMs / 1000),
      raises: report.raises,
      droppedNonces: report.dropped,
    },
    `replay store full: the timestamps farthest from now are refused as stale instead of forgetting nonces (the effective window shrank); raise ${setting}.maxEntries or use the redis store`,
  );
}

function dpopContext(
  config: GatewayFileConfig,
  jtis: NonceStore,
  metrics: Metrics | undefined,
  now: () => number,
): DpopBindingContext {
  const { dpop } = config.oauth2;
  return {
    policy: { algorithms: new Set(dpop.algorithms), maxAgeMs: dpop.maxAge, skewMs: dpop.clockSkew },
    jtis: countNonceClaims(jtis, metrics, 'dpop'),
    nonces:
      dpop.nonce === 'off'
        ? undefined
        : createDpopNonces(
            dpop.nonce.secret === undefined ? PROCESS_NONCE_SECRET : Buffer.from(dpop.nonce.secret),
            dpop.nonce.rotation,
          ),
    now,
  };
}

async function connectSql(
  loaded: LoadedConfig,
  previous: Runtime | undefined,
  logger: Logger | undefined,
): Promise<SqlDriver | undefined> {
  const { config } = loaded;
  if (config.credentials.type !== 'sql') return undefined;
  if (
    previous?.sql !== undefined &&
    isDeepStrictEqual(sqlConnectionSettings(previous.config), sqlConnectionSettings(config))
  ) {
    return previous.sql;
  }
  // Loaded on demand, like ioredis: pg / mysql2 only when the config names that database.
  const { openSqlDriver } = await import('./store/sql-driver.js');
  const { url, pool, statementTimeout } = config.credentials.sql;
  let { tls } = config.credentials.sql;
  if (tls?.ca !== undefined) {
    // Like listen.tls: relative to gateway.yaml, and a file that cannot be read is a config error.
    const ca = resolvePath(dirname(loaded.path), tls.ca);
    try {
      accessSync(ca, constants.R_OK);
    } catch {
      throw new ConfigError([`credentials.sql.tls.ca: cannot read ${ca}`]);
    }
    tls = { ...tls, ca };
  }
  let lastLogged = 0;
  return openSqlDriver(
    { url, tls, pool, statementTimeout },
    {
      onError: (message) => {
        const now = Date.now();
        if (now - lastLogged > 10_000) {
          lastLogged = now;
          // The driver's message names host and user at most; the URL (with its password) never.
          logger?.warn({ error: message }, 'database connection error; uncached credentials get 503');
        }
      },
    },
  );
}

function sqlObserver(logger: Logger | undefined, metrics: Metrics | undefined): SqlStoreObserver {
  return {
    onLookup: (record) => metrics?.sqlLookups.inc({ record }),
    onQuery: (query, outcome, seconds) => {
      metrics?.sqlQueries.inc({ query, outcome });
      metrics?.sqlQueryDuration.observe({ query }, seconds);
    },
    onProblem: (message) => logger?.warn(message),
  };
}

export async function createRuntime(
  loaded: LoadedConfig,
  previous: Runtime | undefined,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  const config = loaded.config;
  const now = options.now ?? Date.now;
  // Before any connection is opened, so that a bad key leaks nothing.
  const assertions = await buildAssertions(loaded, now);
  const redis = await connectRedis(config, previous, options.logger);
  let sql: SqlDriver | undefined;
  let stores: Stores;
  let redisPolicy: RedisPolicyGuard | undefined;
  try {
    // Only replay stores (OAuth1 nonces, DPoP jtis) depend on Redis keeping every key until it
    // expires; a cache may evict.
    const replayInRedis =
      config.oauth1.nonceStore.type === 'redis' ||
      (dpopInUse(config) && config.oauth2.dpop.jtiStore.type === 'redis');
    if (redis !== undefined && replayInRedis) {
      redisPolicy = policyGuardFor(redis, config, options);
      await redisPolicy.checkAtStart();
    }
    sql = await connectSql(loaded, previous, options.logger);
    stores = await createStores(
      loaded,
      redis,
      previous?.stores,
      {
        ...(redisPolicy === undefined ? {} : { redisPolicy }),
        onFloorRaise: (report) => warnFloorRaise(options.logger, 'oauth1.nonceStore', report),
        onDpopFloorRaise: (report) => warnFloorRaise(options.logger, 'oauth2.dpop.jtiStore', report),
      },
      sql === undefined ? undefined : { driver: sql, observer: sqlObserver(options.logger, options.metrics) },
    );
  } catch (error) {
    if (redis !== undefined && redis !== previous?.redis) await redis.close();
    if (sql !== undefined && sql !== previous?.sql) await sql.close();
    throw error;
  }
  const oauth1 = createOAuth1Scheme(config, {
    credentials: stores.credentials,
    nonces: countNonceClaims(stores.nonces, options.metrics),
    now,
  });
  const sharedCache =
    redis !== undefined && config.oauth2.introspection?.cache.shared === true
      ? new (await import('./store/redis-stores.js')).RedisSharedTokenCache(redis, {
          revive: reviveTokenInfo,
        })
      : undefined;
  const backendFailures = options.backendFailures ?? new BackendFailureLog(options.logger, options.metrics);
  // A new resolver per config: its token sources close over this config's stores and endpoints.
  const tokens = createTokenResolver(config.oauth2, {
    credentials: stores.credentials,
    now,
    sharedCache,
    onBackendFailure: (fault) => backendFailures.report(fault, {}, true),
  });
  const dpopMode = (route: CompiledRoute): DpopMode => route.config.dpop ?? config.oauth2.dpop.mode;
  const dpop =
    stores.dpopJtis === undefined ? undefined : dpopContext(config, stores.dpopJtis, options.metrics, now);
  const oauth2 = createOAuth2Scheme(config, { resolver: tokens, now, dpop, dpopMode });
  // Loaded on demand, like ioredis: signers and the token client (jose) cost a sidecar without
  // egress memory it never uses (issue 21).
  const egress =
    config.egress === undefined
      ? undefined
      : (await import('./egress/context.js')).buildEgressContext(
          config,
          loaded.egressFiles,
          previous?.egress,
          {
            logger: options.logger,
            metrics: options.metrics,
            now: options.now,
          },
        );

  const runtime: Runtime = {
    loaded,
    config,
    tls: loaded.tls,
    routes: buildRouteTable(config.routes),
    headerPolicy: buildHeaderPolicy(config.identity),
    realms: {
      oauth1: config.oauth1.realm,
      oauth2: config.oauth2.realm,
      dpopAlgorithms: config.oauth2.dpop.algorithms.join(' '),
    },
    authenticator: createAuthenticator({
      oauth1,
      oauth2,
      challenges: (route) => challengesFor(route.config.auth as Exclude<AuthMode, 'none'>, dpopMode(route)),
    }),
    assertions: assertions?.signer,
    assertionKeys: assertions?.keys,
    stores,
    redis,
    sql,
    tokens,
    egress,
    backendFailures,
    isTrustedProxy: buildTrustedProxies(config.trustedProxies),
    nonceStats: () => {
      const windowMs = config.oauth1.timestampWindow;
      const nonces = stores.nonces;
      if (nonces instanceof MemoryNonceStore) return nonces.stats(windowMs);
      return { entries: 0, bytes: 0, floorRaises: 0, effectiveWindowMs: windowMs };
    },
    readiness: async () => {
      const checks: Record<string, boolean> = { config: true };
      if (redis !== undefined) checks['redis'] = await redis.ping();
      if (redisPolicy !== undefined) checks['redisMaxmemoryPolicy'] = !redisPolicy.blocked;
      if (sql !== undefined) checks['database'] = await sql.ping();
      return checks;
    },
    readinessWarnings: () => {
      const warning = redisPolicy?.warning;
      return warning === undefined ? [] : [warning];
    },
    close: async (next) => {
      await tokens.close();
      await egress?.close(next?.egress);
      if (next?.stores.nonces !== stores.nonces) await stores.nonces.close();
      if (stores.dpopJtis !== undefined && next?.stores.dpopJtis !== stores.dpopJtis)
        await stores.dpopJtis.close();
      if (next?.stores.credentials !== stores.credentials) await stores.credentials.close();
      if (redis !== undefined && next?.redis !== redis) await redis.close();
      if (sql !== undefined && next?.sql !== sql) await sql.close();
    },
  };
  return runtime;
}

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { TokenResolverStats } from '../introspect/resolver.js';
import type { NonceStore, NonceStoreStats } from '../store/types.js';
import { SeriesCounter, SeriesHistogram } from './series.js';

function cacheEvents(stats: TokenResolverStats | undefined): Record<string, number> {
  return {
    hit: stats?.hits ?? 0,
    miss: stats?.misses ?? 0,
    coalesced: stats?.coalesced ?? 0,
    backend: stats?.backendCalls ?? 0,
    shared_hit: stats?.sharedHits ?? 0,
    shared_error: stats?.sharedErrors ?? 0,
  };
}

const CLAIM_RESULT = { fresh: 'accepted', replayed: 'replay', stale: 'stale' } as const;

/** Count claims without changing the store's identity (stores are carried across reloads). */
export function countNonceClaims(
  store: NonceStore,
  metrics: Metrics | undefined,
  kind: 'oauth1' | 'dpop' = 'oauth1',
): NonceStore {
  if (metrics === undefined) return store;
  const counter = kind === 'dpop' ? metrics.dpopJtiClaims : metrics.nonceClaims;
  return {
    claim: async (claim) => {
      try {
        const verdict = await store.claim(claim);
        counter.inc({ result: CLAIM_RESULT[verdict] });
        return verdict;
      } catch (error) {
        counter.inc({ result: 'error' });
        throw error;
      }
    },
    close: () => store.close(),
  };
}

/**
 * Prometheus metrics on the admin port. Label values are bounded: route names come from config,
 * statuses and error codes from fixed sets; never a path, token or client-supplied string.
 */
export class Metrics {
  readonly registry = new Registry();
  // Counted once per request: SeriesCounter/SeriesHistogram (series.ts), not prom-client's own.
  readonly requests = new SeriesCounter(
    'oauth_gateway_requests_total',
    'Requests by route, status and authentication method',
    ['route', 'status', 'auth_method'],
    this.registry,
  );
  readonly checks = new SeriesCounter(
    'oauth_gateway_authorize_checks_total',
    'Authorization checks answered by the authorize listener, by route, status, method and front proxy convention',
    ['route', 'status', 'auth_method', 'front'],
    this.registry,
  );
  readonly checkDuration = new SeriesHistogram(
    'oauth_gateway_authorize_check_duration_seconds',
    'Time to answer an authorization check',
    'front',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    this.registry,
  );
  readonly authFailures = new Counter({
    name: 'oauth_gateway_auth_failures_total',
    help: 'Rejected requests by error code',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });
  readonly duration = new SeriesHistogram(
    'oauth_gateway_request_duration_seconds',
    'Total request duration at the gateway',
    'route',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );
  readonly upstreamDuration = new SeriesHistogram(
    'oauth_gateway_upstream_duration_seconds',
    'Time from forwarding to the end of the upstream response',
    'route',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );
  readonly reloads = new Counter({
    name: 'oauth_gateway_config_reloads_total',
    help: 'Configuration reload attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly configInfo = new Gauge({
    name: 'oauth_gateway_config_info',
    help: 'Hash of the active configuration (value is always 1)',
    labelNames: ['hash'] as const,
    registers: [this.registry],
  });
  readonly backendUp = new Gauge({
    name: 'oauth_gateway_backend_up',
    help: 'Whether an auth backend answered its last readiness check',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });

  readonly nonceClaims = new Counter({
    name: 'oauth_gateway_nonce_claims_total',
    help: 'OAuth1 nonce claims by result (accepted, replay, stale = below the store floor, error = store unavailable)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly dpopJtiClaims = new Counter({
    name: 'oauth_gateway_dpop_jti_claims_total',
    help: 'DPoP proof jti claims by result (accepted, replay, stale = below the store floor, error = store unavailable)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly sqlLookups = new Counter({
    name: 'oauth_gateway_sql_lookups_total',
    help: 'SQL credential store lookups by record type (client, token, bearerToken); cache hits = lookups − queries',
    labelNames: ['record'] as const,
    registers: [this.registry],
  });
  readonly sqlQueries = new Counter({
    name: 'oauth_gateway_sql_queries_total',
    help: 'SQL credential store queries by query name and outcome (found, missing, error)',
    labelNames: ['query', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly sqlQueryDuration = new Histogram({
    name: 'oauth_gateway_sql_query_duration_seconds',
    help: 'SQL credential store query duration by query name (including waiting for a connection)',
    labelNames: ['query'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly nonceEntries: Gauge;
  readonly nonceBytes: Gauge;
  readonly nonceFloorRaises: Counter;
  readonly nonceEffectiveWindow: Gauge;
  readonly redisEvictingPolicy = new Gauge({
    name: 'oauth_gateway_redis_evicting_policy',
    help: 'Redis nonce store running although maxmemory-policy may evict nonces (redis.allowEvictingPolicy: true); 1 with the policy as label',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });
  #nonceStats: () => NonceStoreStats | undefined = () => undefined;
  /** Floor raises of memory stores no longer in use (a reload to redis and back starts a new one). */
  #nonceRaises = { retired: 0, last: 0 };
  readonly authBackendFailures = new Counter({
    name: 'oauth_gateway_auth_backend_failures_total',
    help: 'Auth backend answers the gateway could not use, by source (introspection, jwks, redis) and cause (unreachable, timeout, client_auth_refused, http_status, malformed_response, unavailable)',
    labelNames: ['source', 'cause'] as const,
    registers: [this.registry],
  });
  readonly egressRequests = new SeriesCounter(
    'oauth_gateway_egress_requests_total',
    'Requests through the egress listener by egress route, status and how they were authenticated (oauth1, oauth2, none)',
    ['route', 'status', 'sign'],
    this.registry,
  );
  readonly egressDuration = new SeriesHistogram(
    'oauth_gateway_egress_request_duration_seconds',
    'Total egress request duration at the gateway (token fetch, signing, upstream)',
    'route',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );
  readonly egressTokenFetches = new Counter({
    name: 'oauth_gateway_egress_token_fetches_total',
    help: 'OAuth2 client-credentials token requests by egress route, reason (initial, expired, ahead = refreshed before expiry, rejected = after a 401 from the API) and result',
    labelNames: ['route', 'reason', 'result'] as const,
    registers: [this.registry],
  });
  readonly egressSigningErrors = new Counter({
    name: 'oauth_gateway_egress_signing_errors_total',
    help: 'Egress requests that could not be signed or given a token (nothing was sent), by egress route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly egressRetries = new Counter({
    name: 'oauth_gateway_egress_retries_total',
    help: 'Egress requests retried once with a fresh token after the API answered 401, by egress route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly tokenCache: Counter<'event'>;
  readonly tokenLookups: Counter<'source'>;
  readonly tokenCacheEntries: Gauge;
  #tokenStats: () => TokenResolverStats | undefined = () => undefined;
  /** Totals of resolvers replaced by reloads, so the exported counters never go backwards. */
  #retired = { events: new Map<string, number>(), sources: new Map<string, number>() };

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const metrics = this;
    this.tokenCache = new Counter({
      name: 'oauth_gateway_token_cache_events_total',
      help: 'Bearer token cache: hit, miss, coalesced (joined an in-flight lookup), backend (reached the token sources), shared_hit, shared_error',
      labelNames: ['event'] as const,
      registers: [this.registry],
      collect() {
        const stats = metrics.#tokenStats();
        this.reset();
        for (const [event, value] of Object.entries(cacheEvents(stats))) {
          this.inc({ event }, value + (metrics.#retired.events.get(event) ?? 0));
        }
      },
    });
    this.tokenLookups = new Counter({
      name: 'oauth_gateway_token_lookups_total',
      help: 'Bearer token lookups answered per source (store, introspection, jwt; none = unknown everywhere)',
      labelNames: ['source'] as const,
      registers: [this.registry],
      collect() {
        const stats = metrics.#tokenStats();
        this.reset();
        for (const [source, value] of Object.entries(stats?.answeredBy ?? {})) {
          this.inc({ source }, value + (metrics.#retired.sources.get(source) ?? 0));
        }
      },
    });
    this.tokenCacheEntries = new Gauge({
      name: 'oauth_gateway_token_cache_entries',
      help: 'Bearer tokens currently cached in process',
      registers: [this.registry],
      collect() {
        this.set(metrics.#tokenStats()?.entries ?? 0);
      },
    });
    this.nonceEntries = new Gauge({
      name: 'oauth_gateway_nonce_store_entries',
      help: 'OAuth1 nonces remembered by the in-process (memory) nonce store',
      registers: [this.registry],
      collect() {
        this.set(metrics.#nonceStats()?.entries ?? 0);
      },
    });
    this.nonceBytes = new Gauge({
      name: 'oauth_gateway_nonce_store_bytes',
      help: 'Bytes the in-process (memory) nonce store holds for them',
      registers: [this.registry],
      collect() {
        this.set(metrics.#nonceStats()?.bytes ?? 0);
      },
    });
    this.nonceFloorRaises = new Counter({
      name: 'oauth_gateway_nonce_floor_raises_total',
      help: 'Times the memory nonce store, full at oauth1.nonceStore.maxEntries, refused the timestamps farthest from now (raised its floor or cut future seconds) instead of forgetting nonces',
      registers: [this.registry],
      collect() {
        const raises = metrics.#nonceStats()?.floorRaises ?? 0;
        const seen = metrics.#nonceRaises;
        if (raises < seen.last) seen.retired += seen.last;
        seen.last = raises;
        this.reset();
        this.inc(seen.retired + raises);
      },
    });
    this.nonceEffectiveWindow = new Gauge({
      name: 'oauth_gateway_nonce_effective_window_seconds',
      help: 'How old an oauth_timestamp may be and still be accepted: oauth1.timestampWindow unless the nonce store raised its floor',
      registers: [this.registry],
      collect() {
        const stats = metrics.#nonceStats();
        if (stats !== undefined) this.set(Math.floor(stats.effectiveWindowMs / 1000));
      },
    });
    // Export zeros from the start so rate() and alerts work before the first event.
    for (const result of ['success', 'failure']) this.reloads.inc({ result }, 0);
    for (const result of ['accepted', 'replay', 'stale', 'error']) this.nonceClaims.inc({ result }, 0);
    const backendCauses: Record<string, readonly string[]> = {
      introspection: ['unreachable', 'timeout', 'client_auth_refused', 'http_status', 'malformed_response'],
      jwks: ['unreachable', 'timeout', 'http_status', 'malformed_response'],
      redis: ['unavailable'],
    };
    for (const [source, causes] of Object.entries(backendCauses)) {
      for (const cause of causes) this.authBackendFailures.inc({ source, cause }, 0);
    }
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  observeRequest(
    route: string,
    status: number,
    authMethod: string,
    durationMs: number,
    upstreamMs: number | undefined,
    errorCode: string | undefined,
  ): void {
    this.requests.inc(route, status, authMethod);
    this.duration.observe(route, durationMs / 1000);
    if (upstreamMs !== undefined) this.upstreamDuration.observe(route, upstreamMs / 1000);
    if (errorCode !== undefined && status >= 400 && status < 500)
      this.authFailures.inc({ route, code: errorCode });
  }

  observeCheck(route: string, status: number, authMethod: string, front: string, durationMs: number): void {
    this.checks.inc(route, status, authMethod, front);
    this.checkDuration.observe(front, durationMs / 1000);
  }

  observeEgress(route: string, status: number, sign: string, durationMs: number): void {
    this.egressRequests.inc(route, status, sign);
    this.egressDuration.observe(route, durationMs / 1000);
  }

  /** Export the stats of the token resolver the current config uses. */
  trackTokenResolver(stats: () => TokenResolverStats | undefined): void {
    this.#tokenStats = stats;
  }

  /** Export the nonce store numbers of the current config (read at scrape time). */
  trackNonceStore(stats: () => NonceStoreStats | undefined): void {
    this.#nonceStats = stats;
  }

  /** A reload replaces the resolver: keep its totals. */
  retireTokenResolver(final: TokenResolverStats): void {
    for (const [event, value] of Object.entries(cacheEvents(final))) {
      this.#retired.events.set(event, (this.#retired.events.get(event) ?? 0) + value);
    }
    for (const [source, value] of Object.entries(final.answeredBy)) {
      this.#retired.sources.set(source, (this.#retired.sources.get(source) ?? 0) + value);
    }
  }

  setConfigHash(hash: string): void {
    this.configInfo.reset();
    this.configInfo.set({ hash }, 1);
  }
}

import type { OAuth2Config, TokenSourceName } from '../config/schema.js';
import { GatewayError, TemporarilyUnavailable } from '../errors.js';
import { sha256Hex } from '../hash.js';
import { BackendFault } from '../observability/backend-failures.js';
import type { CredentialStore, SharedCache } from '../store/types.js';
import type { TokenInfo } from '../verify/oauth2/token-info.js';
import { TokenCache, type TokenCacheStats } from './cache.js';
import { createIntrospectionSource } from './sources/introspection.js';
import { createJwtSource, type JwksTuning } from './sources/jwt.js';
import { createStoreSource } from './sources/store.js';
import { INACTIVE } from './token-info.js';
import type { TokenSource } from './token-source.js';

/**
 * Bearer token → TokenInfo: the sources in `oauth2.tokenSources` order behind one cache. The first
 * source that knows the token answers for it; if none does, the token is inactive. A source that
 * cannot answer stops the chain with TemporarilyUnavailable (a later source must not overrule a
 * source that might have said "revoked").
 *
 * Callers then judge the facts per route with verify/oauth2/token-check.ts.
 */

export interface TokenResolver {
  resolve(token: string): Promise<TokenInfo>;
  close(): Promise<void>;
  stats(): TokenResolverStats;
}

export interface TokenResolverStats extends TokenCacheStats {
  /** Definitive answers per source ("none" = no source knew the token). */
  readonly answeredBy: Readonly<Record<TokenSourceName | 'none', number>>;
}

export interface TokenResolverDeps {
  readonly credentials: CredentialStore;
  /** Unix milliseconds. */
  readonly now: () => number;
  /** Optional L2 shared by replicas; pass it only when `introspection.cache.shared` is on. */
  readonly sharedCache?: SharedCache<TokenInfo> | undefined;
  /** JWKS refetch/caching knobs (not part of gateway.yaml; tests shorten the cooldown). */
  readonly jwks?: JwksTuning | undefined;
  /** Backend failures that did not end in a 503 (a JWKS refetch failed, the keys held answered). */
  readonly onBackendFailure?: ((fault: BackendFault) => void) | undefined;
}

/** Cache limits when there is no `introspection` block (same defaults as the schema). */
const DEFAULT_CACHE = { maxEntries: 100_000, maxTtl: 300_000, negativeTtl: 10_000 } as const;

function createSource(name: TokenSourceName, config: OAuth2Config, deps: TokenResolverDeps): TokenSource {
  switch (name) {
    case 'store':
      return createStoreSource(deps.credentials, deps.now);
    case 'introspection':
      if (config.introspection === undefined)
        throw new Error('oauth2.introspection is required by tokenSources');
      return createIntrospectionSource(config.introspection);
    case 'jwt':
      if (config.jwt === undefined) throw new Error('oauth2.jwt is required by tokenSources');
      return createJwtSource(
        config.jwt,
        deps.now,
        { cooldownMs: config.jwt.jwksCooldown, ...deps.jwks },
        deps.onBackendFailure,
      );
  }
}

export function createTokenResolver(config: OAuth2Config, deps: TokenResolverDeps): TokenResolver {
  const answeredBy: Record<TokenSourceName | 'none', number> = {
    store: 0,
    introspection: 0,
    jwt: 0,
    none: 0,
  };

  /** The 503 names the token it happened for by a hash prefix (never the token). */
  function annotated(error: unknown, token: string): unknown {
    if (error instanceof TemporarilyUnavailable && error.cause instanceof BackendFault) {
      return new TemporarilyUnavailable(error.cause.withTokenHash(sha256Hex(token).slice(0, 8)));
    }
    return error;
  }

  async function ask(source: TokenSource, token: string): Promise<TokenInfo | undefined> {
    try {
      return await source.lookup(token);
    } catch (error) {
      // Fail closed: whatever went wrong in a backend is a 503, never a pass and never a 500.
      // Annotated here, where failures happen, so cache hits pay nothing for it.
      throw annotated(error instanceof GatewayError ? error : new TemporarilyUnavailable(error), token);
    }
  }

  // A leading `store` source is asked before the cache, on every request: the credential store
  // is already in memory (file) or has its own bounded cache (Redis, `credentials.cacheTtl`), and
  // caching its answers again for up to `maxTtl` would stretch the documented revocation bound.
  const [first, ...rest] = config.tokenSources;
  const direct = first === 'store' ? createSource('store', config, deps) : undefined;
  const cached = (direct === undefined ? config.tokenSources : rest).map((name) =>
    createSource(name, config, deps),
  );

  async function lookup(token: string): Promise<TokenInfo> {
    for (const source of cached) {
      const info = await ask(source, token);
      if (info !== undefined) {
        answeredBy[source.name]++;
        return info;
      }
    }
    answeredBy.none++;
    return INACTIVE;
  }

  const cacheConfig = config.introspection?.cache ?? DEFAULT_CACHE;
  const cache = new TokenCache(lookup, {
    maxEntries: cacheConfig.maxEntries,
    maxTtlMs: cacheConfig.maxTtl,
    negativeTtlMs: cacheConfig.negativeTtl,
    now: deps.now,
    shared: deps.sharedCache,
  });

  async function resolveToken(token: string): Promise<TokenInfo> {
    if (direct !== undefined) {
      const info = await ask(direct, token);
      if (info !== undefined) {
        answeredBy.store++;
        return info;
      }
      if (cached.length === 0) {
        answeredBy.none++;
        return INACTIVE;
      }
    }
    return cache.get(token);
  }

  return {
    resolve: resolveToken,
    stats: () => ({ ...cache.stats(), answeredBy: { ...answeredBy } }),
    async close() {
      cache.clear();
      await Promise.all([direct, ...cached].map((source) => source?.close()));
    },
  };
}

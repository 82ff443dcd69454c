import { z } from 'zod';
import { DEFAULT_MAX_NONCES } from '../store/memory.js';
import { DPOP_ALGORITHMS } from '../verify/dpop/proof.js';
import { SIGNATURE_METHODS } from '../verify/oauth1/signature-methods.js';
import { sqlCredentialsSchema } from './sql-schema.js';

/**
 * The one schema for gateway.yaml. Types are derived from it (`GatewayFileConfig`), the JSON Schema
 * printed by `oauth-gateway schema` is generated from it, and docs/configuration.md is checked
 * against it. Every object is strict: unknown keys are errors, so a typo never silently disables
 * a check.
 */

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Seconds as a number, or `300ms` / `30s` / `5m` / `1h`; parsed to milliseconds. */
export const duration = z
  .union([
    z.number().nonnegative().meta({ description: 'seconds' }),
    z.string().regex(DURATION_PATTERN, 'must be a duration like 300ms, 30s, 5m or 1h'),
  ])
  .transform((value) => {
    if (typeof value === 'number') return Math.round(value * 1000);
    const match = DURATION_PATTERN.exec(value)!;
    return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
  });

// `${ADMIN_PORT:-9090}` interpolates to a string: accept a string of digits as the number.
const DIGITS_ONLY = /^\d+$/;
const port = z.preprocess(
  (value) => (typeof value === 'string' && DIGITS_ONLY.test(value) ? Number(value) : value),
  z.number().int().min(0).max(65535),
);
const httpUrl = z
  .string()
  .refine((value) => /^https?:\/\/[^/?#\s]+(\/[^\s]*)?$/i.test(value) && URL.canParse(value), {
    message: 'must be an http(s) URL',
  });
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a valid HTTP header name');
const cidr = z.string().refine(
  (value) => {
    const [address, bits, ...rest] = value.split('/');
    if (rest.length > 0 || address === undefined) return false;
    const family = address.includes(':') ? 6 : 4;
    if (!/^[0-9a-fA-F:.]+$/.test(address)) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d+$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
  },
  { message: 'must be an IP address or CIDR like 10.0.0.0/8' },
);

export const AUTH_MODES = ['oauth1', 'oauth2', 'any', 'none'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const TOKEN_SOURCES = ['store', 'introspection', 'jwt'] as const;
export type TokenSourceName = (typeof TOKEN_SOURCES)[number];

const HTTP_METHOD = z
  .string()
  .regex(/^[A-Za-z]+$/, 'must be an HTTP method name')
  .transform((m) => m.toUpperCase());

const listenSchema = z.strictObject({
  host: z.string().default('0.0.0.0'),
  port: port.prefault(8080),
  /** Serve HTTPS directly (PEM files, relative to gateway.yaml). Read at start; a reload keeps the listener. */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
});

const adminSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: port.prefault(9090),
});

/**
 * Authorization-only listener (docs/forward-auth.md): a front proxy (nginx auth_request, Caddy
 * forward_auth, Traefik forwardAuth, Envoy ext_authz) asks whether an original request may pass.
 */
const authorizeSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.prefault(9191),
    })
    .prefault({}),
  /** Envoy ext_authz `http_service.path_prefix`: checks under it carry the original path after it. */
  pathPrefix: z
    .string()
    .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*[^/]$/, 'must start with / and not end with /')
    .default('/ext-authz'),
});

/**
 * Egress (docs/egress.md): the app calls a local listener, the gateway signs (OAuth1) or attaches a
 * client-credentials token (OAuth2) and forwards over verified TLS. Anyone who can reach the
 * listener acts as the configured client, so it binds to loopback by default.
 */
const LOOPBACK_URL_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/i;

/** https, or http to a loopback host only: credentials never cross a network in the clear. */
const egressUrl = httpUrl.refine(
  (value) => {
    if (!URL.canParse(value)) return true; // httpUrl reports it
    const url = new URL(value);
    return url.protocol === 'https:' || LOOPBACK_URL_HOST.test(url.hostname);
  },
  { message: 'must be an https URL (http is allowed only to a loopback host)' },
);

const egressTlsSchema = z.strictObject({
  /** PEM bundle of CAs to trust instead of the system ones (relative to gateway.yaml). */
  caFile: z.string().min(1).optional(),
});

const egressOAuth1Schema = z.strictObject({
  consumerKey: z.string().min(1),
  /** Empty for RSA methods, which sign with privateKeyFile instead. */
  consumerSecret: z.string().default(''),
  token: z.string().min(1).optional(),
  tokenSecret: z.string().optional(),
  signatureMethod: z.enum(SIGNATURE_METHODS).default('HMAC-SHA1'),
  /** PEM private key for RSA-SHA1 / RSA-SHA256 (relative to gateway.yaml). */
  privateKeyFile: z.string().min(1).optional(),
  realm: z.string().optional(),
  placement: z.enum(['header', 'query', 'body']).default('header'),
  bodyHash: z.boolean().default(false),
});

const egressOAuth2Schema = z.strictObject({
  tokenUrl: egressUrl,
  clientId: z.string().min(1),
  /** For client_secret_basic / client_secret_post. */
  clientSecret: z.string().min(1).optional(),
  authMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt'])
    .default('client_secret_basic'),
  /** private_key_jwt (RFC 7523 §2.2): PEM private key the client assertion is signed with. */
  privateKeyFile: z.string().min(1).optional(),
  /** private_key_jwt: JWS algorithm of the client assertion. */
  assertionAlgorithm: z.enum(['RS256', 'PS256', 'ES256', 'EdDSA']).default('RS256'),
  /** private_key_jwt: `kid` of the key as registered at the authorization server. */
  keyId: z.string().min(1).optional(),
  scope: z.string().min(1).optional(),
  audience: z.string().min(1).optional(),
  resource: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** Per token request (connect, headers and body together). */
  timeout: duration.prefault('5s'),
  /** Refresh this long before `expires_in` runs out (at most half the token's lifetime). */
  refreshAhead: duration.prefault('60s'),
  tls: egressTlsSchema.optional(),
});

const egressRouteSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . -'),
    match: z.strictObject({
      pathPrefix: z.string().regex(/^\//, 'must start with /'),
      methods: z.array(HTTP_METHOD).min(1).optional(),
    }),
    upstream: egressUrl,
    stripPrefix: z.boolean().default(true),
    /** The app's own Authorization header: replaced by the gateway's, or the request refused. */
    authorization: z.enum(['replace', 'refuse']).default('replace'),
    tls: egressTlsSchema.optional(),
    /** Default `limits.upstreamTimeout`. */
    timeout: duration.optional(),
    sign: z
      .strictObject({ oauth1: egressOAuth1Schema.optional(), oauth2: egressOAuth2Schema.optional() })
      .optional(),
  })
  .superRefine((route, ctx) => {
    const sign = route.sign;
    if (sign === undefined) return;
    if ((sign.oauth1 === undefined) === (sign.oauth2 === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['sign'], message: 'must have exactly one of oauth1, oauth2' });
    }
    const oauth2 = sign.oauth2;
    if (oauth2 !== undefined) {
      const jwt = oauth2.authMethod === 'private_key_jwt';
      if (jwt && oauth2.privateKeyFile === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['sign', 'oauth2', 'privateKeyFile'],
          message: 'is required for private_key_jwt',
        });
      }
      if (!jwt && oauth2.clientSecret === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['sign', 'oauth2', 'clientSecret'],
          message: `is required for ${oauth2.authMethod}`,
        });
      }
      if (!jwt && oauth2.privateKeyFile !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['sign', 'oauth2', 'privateKeyFile'],
          message: 'is only used by private_key_jwt',
        });
      }
    }
    const oauth1 = sign.oauth1;
    if (oauth1 === undefined) return;
    const rsa = oauth1.signatureMethod.startsWith('RSA-');
    if (rsa && oauth1.privateKeyFile === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['sign', 'oauth1', 'privateKeyFile'],
        message: `is required for ${oauth1.signatureMethod}`,
      });
    }
    if (!rsa && oauth1.privateKeyFile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['sign', 'oauth1', 'privateKeyFile'],
        message: 'is only used by RSA-SHA1 / RSA-SHA256',
      });
    }
    if (!rsa && oauth1.consumerSecret === '') {
      ctx.addIssue({
        code: 'custom',
        path: ['sign', 'oauth1', 'consumerSecret'],
        message: `is required for ${oauth1.signatureMethod}`,
      });
    }
    if ((oauth1.token === undefined) !== (oauth1.tokenSecret === undefined) && !rsa) {
      ctx.addIssue({
        code: 'custom',
        path: ['sign', 'oauth1', oauth1.token === undefined ? 'token' : 'tokenSecret'],
        message: 'token and tokenSecret go together',
      });
    }
    // RFC 5849 §3.4.4: PLAINTEXT sends the secrets themselves.
    if (oauth1.signatureMethod === 'PLAINTEXT' && !route.upstream.toLowerCase().startsWith('https:')) {
      ctx.addIssue({
        code: 'custom',
        path: ['sign', 'oauth1', 'signatureMethod'],
        message: 'PLAINTEXT is only allowed to an https upstream',
      });
    }
  });

const egressSchema = z
  .strictObject({
    listen: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.prefault(9292),
      })
      .prefault({}),
    routes: z.array(egressRouteSchema).min(1),
  })
  .superRefine((egress, ctx) => {
    const names = new Map<string, number>();
    egress.routes.forEach((route, index) => {
      const first = names.get(route.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', index, 'name'],
          message: `duplicate egress route name (also egress.routes[${first}])`,
        });
      } else {
        names.set(route.name, index);
      }
    });
  });

const limitsSchema = z.strictObject({
  maxBodyBytes: z.number().int().positive().default(1_048_576),
  /**
   * More header lines than this → 431. Node would otherwise keep only the first 2000 in
   * `req.headers` while still framing the body by the ones it dropped (request-smuggling.test.ts).
   */
  maxHeaders: z.number().int().min(16).max(1000).default(100),
  headersTimeout: duration.prefault('10s'),
  upstreamTimeout: duration.prefault('30s'),
  /** How long SIGTERM waits for in-flight requests before closing what is left. */
  shutdownTimeout: duration.prefault('10s'),
});

/** The access log's cost measured ≈10 µs per request at the default (BENCHMARKS.md, issue 21). */
const logSchema = z.strictObject({
  access: z.enum(['all', 'errors', 'off']).default('all'),
  accessSample: z.number().gt(0).max(1).default(1),
});

const redisNode = (defaultPort: number) =>
  z.strictObject({ host: z.string().min(1), port: port.prefault(defaultPort) });

const redisSchema = z
  .strictObject({
    /**
     * Standalone: the server. Sentinel/Cluster: only credentials (`user:pass@`), the database
     * number and `rediss://` (TLS) are taken from it; the nodes come from `sentinels`/`cluster`.
     */
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379'),
    keyPrefix: z.string().default('oauth-gateway:'),
    /** Bounded so no request hangs while Redis is down. */
    commandTimeout: duration.prefault('1s'),
    connectTimeout: duration.prefault('2s'),
    /** Reconnect backoff doubles from 50ms up to this cap, forever. */
    maxReconnectDelay: duration.prefault('2s'),
    /** Sentinel mode: the sentinels to ask for the master named `sentinelName`. */
    sentinels: z.array(redisNode(26379)).min(1).optional(),
    sentinelName: z.string().min(1).optional(),
    sentinelPassword: z.string().min(1).optional(),
    /** Cluster mode: seed nodes. */
    cluster: z.array(redisNode(6379)).min(1).optional(),
    /**
     * Run the Redis nonce store even though Redis may evict keys (maxmemory-policy allkeys-* or
     * volatile-*): an evicted nonce can be replayed. Off: the gateway refuses to start.
     */
    allowEvictingPolicy: z.boolean().default(false),
  })
  .superRefine((redis, ctx) => {
    if (redis.sentinels !== undefined && redis.cluster !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'cannot be combined with sentinels' });
    }
    if (redis.sentinels !== undefined && redis.sentinelName === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sentinelName'], message: 'required when sentinels are listed' });
    }
  });

export const ASSERTION_ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const;
export type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number];

/** A JWS `kid`: printable ASCII without quotes or backslashes, so it is safe in any header or log. */
const keyId = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/, 'must be 1-128 visible ASCII characters');

/**
 * The signed identity assertion (docs/upstream-integration.md): a short-lived JWS the upstream can
 * verify with the JWKS the admin listener publishes, so the identity no longer rests on the network.
 */
const assertionSchema = z
  .strictObject({
    header: headerName.default('X-OAuth-Assertion'),
    algorithm: z.enum(ASSERTION_ALGORITHMS).default('EdDSA'),
    /** Private keys (PEM files relative to gateway.yaml). The first signs; the others are only published. */
    keys: z
      .array(
        z.strictObject({
          path: z.string().min(1),
          /** Default: the key's RFC 7638 JWK thumbprint. */
          kid: keyId.optional(),
        }),
      )
      .min(1),
    issuer: z.string().min(1).default('oauth-gateway'),
    /** Kept short: an assertion is a per-request proof, not a session. */
    ttl: duration.prefault('60s').refine((ms) => ms >= 1_000 && ms <= 3_600_000, 'must be between 1s and 1h'),
  })
  // Also checked when other keys are invalid, so that every problem is reported at once.
  .superRefine(
    (assertion, ctx) => {
      const keys: unknown = (assertion as { keys?: unknown }).keys;
      if (!Array.isArray(keys)) return;
      const seen = new Map<string, number>();
      keys.forEach((key: unknown, index) => {
        const kid = typeof key === 'object' && key !== null ? (key as { kid?: unknown }).kid : undefined;
        if (typeof kid !== 'string') return;
        const first = seen.get(kid);
        if (first !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['keys', index, 'kid'],
            message: `duplicate kid (also keys[${first}])`,
          });
        else seen.set(kid, index);
      });
    },
    { when: () => true },
  );

const identitySchema = z.strictObject({
  headers: z
    .strictObject({
      user: headerName.default('X-OAuth-User'),
      client: headerName.default('X-OAuth-Client-Id'),
      scope: headerName.default('X-OAuth-Scope'),
      method: headerName.default('X-OAuth-Method'),
      /** RFC 9449: the thumbprint of the DPoP key a request proved, for the app to log or bind. */
      keyThumbprint: headerName.default('X-OAuth-Jkt'),
    })
    .prefault({}),
  strip: z.array(headerName).default([]),
  assertion: assertionSchema.optional(),
});

const credentialsSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('file'),
    path: z.string().min(1).default('./credentials.yaml'),
  }),
  z.strictObject({
    type: z.literal('redis'),
    /** In-process cache of Redis records: the bound on how long a deleted/revoked record still works. */
    cacheTtl: duration.prefault('5s'),
  }),
  z.strictObject({
    type: z.literal('sql'),
    /** The authorization server's own tables, read-only (docs/sql.md). */
    sql: sqlCredentialsSchema(duration),
  }),
]);

const memoryNonceStore = z.strictObject({
  type: z.literal('memory'),
  /** Most nonces remembered; beyond it the timestamps farthest from now are refused (floor / cuts). */
  maxEntries: z.number().int().positive().default(DEFAULT_MAX_NONCES),
});
const redisNonceStore = z.strictObject({ type: z.literal('redis') });

/**
 * `memory` / `redis` (the original string form, still accepted) or `{ type: memory, maxEntries }` /
 * `{ type: redis }`; always the object form after parsing.
 */
const nonceStoreSchema = z
  .union([z.enum(['memory', 'redis']), memoryNonceStore, redisNonceStore])
  .transform((store) => {
    if (store === 'memory') return { type: 'memory' as const, maxEntries: DEFAULT_MAX_NONCES };
    if (store === 'redis') return { type: 'redis' as const };
    return store;
  })
  .prefault('memory');

const oauth1Schema = z.strictObject({
  realm: z.string().default('oauth-gateway'),
  signatureMethods: z
    .array(z.enum(SIGNATURE_METHODS))
    .min(1)
    .default(['HMAC-SHA1', 'HMAC-SHA256', 'RSA-SHA1']),
  timestampWindow: duration.prefault('5m'),
  nonceStore: nonceStoreSchema,
  bodyHash: z.enum(['off', 'optional', 'required']).default('optional'),
});

const introspectionCacheSchema = z.strictObject({
  maxEntries: z.number().int().positive().default(100_000),
  maxTtl: duration.prefault('5m'),
  negativeTtl: duration.prefault('10s'),
  shared: z.boolean().default(false),
});

const introspectionSchema = z.strictObject({
  url: httpUrl,
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  authMethod: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  timeout: duration.prefault('5s'),
  cache: introspectionCacheSchema.prefault({}),
});

const jwtSchema = z.strictObject({
  jwksUri: httpUrl,
  issuer: z.string().min(1),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  algorithms: z
    .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
    .min(1)
    .default(['RS256', 'ES256']),
  clockTolerance: duration.prefault('5s'),
  jwksCooldown: duration.prefault('30s'),
});

export const DPOP_MODES = ['off', 'allow', 'require'] as const;

/** RFC 9449 sender-constrained tokens (docs/dpop.md). */
const dpopSchema = z.strictObject({
  /** off: DPoP is not spoken; allow: DPoP-bound tokens need proofs, Bearer still works; require: DPoP only. */
  mode: z.enum(DPOP_MODES).default('off'),
  algorithms: z.array(z.enum(DPOP_ALGORITHMS)).min(1).default(['ES256', 'EdDSA', 'RS256', 'PS256']),
  /** How old a proof's iat may be. */
  maxAge: duration.prefault('60s'),
  /** Tolerance for proofs from clients whose clock runs ahead or behind. */
  clockSkew: duration.prefault('5s'),
  /** RFC 9449 §9 server nonces: off, or a rotation period (and a shared secret for several replicas). */
  nonce: z
    .union([
      z.literal('off'),
      z.strictObject({ rotation: duration.prefault('5m'), secret: z.string().min(16).optional() }),
    ])
    .default('off'),
  /** Where proof jti values are remembered (same replay-safe rules as oauth1.nonceStore). */
  jtiStore: nonceStoreSchema,
});

const oauth2Schema = z.strictObject({
  realm: z.string().default('oauth-gateway'),
  tokenSources: z.array(z.enum(TOKEN_SOURCES)).min(1).default(['store']),
  introspection: introspectionSchema.optional(),
  jwt: jwtSchema.optional(),
  allowQueryToken: z.boolean().default(false),
  allowFormToken: z.boolean().default(false),
  dpop: dpopSchema.prefault({}),
});

/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. */
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a valid scope token');

const routeSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . -'),
    match: z.strictObject({
      host: z
        .string()
        .regex(/^(\*\.)?[A-Za-z0-9.-]+(:\d+)?$/, 'must be a host name or *.suffix')
        .optional(),
      pathPrefix: z.string().regex(/^\//, 'must start with /'),
      methods: z.array(HTTP_METHOD).min(1).optional(),
    }),
    /** Optional only when `authorize` is configured: such a route is judged, never forwarded. */
    upstream: httpUrl.optional(),
    stripPrefix: z.boolean().default(false),
    auth: z.enum(AUTH_MODES),
    /** All required (Authlib `@require_oauth('a b')`). */
    scopes: z.array(scopeToken).default([]),
    /** At least one required (Authlib `@require_oauth(['a', 'b'])`); with `scopes`, both rules apply. */
    anyScopes: z.array(scopeToken).min(1).optional(),
    /** RFC 8707/9068: the audience the bearer token must carry for this route (overrides oauth2.jwt.audience). */
    audience: z.string().min(1).optional(),
    /** `aud` of the identity assertion sent upstream on this route (default: the route name). */
    assertionAudience: z.string().min(1).optional(),
    passAuthorization: z.boolean().default(false),
    /** Overrides oauth2.dpop.mode for this route. */
    dpop: z.enum(DPOP_MODES).optional(),
  })
  .superRefine((route, ctx) => {
    // Both lists together mean "every one of scopes AND at least one of anyScopes". A scope in both
    // would make the any-of rule always true: whoever wrote it meant something else, so say so.
    const all = new Set(route.scopes);
    route.anyScopes?.forEach((scope, index) => {
      if (all.has(scope)) {
        ctx.addIssue({
          code: 'custom',
          path: ['anyScopes', index],
          message: `"${scope}" is also in scopes: with both, every scope in scopes AND one of anyScopes is required, so this entry would always be satisfied`,
        });
      }
    });
  });

export const gatewayConfigSchema = z
  .strictObject({
    listen: listenSchema.prefault({}),
    admin: adminSchema.prefault({}),
    authorize: authorizeSchema.optional(),
    egress: egressSchema.optional(),
    trustedProxies: z.array(cidr).default([]),
    limits: limitsSchema.prefault({}),
    log: logSchema.prefault({}),
    redis: redisSchema.prefault({}),
    identity: identitySchema.prefault({}),
    credentials: credentialsSchema.default({ type: 'file', path: './credentials.yaml' }),
    oauth1: oauth1Schema.prefault({}),
    oauth2: oauth2Schema.prefault({}),
    /** May be empty (or absent) only when `egress` is configured: an egress-only sidecar. */
    routes: z.array(routeSchema).default([]),
  })
  .superRefine((config, ctx) => {
    const names = new Map<string, number>();
    config.routes.forEach((route, index) => {
      const first = names.get(route.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', index, 'name'],
          message: `duplicate route name (also routes[${first}])`,
        });
      } else {
        names.set(route.name, index);
      }
    });
    const sources = config.oauth2.tokenSources;
    if (sources.includes('introspection') && config.oauth2.introspection === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['oauth2', 'introspection'],
        message: 'required when tokenSources lists introspection',
      });
    }
    if (sources.includes('jwt') && config.oauth2.jwt === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['oauth2', 'jwt'],
        message: 'required when tokenSources lists jwt',
      });
    }
  })
  // Also checked when other parts are invalid, so that every problem is reported at once.
  .superRefine(
    (config, ctx) => {
      const routes: unknown = (config as { routes?: unknown }).routes;
      const egress: unknown = (config as { egress?: unknown }).egress;
      if ((routes === undefined || (Array.isArray(routes) && routes.length === 0)) && egress === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes'],
          message: 'must list at least one route (or configure egress)',
        });
      }
      if ((config as { authorize?: unknown }).authorize !== undefined || !Array.isArray(routes)) return;
      routes.forEach((route: unknown, index) => {
        if (
          typeof route === 'object' &&
          route !== null &&
          (route as { upstream?: unknown }).upstream === undefined
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', index, 'upstream'],
            message: 'is required (routes without an upstream exist only for the authorize listener)',
          });
        }
      });
    },
    { when: () => true },
  );

/** gateway.yaml after validation and defaults (durations in milliseconds). */
export type GatewayFileConfig = z.output<typeof gatewayConfigSchema>;
export type RouteConfig = GatewayFileConfig['routes'][number];
export type OAuth1Config = GatewayFileConfig['oauth1'];
export type OAuth2Config = GatewayFileConfig['oauth2'];
export type IntrospectionConfig = NonNullable<OAuth2Config['introspection']>;
export type JwtConfig = NonNullable<OAuth2Config['jwt']>;
export type RedisConfig = GatewayFileConfig['redis'];
export type CredentialsConfig = GatewayFileConfig['credentials'];
export type EgressConfig = NonNullable<GatewayFileConfig['egress']>;
export type EgressRouteConfig = EgressConfig['routes'][number];
export type EgressOAuth1Config = NonNullable<NonNullable<EgressRouteConfig['sign']>['oauth1']>;
export type EgressOAuth2Config = NonNullable<NonNullable<EgressRouteConfig['sign']>['oauth2']>;
export type AssertionConfig = NonNullable<GatewayFileConfig['identity']['assertion']>;

/** JSON Schema (draft 2020-12) of what users write, for `oauth-gateway schema` and editors. */
export function gatewayJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(gatewayConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  // The refinement zod cannot express: ingress routes, or an egress-only sidecar.
  return { ...schema, anyOf: [{ required: ['routes'] }, { required: ['egress'] }] };
}

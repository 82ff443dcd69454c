import type * as Jose from 'jose';
import type { JWTPayload, JWTVerifyOptions } from 'jose';
import type { JwtConfig } from '../../config/schema.js';
import { TemporarilyUnavailable } from '../../errors.js';
import { identifierString } from '../../identifiers.js';
import { loadJose } from '../../jose.js';
import { BackendFault, transportFault } from '../../observability/backend-failures.js';
import type { TokenInfo } from '../../verify/oauth2/token-info.js';
import { parseScope } from '../../verify/scope.js';
import { RemoteJwks } from '../jwks.js';
import { INACTIVE, internClientId, userFromClaims } from '../token-info.js';
import type { TokenSource } from '../token-source.js';

/**
 * RFC 9068 JWT access tokens, verified locally against the issuer's JWKS.
 *
 * - Keys: the issuer's JWKS (introspect/jwks.ts), cached `cacheMaxAge`, refetched at once when a
 *   token names an unknown `kid` and the last fetch is over a second old, so a rotated key works
 *   within about a second (and forged kids cost the AS at most one fetch a second). If the JWKS
 *   endpoint is down, the last keys fetched keep verifying (stale-if-error) and the endpoint is
 *   retried after `jwksCooldown`; with no keys at all the answer is TemporarilyUnavailable.
 * - An unknown-kid refusal carries `retryAt` (the next allowed fetch): the cache never keeps it
 *   longer, so it cannot outlive the refetch that would have found the key.
 * - Algorithms: only `jwt.algorithms` (the schema admits asymmetric ones only), so `alg: none`
 *   and "HS256 keyed with the public key" forgeries fail before any key is used.
 * - `typ` must be `at+jwt` (jose also accepts `application/at+jwt`). RFC 9068 §4 says resource
 *   servers MUST reject other values; that is what stops an ID token (`typ: JWT`, signed by the same
 *   keys) from being replayed as an access token. Plain-JWT access tokens are therefore refused.
 * - `iss`, `aud` (the route-independent `jwt.audience`; a route's own audience is checked later by
 *   checkTokenInfo), `exp` (required) and `nbf` with `clockTolerance`, at the injected clock.
 *
 * A bad signature, wrong issuer/audience/typ or an expired token is a definitive inactive answer.
 * A token that is not a JWS compact serialisation at all is not ours: undefined.
 */

export interface JwksTuning {
  /** After a failed JWKS fetch, how long the keys held answer alone (`jwksCooldown`, default 30 s). */
  readonly cooldownMs?: number | undefined;
  /** An unknown kid refetches when the last fetch is older than this (default 1 s). */
  readonly unknownKidFloorMs?: number | undefined;
  /** How long fetched keys are trusted before a refetch (default 10 min). */
  readonly cacheMaxAgeMs?: number | undefined;
  /** Bound on one JWKS fetch (default 5 s). */
  readonly timeoutMs?: number | undefined;
}

/** Three base64url segments; the signature may be empty (that is how `alg: none` looks). */
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** jose error codes that mean "this token is bad", as opposed to "the JWKS could not be fetched". */
const TOKEN_FAULTS: ReadonlySet<string> = new Set([
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_INVALID',
  'ERR_JWS_INVALID',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
]);

/** Why a JWKS fetch (or a key import) failed, for the warn line and the metric. */
function jwksFault(error: unknown): BackendFault {
  return error instanceof BackendFault ? error : transportFault('jwks', error);
}

function isTokenFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TOKEN_FAULTS.has(code);
}

function looksLikeJwt(jose: typeof Jose, token: string): boolean {
  if (!JWS_COMPACT.test(token)) return false;
  try {
    jose.decodeProtectedHeader(token);
    return true;
  } catch {
    return false;
  }
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}

/** Not an id: a claim that is present with a type no id has. */
const NOT_AN_ID = Symbol('not an id');

/**
 * `sub`, `client_id`, `azp`, `username`: strings, or a safe integer (an Authlib app signing
 * `sub: user.id`) as its decimal string. jose does not type-check these claims.
 */
function idClaim(payload: JWTPayload, name: string): string | undefined | typeof NOT_AN_ID {
  const value = payload[name];
  if (value === undefined || value === null) return undefined;
  return identifierString(value) ?? NOT_AN_ID;
}

export function jwtClaimsToTokenInfo(payload: JWTPayload): TokenInfo {
  const sub = idClaim(payload, 'sub');
  const username = idClaim(payload, 'username');
  // RFC 9068 §2.2: client_id; `azp` is the OIDC spelling some servers (Keycloak) use instead.
  const clientIdClaim = idClaim(payload, 'client_id') ?? idClaim(payload, 'azp');
  // A signed token whose identity claims cannot be read is refused, never passed on without a user.
  if (sub === NOT_AN_ID || username === NOT_AN_ID || clientIdClaim === NOT_AN_ID) return INACTIVE;
  const clientId = internClientId(clientIdClaim);
  const { aud } = payload;
  const cnf = payload['cnf'];
  const jkt =
    typeof cnf === 'object' && cnf !== null && typeof (cnf as { jkt?: unknown }).jkt === 'string'
      ? (cnf as { jkt: string }).jkt
      : undefined;
  return {
    active: true,
    clientId,
    user: userFromClaims(sub, username, clientId),
    scopes: parseScope(stringClaim(payload, 'scope')),
    exp: payload.exp,
    // nbf was already checked by jwtVerify (with clock tolerance) and only becomes truer with time.
    aud: aud === undefined ? undefined : typeof aud === 'string' ? [aud] : aud,
    // RFC 9449 §6.1: a DPoP-bound JWT access token carries cnf.jkt.
    jkt,
  };
}

export function createJwtSource(
  config: JwtConfig,
  now: () => number,
  tuning: JwksTuning = {},
  /** Told about JWKS failures that keys already held covered for (no 503 will report them). */
  onStaleFallback: (fault: BackendFault) => void = () => {},
): TokenSource {
  // Loaded now (not at process start): configs without a JWT source never load jose.
  void loadJose();
  const jwks = new RemoteJwks({
    uri: config.jwksUri,
    now,
    maxAgeMs: tuning.cacheMaxAgeMs ?? 600_000,
    unknownKidFloorMs: tuning.unknownKidFloorMs ?? 1_000,
    failureBackoffMs: tuning.cooldownMs ?? 30_000,
    timeoutMs: tuning.timeoutMs ?? 5_000,
  });

  const baseOptions: JWTVerifyOptions = {
    issuer: config.issuer,
    ...(config.audience === undefined ? {} : { audience: config.audience }),
    algorithms: [...config.algorithms],
    clockTolerance: config.clockTolerance / 1000,
    typ: 'at+jwt',
    requiredClaims: ['exp'],
  };

  /** Verify with the keys held; undefined when the token names a kid they do not have. */
  async function verifyWithKeysHeld(
    jose: typeof Jose,
    token: string,
    options: JWTVerifyOptions,
  ): Promise<TokenInfo | undefined> {
    try {
      const { payload } = await jose.jwtVerify(token, jwks.keys!, options);
      return jwtClaimsToTokenInfo(payload);
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === 'ERR_JWKS_NO_MATCHING_KEY') return undefined;
      if (isTokenFault(error)) return INACTIVE;
      throw new TemporarilyUnavailable(jwksFault(error));
    }
  }

  return {
    name: 'jwt',
    async lookup(token) {
      if (!JWS_COMPACT.test(token)) return undefined;
      const jose = await loadJose();
      if (!looksLikeJwt(jose, token)) return undefined;
      const nowMs = now();
      const options: JWTVerifyOptions = { ...baseOptions, currentDate: new Date(nowMs) };
      if (jwks.wantsRefresh(nowMs)) {
        try {
          await jwks.refresh();
        } catch (fault) {
          // Stale-if-error: the keys already held keep verifying; with none, fail closed (503).
          if (jwks.keys !== undefined) onStaleFallback(jwksFault(fault));
        }
      }
      if (jwks.keys === undefined) {
        throw new TemporarilyUnavailable(jwks.lastFault ?? new BackendFault('jwks', 'unavailable'));
      }
      const seen = jwks.generation;
      const info = await verifyWithKeysHeld(jose, token, options);
      if (info !== undefined) return info;

      // Unknown kid: perhaps a key published since the last fetch (RFC 7517 §4.5; a rotation).
      try {
        if (await jwks.refreshForUnknownKid(seen)) {
          const again = await verifyWithKeysHeld(jose, token, options);
          if (again !== undefined) return again;
        }
      } catch (fault) {
        onStaleFallback(jwksFault(fault));
      }
      // Refused, but only until the keys may be fetched again: the cache must not keep this answer
      // longer, or a freshly rotated key would keep failing for a whole negativeTtl.
      return { ...INACTIVE, retryAt: jwks.nextFetchAt() };
    },
    async close() {},
  };
}

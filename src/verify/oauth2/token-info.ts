/**
 * What the gateway knows about a bearer token, whichever source answered (credential store, RFC
 * 7662 introspection, RFC 9068 JWT). These are facts about the token, never a decision for a
 * route: scopes and audience are judged per route after the cache (verify/oauth2/token-check.ts),
 * so a token cached while serving route A can never satisfy route B's stricter requirement.
 */
export interface TokenInfo {
  readonly active: boolean;
  readonly clientId?: string | undefined;
  /** The resource owner; absent for client_credentials tokens (no user header upstream). */
  readonly user?: string | undefined;
  readonly scopes: readonly string[];
  /** Expiry, unix seconds. */
  readonly exp?: number | undefined;
  /** Not valid before, unix seconds. */
  readonly nbf?: number | undefined;
  readonly aud?: readonly string[] | undefined;
  /**
   * RFC 9449 §6: the SHA-256 JWK thumbprint the token is bound to (`cnf.jkt`). A bound token is
   * accepted only with a DPoP proof made with that key, never as a plain Bearer token.
   */
  readonly jkt?: string | undefined;
  /**
   * Unix ms after which this (inactive) answer may change: a JWT naming a `kid` the keys held did
   * not have is refused only until the JWKS may be fetched again. Caches keep it no longer.
   */
  readonly retryAt?: number | undefined;
}

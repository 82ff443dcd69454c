import type { KeyObject } from 'node:crypto';

/**
 * The lookups the OAuth 1.0a verifier needs, declared here so verify/ depends on no store. Each
 * names only the fields the verifier reads; store/ implements them structurally (its records carry
 * more), and tests can pass plain objects. Terms are RFC 5849 §1.1's.
 */

/** Client credentials (a consumer): the shared secret and, for RSA-SHA*, the public key. */
export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Parsed once when the record is loaded; PEM public key or X.509 certificate. */
  readonly rsaPublicKey?: KeyObject | undefined;
}

/** Token credentials: the token secret and whom the token was issued to and for. */
export interface TokenCredentials {
  readonly tokenSecret: string;
  readonly clientId: string;
  readonly userId?: string | undefined;
  readonly scopes: readonly string[];
}

export interface CredentialLookup {
  getClient(clientId: string): Promise<ClientCredentials | undefined>;
  getToken(token: string): Promise<TokenCredentials | undefined>;
}

/**
 * One nonce claim (RFC 5849 §3.3), made by the verifier once the signature verified (so garbage
 * cannot fill a store). It carries what a bounded store needs to keep the one rule every nonce store
 * follows: **a nonce whose request could still be accepted is never forgotten**.
 */
export interface NonceClaim {
  /** `clientId:token:timestamp:nonce`, components §3.6-encoded: unique per signed request. */
  readonly key: string;
  /** `oauth_timestamp` in seconds. */
  readonly timestamp: number;
  /** The verifier accepts the timestamp while |timestamp × 1000 − now| ≤ windowMs. */
  readonly windowMs: number;
  /** The verifier's clock (epoch ms) when it judged the timestamp. */
  readonly now: number;
}

/**
 * `fresh`: first use, now remembered. `replayed`: seen before (401 invalid_nonce). `stale`: the
 * store cannot vouch for this timestamp any more (it is below the store's floor), so the request
 * is refused as if outside the window (401 invalid_timestamp).
 */
export type NonceVerdict = 'fresh' | 'replayed' | 'stale';

/** RFC 5849 §3.3 replay protection. */
export interface NonceRegistry {
  /**
   * Atomically records `claim.key`. Never answers `fresh` twice for one key while a request
   * carrying it could still pass the timestamp window.
   */
  claim(claim: NonceClaim): Promise<NonceVerdict>;
}

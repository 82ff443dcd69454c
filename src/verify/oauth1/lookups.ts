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

/** RFC 5849 §3.3 replay protection: true if `key` was not seen within `ttlMs`, false on a replay. */
export interface NonceRegistry {
  claim(key: string, ttlMs: number): Promise<boolean>;
}

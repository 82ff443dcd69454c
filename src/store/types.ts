import type { KeyObject } from 'node:crypto';

/**
 * Small interfaces for the I/O the verifiers need. Each has a memory/file and a Redis
 * implementation that pass the same conformance test file. Errors from a backend that cannot answer
 * (Redis down) are thrown as `TemporarilyUnavailable` so the request fails closed with 503.
 */

/** RFC 5849 §3.3 replay protection. */
export interface NonceStore {
  /**
   * Atomically records `key`; true if it was not seen within `ttlMs`, false if it is a replay.
   * Called only after the signature verified, so garbage cannot fill the store.
   */
  claim(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** An OAuth1 consumer ("client" in Authlib). */
export interface OAuth1Client {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Parsed once when the record is loaded; PEM public key or X.509 certificate. */
  readonly rsaPublicKey?: KeyObject | undefined;
}

/** OAuth1 token credentials (Authlib "TokenCredential"). */
export interface OAuth1Token {
  readonly token: string;
  readonly tokenSecret: string;
  readonly clientId: string;
  readonly userId?: string | undefined;
  readonly scopes: readonly string[];
}

/** An OAuth2 access token record (Authlib "OAuth2Token"). */
export interface BearerToken {
  readonly clientId: string;
  readonly userId?: string | undefined;
  readonly scopes: readonly string[];
  readonly revoked: boolean;
  /** Unix seconds. */
  readonly issuedAt: number;
  /** Seconds; 0 = no expiry. */
  readonly expiresIn: number;
  readonly audience?: readonly string[] | undefined;
}

export interface CredentialStore {
  getClient(clientId: string): Promise<OAuth1Client | undefined>;
  getToken(token: string): Promise<OAuth1Token | undefined>;
  getBearerToken(accessToken: string): Promise<BearerToken | undefined>;
  /** For /readyz. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

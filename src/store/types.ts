import type { KeyObject } from 'node:crypto';
import type { NonceClaim, NonceRegistry, NonceVerdict } from '../verify/oauth1/lookups.js';

export type { NonceClaim, NonceVerdict };

/**
 * Small interfaces for the I/O the verifiers need. Each has a memory/file and a Redis
 * implementation that pass the same conformance test file. Errors from a backend that cannot answer
 * (Redis down) are thrown as `TemporarilyUnavailable` so the request fails closed with 503.
 */

/** RFC 5849 §3.3 replay protection: the verifier's NonceRegistry, plus a lifecycle. */
export interface NonceStore extends NonceRegistry {
  close(): Promise<void>;
}

/** What a nonce store reports for metrics (memory store; Redis keeps its numbers in Redis). */
export interface NonceStoreStats {
  /** Nonces remembered now. */
  readonly entries: number;
  /** Bytes held for them (hash tables plus per-bucket overhead). */
  readonly bytes: number;
  /** Times the store gave up timestamps (raised its floor, or cut future seconds) to stay within maxEntries. */
  readonly floorRaises: number;
  /** How far back an oauth_timestamp is still accepted (≤ the configured window). */
  readonly effectiveWindowMs: number;
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

/**
 * Optional second-level cache shared by all replicas (Redis, key `introspect:{sha256hex(token)}`):
 * the introspection L2 (`SharedCache<TokenInfo>`). Keys are already hashed: the raw token never
 * leaves the process. Implementations throw on backend failure; the token cache treats a failing
 * L2 as a miss and carries on with the sources.
 */
export interface SharedCache<T> {
  get(key: string): Promise<T | undefined>;
  set(key: string, value: T, ttlMs: number): Promise<void>;
}

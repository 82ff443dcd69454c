import { hash } from 'node:crypto';

/**
 * Lower-case hex SHA-256 of a UTF-8 string: the one way a bearer token becomes a key — in the
 * credential stores (`oauth2:token:{sha256hex(accessToken)}`) and in the token caches
 * (`introspect:{sha256hex(token)}`), so the raw token is never a map or Redis key. One-shot
 * `crypto.hash` (no Hash object) is about twice as cheap as createHash().update().digest().
 */
export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex');
}

/**
 * The same SHA-256 as 32 raw bytes in a one-byte string (`binary` = latin1): a key only ever compared in memory (the
 * token cache's L1). 32 characters instead of 64 halve what each of 100k cached keys costs.
 */
export function sha256Key(value: string): string {
  return hash('sha256', value, 'binary');
}

/** A sha256Key as the lower-case hex sha256Hex gives (for keys that leave the process). */
export function keyToHex(key: string): string {
  return Buffer.from(key, 'latin1').toString('hex');
}

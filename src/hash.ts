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

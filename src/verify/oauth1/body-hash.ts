import { createHash } from 'node:crypto';

/**
 * draft-eaton-oauth-bodyhash-00 §3.1: `oauth_body_hash` is base64(SHA-1(body octets)), computed over
 * the raw bytes exactly as received (no re-serialisation, no charset conversion). An absent body
 * hashes as the empty string (§3.2).
 */
export function computeBodyHash(body: Buffer | string | undefined): string {
  const hash = createHash('sha1');
  if (body !== undefined) hash.update(body);
  return hash.digest('base64');
}

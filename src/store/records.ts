import { createPublicKey, type KeyObject } from 'node:crypto';
import type {
  BearerTokenRecord,
  OAuth1ClientRecord,
  OAuth1TokenRecord,
} from '../config/credentials-schema.js';
import { parseScope } from '../verify/scope.js';
import type { BearerToken, OAuth1Client, OAuth1Token } from './types.js';

/**
 * Record → lookup value conversions shared by the file and Redis stores, so both answer the same
 * thing for the same record (the conformance tests hold them to it). Everything here runs once per
 * load or cache miss, never per request.
 */

/** RFC 7662 §2.2 `aud`: a string or an array; a string may list several, space-separated. */
export function splitAudience(
  audience: string | readonly string[] | null | undefined,
): readonly string[] | undefined {
  if (audience === null || audience === undefined) return undefined;
  const parts = typeof audience === 'string' ? parseScope(audience) : audience.filter((part) => part !== '');
  return parts.length === 0 ? undefined : Object.freeze([...parts]);
}

/**
 * A PEM public key (SPKI or PKCS#1) or an X.509 certificate. createPublicKey accepts both and
 * extracts the key from a certificate. Throws on anything else; callers decide what that means.
 */
export function parseRsaPublicKey(pem: string): KeyObject {
  const key = createPublicKey({ key: pem, format: 'pem' });
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') {
    throw new Error(`expected an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}

/** Throws if the RSA key cannot be parsed. */
export function toOAuth1Client(record: OAuth1ClientRecord): OAuth1Client {
  const pem = record.rsaPublicKey;
  return Object.freeze({
    clientId: record.clientId,
    clientSecret: record.clientSecret,
    rsaPublicKey: pem === null || pem === undefined || pem === '' ? undefined : parseRsaPublicKey(pem),
  });
}

export function toOAuth1Token(record: OAuth1TokenRecord): OAuth1Token {
  return Object.freeze({
    token: record.token,
    tokenSecret: record.tokenSecret,
    clientId: record.clientId,
    userId: record.userId ?? undefined,
    scopes: parseScope(record.scope),
  });
}

export function toBearerToken(record: Omit<BearerTokenRecord, 'accessToken'>): BearerToken {
  return Object.freeze({
    clientId: record.clientId,
    userId: record.userId ?? undefined,
    scopes: parseScope(record.scope),
    revoked: record.revoked,
    issuedAt: record.issuedAt,
    expiresIn: record.expiresIn,
    audience: splitAudience(record.audience),
  });
}

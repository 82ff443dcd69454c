import { bearerTokenRecord, oauth1ClientRecord, oauth1TokenRecord } from '../config/credentials-schema.js';
import { toBearerToken, toOAuth1Client, toOAuth1Token } from './records.js';
import type { BearerToken, OAuth1Client, OAuth1Token } from './types.js';

/**
 * Redis hash (as HGETALL returns it: every field a string) → lookup value, validated with the same
 * zod record schemas as credentials.yaml. Anything malformed — a missing field, a number that is
 * not one, an RSA key that does not parse, a record stored under another id — decodes to
 * `undefined`, i.e. "unknown credential": never a crash, never a half-filled record.
 * Unknown extra fields are ignored so an authorization server may keep its own bookkeeping there.
 */

export type RedisHash = Readonly<Record<string, string>>;

const UNSIGNED_INTEGER = /^\d+$/;
/** Fails every schema: a field that is present but unreadable must not read as "absent". */
const INVALID = Symbol('invalid field');

/** Redis has no null: an empty string means "not set". */
function optional(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function integer(value: string | undefined): number | undefined {
  return value !== undefined && UNSIGNED_INTEGER.test(value) ? Number(value) : undefined;
}

/** "0"/"1" (redis-py writes bools as ints when told to) or "false"/"true"; absent → not revoked. */
function revokedFlag(value: string | undefined): boolean | undefined {
  switch (value) {
    case undefined:
    case '':
    case '0':
    case 'false':
      return false;
    case '1':
    case 'true':
      return true;
    default:
      return undefined;
  }
}

/** A JSON array of strings (`["a","b"]`) or a plain (space-separated) string. */
function audienceField(value: string | undefined): unknown {
  const text = optional(value);
  if (text === undefined || !text.startsWith('[')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Dropping an unreadable audience would widen the token to every audience: fail instead.
    return INVALID;
  }
}

export function decodeClientHash(clientId: string, hash: RedisHash): OAuth1Client | undefined {
  const parsed = oauth1ClientRecord.safeParse({
    clientId: hash.clientId,
    clientSecret: hash.clientSecret,
    rsaPublicKey: optional(hash.rsaPublicKey),
  });
  if (!parsed.success || parsed.data.clientId !== clientId) return undefined;
  try {
    return toOAuth1Client(parsed.data);
  } catch {
    return undefined;
  }
}

export function decodeTokenHash(token: string, hash: RedisHash): OAuth1Token | undefined {
  const parsed = oauth1TokenRecord.safeParse({
    token: hash.token,
    tokenSecret: hash.tokenSecret,
    clientId: hash.clientId,
    userId: optional(hash.userId),
    scope: optional(hash.scope),
  });
  if (!parsed.success || parsed.data.token !== token) return undefined;
  return toOAuth1Token(parsed.data);
}

const bearerHashRecord = bearerTokenRecord.omit({ accessToken: true });

/** The hash is found by sha256hex(accessToken), so the `accessToken` field itself is optional. */
export function decodeBearerHash(hash: RedisHash): BearerToken | undefined {
  const revoked = revokedFlag(hash.revoked);
  if (revoked === undefined) return undefined;
  const parsed = bearerHashRecord.safeParse({
    clientId: hash.clientId,
    userId: optional(hash.userId),
    scope: optional(hash.scope),
    revoked,
    issuedAt: integer(hash.issuedAt),
    expiresIn: integer(hash.expiresIn),
    audience: audienceField(hash.audience),
  });
  return parsed.success ? toBearerToken(parsed.data) : undefined;
}

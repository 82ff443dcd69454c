import { bearerTokenRecord, oauth1ClientRecord, oauth1TokenRecord } from '../config/credentials-schema.js';
import { toBearerToken, toOAuth1Client, toOAuth1Token } from './records.js';
import type { SqlQueryName } from './sql-queries.js';
import type { BearerToken, OAuth1Client, OAuth1Token } from './types.js';

/**
 * SQL row → lookup value. Columns are matched to record fields ignoring case and underscores
 * (`client_secret`, `clientSecret` and PostgreSQL's folded `clientsecret` are all `clientSecret`),
 * so a query only has to alias its columns. Values are normalised from what the drivers return
 * (numbers, bigint strings, Dates, booleans, 0/1) and then validated with the same zod record
 * schemas as credentials.yaml: a row that does not fit decodes to `undefined` (unknown → 401),
 * never to a half-filled record.
 */

export type SqlRow = Readonly<Record<string, unknown>>;

const FIELDS = {
  client: { required: ['clientid', 'clientsecret'], optional: ['rsapublickey'] },
  token: { required: ['token', 'tokensecret', 'clientid'], optional: ['userid', 'scope'] },
  bearerToken: {
    required: ['clientid'],
    optional: ['userid', 'scope', 'revoked', 'revokedat', 'issuedat', 'expiresin', 'expiresat', 'audience'],
  },
} as const satisfies Record<SqlQueryName, { required: readonly string[]; optional: readonly string[] }>;

export function normaliseColumn(name: string): string {
  return name.toLowerCase().replaceAll('_', '');
}

/**
 * Checks a query's result columns (known even when no row matched): undefined if usable, else a
 * message naming what is missing. A bearer token also needs an expiry: expires_in or expires_at.
 */
export function checkColumns(query: SqlQueryName, columns: readonly string[]): string | undefined {
  const have = new Set(columns.map(normaliseColumn));
  const missing: string[] = FIELDS[query].required.filter((field) => !have.has(field));
  if (query === 'bearerToken' && !have.has('expiresin') && !have.has('expiresat')) {
    missing.push('expires_in or expires_at');
  }
  if (query === 'bearerToken' && have.has('expiresin') && !have.has('issuedat')) missing.push('issued_at');
  return missing.length === 0 ? undefined : `returns no column ${missing.join(', ')}`;
}

/** Row keyed by normalised column name. */
function normalise(row: SqlRow): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, value] of Object.entries(row)) out.set(normaliseColumn(name), value);
  return out;
}

/** Text-like column: strings as they are, integer ids (user_id INTEGER, BIGINT) as decimal. */
function text(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

const DIGITS = /^-?\d+(\.\d+)?$/;

/** Unix seconds from an INTEGER/BIGINT column, a numeric string or a timestamp (Date). */
function seconds(value: unknown): number | undefined | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
  }
  if (typeof value === 'number') return Number.isFinite(value) ? Math.floor(value) : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && DIGITS.test(value)) return Math.floor(Number(value));
  return undefined;
}

/** BOOLEAN, TINYINT(1), 0/1, 't'/'f', 'true'/'false'; NULL = not revoked. */
function flag(value: unknown): boolean | undefined {
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value) !== 0;
  if (typeof value === 'string') {
    const v = value.toLowerCase();
    if (v === '0' || v === 'f' || v === 'false' || v === '') return false;
    if (v === '1' || v === 't' || v === 'true') return true;
  }
  return undefined;
}

/** revoked_at: NULL or 0 = not revoked; any time = revoked (Authlib stores an int, 0 = never). */
function revokedAt(value: unknown): boolean | undefined {
  if (value === null || value === undefined) return false;
  const at = seconds(value);
  if (at === undefined) return undefined;
  return at !== null && at !== 0;
}

function audience(value: unknown): unknown {
  const raw = text(value);
  if (raw === undefined || raw === '' || !raw.startsWith('[')) return raw === '' ? undefined : raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return Symbol('invalid'); // fails the schema: an unreadable audience must not widen the token
  }
}

export function decodeClientRow(clientId: string, row: SqlRow): OAuth1Client | undefined {
  const r = normalise(row);
  const pem = text(r.get('rsapublickey'));
  const parsed = oauth1ClientRecord.safeParse({
    clientId: text(r.get('clientid')),
    clientSecret: text(r.get('clientsecret')) ?? '',
    rsaPublicKey: pem === '' ? undefined : pem,
  });
  // A row for another id (a case-insensitive collation, a LIKE) is not this client.
  if (!parsed.success || parsed.data.clientId !== clientId) return undefined;
  try {
    return toOAuth1Client(parsed.data);
  } catch {
    return undefined;
  }
}

export function decodeTokenRow(token: string, row: SqlRow): OAuth1Token | undefined {
  const r = normalise(row);
  const parsed = oauth1TokenRecord.safeParse({
    token: text(r.get('token')),
    tokenSecret: text(r.get('tokensecret')) ?? '',
    clientId: text(r.get('clientid')),
    userId: text(r.get('userid')) || undefined,
    scope: text(r.get('scope')),
  });
  if (!parsed.success || parsed.data.token !== token) return undefined;
  return toOAuth1Token(parsed.data);
}

const bearerRowRecord = bearerTokenRecord.omit({ accessToken: true });

/**
 * Expiry from `expires_in` (+ `issued_at`, Authlib; 0 = never) or from `expires_at` (Django's
 * `expires` timestamp; NULL = never). An `expires_at` at or before `issued_at` must still read as
 * expired, never as "0 = no expiry": issuedAt is moved to one second before it.
 */
export function decodeBearerRow(row: SqlRow): BearerToken | undefined {
  const r = normalise(row);
  const revokedFlag = r.has('revoked') ? flag(r.get('revoked')) : false;
  const revokedTime = r.has('revokedat') ? revokedAt(r.get('revokedat')) : false;
  if (revokedFlag === undefined || revokedTime === undefined) return undefined;

  let issuedAt = seconds(r.get('issuedat'));
  let expiresIn: number | null | undefined;
  if (r.has('expiresat')) {
    const expiresAt = seconds(r.get('expiresat'));
    if (expiresAt === undefined || issuedAt === undefined) return undefined;
    if (expiresAt === null) {
      expiresIn = 0;
      issuedAt ??= 0;
    } else {
      if (expiresAt <= 0) return undefined;
      if (issuedAt === null || issuedAt >= expiresAt) issuedAt = expiresAt - 1;
      expiresIn = expiresAt - issuedAt;
    }
  } else {
    expiresIn = seconds(r.get('expiresin'));
  }
  if (issuedAt === null || expiresIn === null) return undefined;

  const parsed = bearerRowRecord.safeParse({
    clientId: text(r.get('clientid')),
    userId: text(r.get('userid')) || undefined,
    scope: text(r.get('scope')),
    revoked: revokedFlag || revokedTime,
    issuedAt,
    expiresIn,
    audience: audience(r.get('audience')),
  });
  return parsed.success ? toBearerToken(parsed.data) : undefined;
}

import { InvalidRequest } from '../../errors.js';
import { isFormContentType, type RequestFacts } from '../request-facts.js';

/**
 * RFC 6750 §2: where a bearer token may travel, and the one token a request presents.
 *
 * - §2.1 `Authorization: Bearer <b64token>` (always accepted);
 * - §2.2 `access_token` in an application/x-www-form-urlencoded body (only when enabled; never
 *   with GET);
 * - §2.3 `access_token` in the query (only when enabled).
 *
 * A disabled method is not a method at all: its `access_token` is ignored, never authenticates,
 * and does not count towards "more than one method" (§3.1 invalid_request).
 */

export interface BearerOptions {
  readonly allowQueryToken: boolean;
  readonly allowFormToken: boolean;
}

/** RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 §11.1). */
const BEARER_CREDENTIALS = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
/** Does the header use the Bearer scheme at all (so a malformed value is a 400, not "no credentials")? */
const BEARER_SCHEME = /^bearer(?:[ \t]|$)/i;
const PARAM = 'access_token';

function isBearerAuthorization(authorization: string | undefined): authorization is string {
  return authorization !== undefined && BEARER_SCHEME.test(authorization);
}

function queryTokens(target: string): string[] {
  const start = target.indexOf('?');
  // Parsed in full (not guarded by a substring test) so `access%5Ftoken` counts like `access_token`.
  if (start === -1) return [];
  return new URLSearchParams(target.slice(start + 1)).getAll(PARAM);
}

/**
 * Could this request carry a form-body token the proxy must read before verifying? Lets the proxy
 * buffer only the bodies that matter (RFC 6750 §2.2: form-encoded, and never with GET).
 */
export function bearerBodyNeeded(facts: Omit<RequestFacts, 'body'>, options: BearerOptions): boolean {
  return (
    options.allowFormToken &&
    facts.method.toUpperCase() !== 'GET' &&
    facts.method.toUpperCase() !== 'HEAD' &&
    isFormContentType(facts.contentType)
  );
}

/** What a request carries for RFC 6750, parsed once; only enabled methods are looked at. */
export interface BearerCarried {
  /**
   * The token of an `Authorization: Bearer` header; the InvalidRequest it earned when the header
   * uses the scheme but is malformed; undefined when the header is not Bearer.
   */
  readonly header: string | InvalidRequest | undefined;
  /** §2.3 query tokens (only when enabled). */
  readonly query: readonly string[];
  /** §2.2 form-body tokens (only when enabled and the body was read). */
  readonly form: readonly string[];
  /** Whether the proxy must read the body to see form tokens. */
  readonly bodyNeeded: boolean;
}

const NONE: readonly string[] = Object.freeze([]);

function headerToken(authorization: string | undefined): string | InvalidRequest | undefined {
  if (!isBearerAuthorization(authorization)) return undefined;
  const match = BEARER_CREDENTIALS.exec(authorization);
  return match === null ? new InvalidRequest('oauth2', 'Malformed Bearer authorization header') : match[1]!;
}

function formTokens(body: Buffer): string[] {
  return new URLSearchParams(body.toString('utf8')).getAll(PARAM);
}

/** Parses, once, where the request presents a bearer token (its body too, if already read). Never throws. */
export function detectBearer(
  facts: Omit<RequestFacts, 'body'> & { readonly body?: Buffer | undefined },
  options: BearerOptions,
): BearerCarried {
  const bodyNeeded = bearerBodyNeeded(facts, options);
  return {
    header: headerToken(facts.authorization),
    query: options.allowQueryToken ? queryTokens(facts.target) : NONE,
    form: bodyNeeded && facts.body !== undefined ? formTokens(facts.body) : NONE,
    bodyNeeded,
  };
}

/** The same parse, completed with the body the proxy read after detection. */
export function withBearerBody(carried: BearerCarried, body: Buffer): BearerCarried {
  return carried.bodyNeeded ? { ...carried, form: formTokens(body) } : carried;
}

/** True iff the request presents bearer credentials by an enabled method (for `auth: any` dispatch). */
export function carriesBearer(carried: BearerCarried): boolean {
  return carried.header !== undefined || carried.query.length > 0 || carried.form.length > 0;
}

/**
 * The bearer token the request presents, or undefined when it presents none.
 * Throws InvalidRequest (400 invalid_request, RFC 6750 §3.1) for a malformed Authorization value,
 * an empty or repeated access_token, or more than one method used.
 */
export function bearerToken(carried: BearerCarried): string | undefined {
  const { header } = carried;
  if (header instanceof InvalidRequest) throw header;
  const count = (header === undefined ? 0 : 1) + carried.query.length + carried.form.length;
  if (count === 0) return undefined;
  if (count > 1) {
    throw new InvalidRequest('oauth2', 'The access token must be sent by exactly one method, once');
  }
  const token = header ?? carried.query[0] ?? carried.form[0]!;
  if (token === '') throw new InvalidRequest('oauth2', 'Empty access token');
  return token;
}

/** hasBearerCredentials / extractBearerToken: the same, over a fresh parse of `facts` (tests, library use). */
export function hasBearerCredentials(facts: RequestFacts, options: BearerOptions): boolean {
  return carriesBearer(detectBearer(facts, options));
}

export function extractBearerToken(facts: RequestFacts, options: BearerOptions): string | undefined {
  return bearerToken(detectBearer(facts, options));
}

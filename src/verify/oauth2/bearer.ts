import { InvalidRequest } from '../../errors.js';
import type { RequestFacts } from '../request-facts.js';

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
const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';
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

function isFormContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const end = contentType.indexOf(';');
  const mediaType = (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase();
  return mediaType === FORM_MEDIA_TYPE;
}

/**
 * Could this request carry a form-body token the proxy must read before verifying? Lets the proxy
 * buffer only the bodies that matter (RFC 6750 §2.2: form-encoded, and never with GET).
 */
export function bearerBodyNeeded(facts: RequestFacts, options: BearerOptions): boolean {
  return (
    options.allowFormToken &&
    facts.method.toUpperCase() !== 'GET' &&
    facts.method.toUpperCase() !== 'HEAD' &&
    isFormContentType(facts.contentType)
  );
}

function formTokens(facts: RequestFacts, options: BearerOptions): string[] {
  if (!bearerBodyNeeded(facts, options) || facts.body === undefined) return [];
  return new URLSearchParams(facts.body.toString('utf8')).getAll(PARAM);
}

/** True iff the request presents bearer credentials by an enabled method (for `auth: any` dispatch). */
export function hasBearerCredentials(facts: RequestFacts, options: BearerOptions): boolean {
  if (isBearerAuthorization(facts.authorization)) return true;
  if (options.allowQueryToken && queryTokens(facts.target).length > 0) return true;
  return formTokens(facts, options).length > 0;
}

/**
 * The bearer token the request presents, or undefined when it presents none.
 * Throws InvalidRequest (400 invalid_request, RFC 6750 §3.1) for a malformed Authorization value,
 * an empty or repeated access_token, or more than one method used.
 */
export function extractBearerToken(facts: RequestFacts, options: BearerOptions): string | undefined {
  const found: string[] = [];

  if (isBearerAuthorization(facts.authorization)) {
    const match = BEARER_CREDENTIALS.exec(facts.authorization);
    if (match === null) throw new InvalidRequest('oauth2', 'Malformed Bearer authorization header');
    found.push(match[1]!);
  }
  if (options.allowQueryToken) found.push(...queryTokens(facts.target));
  found.push(...formTokens(facts, options));

  if (found.length === 0) return undefined;
  if (found.length > 1) {
    throw new InvalidRequest('oauth2', 'The access token must be sent by exactly one method, once');
  }
  const token = found[0]!;
  if (token === '') throw new InvalidRequest('oauth2', 'Empty access token');
  return token;
}

import { InvalidRequest, type OAuth1Problem } from '../../errors.js';
import { isFormContentType, type RequestFacts } from '../request-facts.js';
import { formDecode, percentDecodeStrict } from './encoding.js';

/**
 * Where OAuth 1.0a parameters come from (RFC 5849 §3.5) and which of them are signed
 * (§3.4.1.3.1). Everything malformed is an InvalidRequest (400) — nothing else is ever thrown, so
 * arbitrary client input cannot turn into a 500.
 */

/** A decoded `[name, value]` pair, in the order it appeared. */
export type Param = readonly [name: string, value: string];

export type ParamSource = 'header' | 'query' | 'body';

export interface AuthorizationParams {
  /** RFC 5849 §3.5.1: realm is a plain RFC 2617 quoted-string — neither decoded nor signed. */
  readonly realm: string | undefined;
  /** Every other parameter, name and value percent-decoded exactly once. */
  readonly params: readonly Param[];
}

/** The protocol parameters of one request, already checked for presence and uniqueness. */
export interface ProtocolParams {
  readonly consumerKey: string;
  readonly signatureMethod: string;
  /** Decoded: base64 for HMAC/RSA, `enc(cs)&enc(ts)` for PLAINTEXT. */
  readonly signature: string;
  readonly timestamp: string;
  readonly nonce: string;
  /** Absent for two-legged requests; an empty `oauth_token=""` counts as absent. */
  readonly token: string | undefined;
  readonly version: string | undefined;
  readonly bodyHash: string | undefined;
}

export interface CollectedParams {
  readonly source: ParamSource;
  readonly protocol: ProtocolParams;
  /** §3.4.1.3.1: query + Authorization header (without realm) + form body, minus oauth_signature. */
  readonly signed: readonly Param[];
  /** Whether the body is application/x-www-form-urlencoded (and so part of the signature). */
  readonly formBody: boolean;
}

function reject(description: string, problem: OAuth1Problem = 'parameter_rejected'): InvalidRequest {
  return new InvalidRequest('oauth1', description, problem);
}

// ── Authorization header (RFC 5849 §3.5.1) ──────────────────────────────────────────────────────

const SCHEME = 'oauth';

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** RFC 9110 §5.6.2 tchar, as a lookup table built once. */
const TCHAR = (() => {
  const table = new Uint8Array(128);
  const chars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
})();

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** RFC 9110 §5.6.4 qdtext / quoted-pair payload: HTAB, SP, VCHAR, obs-text. */
function isQuotedTextChar(code: number): boolean {
  return code === 0x09 || (code >= 0x20 && code !== 0x7f && code <= 0xff);
}

/** True when the Authorization header uses the OAuth scheme (scheme names are case-insensitive). */
export function isOAuthAuthorization(header: string | undefined): boolean {
  if (header === undefined || header.length < SCHEME.length) return false;
  if (header.slice(0, SCHEME.length).toLowerCase() !== SCHEME) return false;
  return header.length === SCHEME.length || isWhitespace(header.charCodeAt(SCHEME.length));
}

/**
 * Parses `OAuth realm="x", oauth_consumer_key="k", …`: `name="value"` pairs separated by commas
 * with optional whitespace (empty list elements are tolerated, RFC 9110 §5.6.1). Values must be
 * quoted (§3.5.1). Names and values other than realm are percent-decoded exactly once; `+` is not
 * a space here.
 */
export function parseAuthorizationHeader(header: string): AuthorizationParams {
  if (!isOAuthAuthorization(header)) throw reject('Authorization header does not use the OAuth scheme');
  const params: Param[] = [];
  let realm: string | undefined;
  let pos = SCHEME.length;
  let needComma = false;
  const end = header.length;

  while (true) {
    while (pos < end && isWhitespace(header.charCodeAt(pos))) pos++;
    if (pos >= end) break;
    if (header.charCodeAt(pos) === 0x2c /* , */) {
      pos++;
      needComma = false;
      continue;
    }
    if (needComma) throw reject('Malformed OAuth Authorization header');

    const nameStart = pos;
    while (pos < end && isTchar(header.charCodeAt(pos))) pos++;
    const rawName = header.slice(nameStart, pos);
    if (rawName === '' || header.charCodeAt(pos) !== 0x3d /* = */ || header.charCodeAt(pos + 1) !== 0x22) {
      throw reject('Malformed OAuth Authorization header');
    }
    pos += 2;

    // Copy runs of plain text in one slice; only quoted-pairs (rare: realm) break a run.
    let rawValue = '';
    let runStart = pos;
    let closed = false;
    while (pos < end) {
      const code = header.charCodeAt(pos);
      if (code === 0x22 /* " */) {
        rawValue += header.slice(runStart, pos);
        closed = true;
        pos++;
        break;
      }
      if (code === 0x5c /* \ */) {
        if (pos + 1 >= end || !isQuotedTextChar(header.charCodeAt(pos + 1))) break;
        rawValue += header.slice(runStart, pos);
        runStart = pos + 1;
        pos += 2;
        continue;
      }
      if (!isQuotedTextChar(code)) break;
      pos++;
    }
    if (!closed) throw reject('Malformed OAuth Authorization header');

    if (rawName === 'realm') {
      if (realm !== undefined) throw reject('Duplicate realm in OAuth Authorization header');
      realm = rawValue;
    } else {
      const name = percentDecodeStrict(rawName);
      const value = percentDecodeStrict(rawValue);
      if (name === undefined || value === undefined) {
        throw reject('Malformed percent-encoding in OAuth Authorization header');
      }
      params.push([name, value]);
    }
    needComma = true;
  }
  return { realm, params };
}

// ── Query and form body (RFC 5849 §3.4.1.3.1) ──────────────────────────────────────────────────

/**
 * Parses application/x-www-form-urlencoded text: `&`-separated, `+` is a space, `%2B` a plus,
 * a name without `=` has an empty value, empty segments are skipped.
 */
export function parseFormEncoded(raw: string): Param[] {
  const params: Param[] = [];
  if (raw === '') return params;
  let start = 0;
  while (start <= raw.length) {
    let stop = raw.indexOf('&', start);
    if (stop === -1) stop = raw.length;
    if (stop > start) {
      const segment = raw.slice(start, stop);
      const eq = segment.indexOf('=');
      if (eq === -1) params.push([formDecode(segment), '']);
      else params.push([formDecode(segment.slice(0, eq)), formDecode(segment.slice(eq + 1))]);
    }
    start = stop + 1;
  }
  return params;
}

/** The raw query of an origin-form request-target (everything after the first `?`), or ''. */
export function rawQuery(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? '' : target.slice(q + 1);
}

// ── Protocol parameters (RFC 5849 §3.5) ───────────────────────────────────────────────────────

const PROTOCOL_PREFIX = 'oauth_';

function hasProtocolParam(params: readonly Param[]): boolean {
  return params.some(([name]) => name.startsWith(PROTOCOL_PREFIX));
}

/**
 * Required parameters. RFC 5849 §3.1 lets PLAINTEXT omit oauth_timestamp and oauth_nonce, but we
 * follow oauthlib's server (`BaseEndpoint._check_mandatory_parameters`) and always require them:
 * without them there is no replay protection, and PLAINTEXT is already limited to TLS.
 */
const REQUIRED = [
  'oauth_consumer_key',
  'oauth_signature_method',
  'oauth_signature',
  'oauth_timestamp',
  'oauth_nonce',
] as const;

function extractProtocolParams(params: readonly Param[]): ProtocolParams {
  const found = new Map<string, string>();
  for (const [name, value] of params) {
    if (!name.startsWith(PROTOCOL_PREFIX)) continue;
    // §3.5 / oauthlib: each protocol parameter at most once (no "first one wins" ambiguity).
    if (found.has(name)) throw reject('Duplicate OAuth protocol parameter');
    found.set(name, value);
  }
  for (const name of REQUIRED) {
    // An empty value is as good as missing (oauthlib treats them alike).
    if (!found.get(name)) throw reject(`Missing OAuth protocol parameter ${name}`, 'parameter_absent');
  }
  const token = found.get('oauth_token');
  return {
    consumerKey: found.get('oauth_consumer_key')!,
    signatureMethod: found.get('oauth_signature_method')!,
    signature: found.get('oauth_signature')!,
    timestamp: found.get('oauth_timestamp')!,
    nonce: found.get('oauth_nonce')!,
    token: token === '' ? undefined : token,
    version: found.get('oauth_version'),
    bodyHash: found.get('oauth_body_hash'),
  };
}

/**
 * What a request carries for OAuth 1.0a, parsed once (RFC 5849 §3.5): the OAuth Authorization
 * header, the query and, once read, the form body. Scheme detection, the body decision and
 * verification all read this one parse.
 */
export interface OAuth1Carried {
  /**
   * The OAuth Authorization header's parameters; undefined when the header does not use the OAuth
   * scheme; the InvalidRequest it earned when malformed (thrown by verification, not detection).
   */
  readonly header: AuthorizationParams | InvalidRequest | undefined;
  readonly query: readonly Param[];
  /** Whether the body is application/x-www-form-urlencoded (and so part of the signature). */
  readonly formBody: boolean;
  /** The form body's parameters; empty when the body is not a form or was not read. */
  readonly body: readonly Param[];
}

const NO_PARAMS: readonly Param[] = Object.freeze([]);

function parseHeaderOnce(
  authorization: string | undefined,
): AuthorizationParams | InvalidRequest | undefined {
  if (!isOAuthAuthorization(authorization)) return undefined;
  try {
    return parseAuthorizationHeader(authorization!);
  } catch (error) {
    if (error instanceof InvalidRequest) return error;
    throw error;
  }
}

/** Parses what `facts` carries (its body too, when the proxy has read it). Never throws. */
export function readOAuth1Params(
  facts: Pick<RequestFacts, 'authorization' | 'target' | 'contentType'> & {
    readonly body?: Buffer | undefined;
  },
): OAuth1Carried {
  const formBody = isFormContentType(facts.contentType);
  return {
    header: parseHeaderOnce(facts.authorization),
    query: parseFormEncoded(rawQuery(facts.target)),
    formBody,
    body: formBody && facts.body !== undefined ? parseFormEncoded(facts.body.toString('utf8')) : NO_PARAMS,
  };
}

/** The same parse, completed with the body the proxy read after detection. */
export function withOAuth1Body(carried: OAuth1Carried, body: Buffer): OAuth1Carried {
  if (!carried.formBody) return carried;
  return { ...carried, body: parseFormEncoded(body.toString('utf8')) };
}

/**
 * Gathers every request parameter and the protocol parameters. Protocol (`oauth_*`) parameters
 * must come from exactly one place — the OAuth Authorization header, the query or the form body
 * (§3.5 lists them as alternatives; oauthlib rejects a mix) — and each at most once.
 */
export function collectCarriedParams(carried: OAuth1Carried): CollectedParams {
  const { header, query, body, formBody } = carried;
  if (header instanceof InvalidRequest) throw header;

  const sources: ParamSource[] = [];
  if (header !== undefined) sources.push('header');
  if (hasProtocolParam(query)) sources.push('query');
  if (hasProtocolParam(body)) sources.push('body');
  if (sources.length > 1) throw reject('OAuth protocol parameters must all be sent in one place');
  const source = sources[0];
  if (source === undefined) throw reject('No OAuth protocol parameters', 'parameter_absent');

  const protocolList = source === 'header' ? header!.params : source === 'query' ? query : body;
  const protocol = extractProtocolParams(protocolList);

  const signed: Param[] = [];
  for (const list of [query, header?.params ?? NO_PARAMS, body]) {
    for (const param of list) if (param[0] !== 'oauth_signature') signed.push(param);
  }
  return { source, protocol, signed, formBody };
}

/** collectCarriedParams over a fresh parse of `facts` (tests, library use). */
export function collectOAuthParams(facts: RequestFacts): CollectedParams {
  return collectCarriedParams(readOAuth1Params(facts));
}

import { randomUUID } from 'node:crypto';
import type { GatewayFileConfig } from '../config/schema.js';
import type { Identity } from '../verify/identity.js';

/**
 * All header hygiene in one place (the @fastify/reply-from / Envoy approach): hop-by-hop headers and
 * those nominated by `Connection` never cross the proxy; every inbound copy of an identity header
 * is dropped before the gateway adds its own, however it is spelled.
 */

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the proxy-* pair which belong to the hop. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * `Expect: 100-continue` is answered on the client hop (Node's server sends `100 Continue` itself
 * when there is no `checkContinue` listener), so it is consumed here, not forwarded; undici also
 * refuses to send it (NotSupportedError), which turned every curl upload over 1 KB into a 502.
 */
const CONSUMED_BY_PROXY = 'expect';

/** Headers the gateway sets itself, so the client's copies are dropped. */
const GATEWAY_SET = new Set([
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-request-id',
]);

/** `X_OAuth-User ` → `x-oauth-user`: how identity headers are compared (CGI/WSGI read `_` as `-`). */
export function canonicalHeaderName(name: string): string {
  return name.trim().toLowerCase().replaceAll('_', '-');
}

export interface HeaderPolicy {
  /** Canonical names of identity headers, the assertion header and `identity.strip` extras. */
  readonly stripped: ReadonlySet<string>;
  readonly names: GatewayFileConfig['identity']['headers'];
  /** Where the signed identity assertion goes (src/identity/assertion.ts). */
  readonly assertion: string;
}

/** The assertion header's default name; stripped from clients even when assertions are off. */
export const DEFAULT_ASSERTION_HEADER = 'X-OAuth-Assertion';

export function buildHeaderPolicy(identity: GatewayFileConfig['identity']): HeaderPolicy {
  const stripped = new Set<string>();
  for (const name of Object.values(identity.headers)) stripped.add(canonicalHeaderName(name));
  for (const name of identity.strip) stripped.add(canonicalHeaderName(name));
  // A forged assertion can never verify, but an app that only checks for presence (or a later
  // config that turns assertions on) must never see a client's copy.
  const assertion = identity.assertion?.header ?? DEFAULT_ASSERTION_HEADER;
  stripped.add(canonicalHeaderName(assertion));
  stripped.add(canonicalHeaderName(DEFAULT_ASSERTION_HEADER));
  return { stripped, names: identity.headers, assertion };
}

/**
 * End-to-end headers the gateway's own decisions rest on. A client may not turn them into hop-by-hop
 * headers by naming them in `Connection` (RFC 9110 §7.6.1 lets a sender nominate any field): the
 * upstream would then see another Host than the one routed on, no Content-Type for a form body the
 * OAuth1 signature covered, or lose the Authorization a `passAuthorization` route promises. Such
 * tokens are ignored, and the headers forwarded as usual (SECURITY.md, "Connection nominations").
 */
const NEVER_NOMINATED = new Set([
  'host',
  'authorization',
  'content-length',
  'content-type',
  'transfer-encoding',
]);

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  // The usual values nominate nothing beyond the hop-by-hop headers that are dropped anyway.
  if (typeof value === 'string' && value.length <= 10) {
    const lower = value.toLowerCase();
    if (lower === 'keep-alive' || lower === 'close') return undefined;
  }
  const joined = Array.isArray(value) ? value.join(',') : value;
  const tokens = new Set<string>();
  for (const token of joined.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && !NEVER_NOMINATED.has(name)) tokens.add(name);
  }
  return tokens;
}

export interface ForwardContext {
  readonly policy: HeaderPolicy;
  readonly identity: Identity | undefined;
  /** The signed identity assertion for this request, when assertions are configured. */
  readonly assertion?: string | undefined;
  readonly passAuthorization: boolean;
  /** Keep `Upgrade`/`Connection: upgrade` for a WebSocket handshake. */
  readonly upgrade: boolean;
  readonly clientIp: string;
  readonly proto: string;
  readonly host: string;
  readonly requestId: string;
}

const PLAIN_IDENTITY = /^[\x20-\x24\x26-\x7e]*$/;
const NOT_PLAIN_IDENTITY = /[^\x20-\x24\x26-\x7e]+/g;
const utf8 = new TextEncoder();

function percentEncodeRun(run: string): string {
  let out = '';
  for (const byte of utf8.encode(run)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * Identity values come from credential records, introspection or JWT claims, so they may hold
 * any Unicode (a user id like `张三`) or even control characters. Header values must be visible
 * ASCII, so every character outside it, and `%` itself, is sent percent-encoded as UTF-8: plain
 * ASCII ids arrive unchanged, and `unquote()` / `decodeURIComponent()` always restores the value.
 */
export function identityHeaderValue(value: string): string {
  return PLAIN_IDENTITY.test(value) ? value : value.replace(NOT_PLAIN_IDENTITY, percentEncodeRun);
}

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** How many header lines are named `lowerName` (any case). */
export function countHeader(rawHeaders: readonly string[], lowerName: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) count++;
  }
  return count;
}

/** Reuse the client's X-Request-Id when it is sane; otherwise mint one. */
export function requestIdFrom(value: string | undefined): string {
  return value !== undefined && REQUEST_ID.test(value) ? value : randomUUID();
}

/**
 * Build the upstream request headers as a flat [name, value, …] list from the raw inbound headers
 * (duplicates and case preserved for everything that is forwarded).
 */
export function buildUpstreamHeaders(
  rawHeaders: readonly string[],
  connection: string | string[] | undefined,
  context: ForwardContext,
): string[] {
  const nominated = connectionTokens(connection);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (context.upgrade && lower === 'upgrade') out.push(name, value);
      continue;
    }
    if (nominated?.has(lower) || lower === CONSUMED_BY_PROXY) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (GATEWAY_SET.has(lower)) {
      if (lower === 'host') out.push(name, value);
      continue;
    }
    // The DPoP proof (RFC 9449) belongs with the token: it travels upstream only when the token does.
    if ((lower === 'authorization' || lower === 'dpop') && !context.passAuthorization) continue;
    // Node's parser already refuses whitespace in names; only `_` needs folding (rarely present).
    if (context.policy.stripped.has(lower.includes('_') ? lower.replaceAll('_', '-') : lower)) continue;
    out.push(name, value);
  }
  if (context.upgrade) out.push('connection', 'upgrade');
  out.push(
    'x-forwarded-for',
    forwardedFor === undefined ? context.clientIp : `${forwardedFor}, ${context.clientIp}`,
    'x-forwarded-proto',
    context.proto,
    'x-forwarded-host',
    context.host,
    'x-request-id',
    context.requestId,
  );
  const identity = context.identity;
  if (identity !== undefined) {
    const names = context.policy.names;
    if (identity.user !== undefined) out.push(names.user, identityHeaderValue(identity.user));
    // RFC 7662 makes client_id optional: send no header rather than an empty one.
    if (identity.clientId !== '') out.push(names.client, identityHeaderValue(identity.clientId));
    out.push(names.scope, identityHeaderValue(identity.scopes.join(' ')), names.method, identity.method);
    if (identity.jkt !== undefined) out.push(names.keyThumbprint, identity.jkt);
  }
  if (context.assertion !== undefined) out.push(context.policy.assertion, context.assertion);
  return out;
}

export interface EgressHeaderContext {
  /** Authority of the upstream (`host[:port]`, default port omitted): what the signature covers. */
  readonly host: string;
  /** The gateway's credentials (`OAuth …` / `Bearer …`), or undefined (query/body placement). */
  readonly authorization: string | undefined;
  /** The body is replayed changed (OAuth1 body placement): the app's Content-Length no longer fits. */
  readonly bodyReplaced: boolean;
}

/**
 * Outbound (egress) request headers from the app's raw headers: the same hop-by-hop hygiene as
 * ingress, the app's `Authorization` always dropped (the route replaces it or has refused the
 * request), `Host` set to the upstream's. Nothing is added about the app or the sidecar
 * (no X-Forwarded-*): the remote API is a third party.
 */
export function buildEgressHeaders(
  rawHeaders: readonly string[],
  connection: string | string[] | undefined,
  context: EgressHeaderContext,
): string[] {
  const nominated = connectionTokens(connection);
  const out: string[] = ['host', context.host];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || nominated?.has(lower) || lower === CONSUMED_BY_PROXY) continue;
    if (lower === 'host' || lower === 'authorization') continue;
    if (context.bodyReplaced && lower === 'content-length') continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  if (context.authorization !== undefined) out.push('authorization', context.authorization);
  return out;
}

/** Response headers from the upstream, minus hop-by-hop ones, for `res.writeHead`. */
export function filterResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const nominated = connectionTokens(headers['connection']);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || nominated?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * Response headers from the upstream's raw list (undici hands the names and values over as bytes)
 * as a flat [name, value, …] list for `res.writeHead`: hop-by-hop ones and those the upstream's
 * `Connection` nominates dropped, names kept as the upstream spelled them, repeated fields
 * (Set-Cookie) kept as separate lines.
 */
export function responseHeaderList(rawHeaders: readonly Buffer[]): string[] {
  const out: string[] = [];
  let nominated: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') {
        const tokens = connectionTokens(rawHeaders[i + 1]!.toString('latin1'));
        if (tokens !== undefined)
          nominated = nominated === undefined ? tokens : new Set([...nominated, ...tokens]);
      }
      continue;
    }
    out.push(name, rawHeaders[i + 1]!.toString('latin1'));
  }
  if (nominated === undefined || nominated.size === 0) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!nominated.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  }
  return kept;
}

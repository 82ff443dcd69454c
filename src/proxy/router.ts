import type { RouteConfig } from '../config/schema.js';
import { BadRequest } from '../errors.js';

/**
 * Routing judges the same normalised path the upstream receives, so `/public/../admin` cannot be
 * routed as `/public` and served as `/admin` (the Envoy/APISIX class of bypass). The table is built
 * once per config; a lookup is a few Map gets, one per path segment, never a scan of all routes.
 */

/** What a route table needs from a route's config: ingress routes and egress routes share it. */
export interface RouteShape {
  readonly name: string;
  readonly match: {
    readonly host?: string | undefined;
    readonly pathPrefix: string;
    readonly methods?: readonly string[] | undefined;
  };
  readonly upstream?: string | undefined;
  readonly stripPrefix: boolean;
}

export interface CompiledRoute<C extends RouteShape = RouteConfig> {
  readonly config: C;
  readonly name: string;
  /** Normalised prefix without trailing slash; '' for the root prefix. */
  readonly prefix: string;
  /** Number of segments in `prefix` (what stripPrefix removes). */
  readonly prefixSegments: number;
  readonly methods: ReadonlySet<string> | undefined;
  /** undefined for a route that only the authorize listener judges (no `upstream`). */
  readonly upstreamOrigin: string | undefined;
  /** Path part of the upstream URL without trailing slash ('' if none), prepended when forwarding. */
  readonly upstreamBasePath: string;
}

interface PrefixTable<C extends RouteShape> {
  /** prefix → routes with that prefix, in config order (methods decide among them). */
  readonly byPrefix: Map<string, CompiledRoute<C>[]>;
}

export interface RouteTable<C extends RouteShape = RouteConfig> {
  readonly exact: ReadonlyMap<string, PrefixTable<C>>;
  /** `*.example.com` stored as `.example.com`, longest suffix first. */
  readonly wildcard: readonly (readonly [string, PrefixTable<C>])[];
  readonly anyHost: PrefixTable<C>;
}

export interface NormalisedTarget {
  /** Normalised path used for routing and forwarding. */
  readonly path: string;
  /** Raw query including the leading `?`, or ''. Forwarded byte-exact. */
  readonly query: string;
  /**
   * The path routes are matched on: `path` with every `;params` suffix removed from its segments,
   * because upstreams such as Tomcat/Spring ignore them; matching on `path` would let
   * `/admin;x/secret` miss a protected `/admin` route and fall through to a public one.
   */
  readonly routePath: string;
}

const HEX = /^[0-9A-Fa-f]{2}$/;
/** RFC 9112 §3.2: a request-target is visible ASCII. Raw UTF-8 bytes reach us as latin1 text and
 * would be signed differently by the client and judged differently by the upstream. */
const NOT_VISIBLE_ASCII = /[^\x21-\x7e]/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** Escapes, empty or dot segments, path parameters: anything normaliseTarget's loop would change. */
const NEEDS_NORMALISING = /%|\/\/|\/\.|;/;

/**
 * Normalise a raw origin-form request-target: decode only unreserved percent-escapes (RFC 3986
 * §6.2.2.2), resolve `.`/`..` (§5.2.4), collapse empty segments. Encoded `/`, `\` and NUL are
 * rejected: upstreams disagree on whether they separate segments. Dot segments hidden behind
 * `;params` (`..;/`, Tomcat's reading) are rejected for the same reason.
 */
export function normaliseTarget(rawTarget: string): NormalisedTarget {
  if (rawTarget.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (`GET http://other/…`), authority-form and `*` are never routed.
    throw new BadRequest('Request-target must be an absolute path');
  }
  if (NOT_VISIBLE_ASCII.test(rawTarget)) throw new BadRequest('Request-target must be visible ASCII');
  const queryAt = rawTarget.indexOf('?');
  const rawPath = queryAt === -1 ? rawTarget : rawTarget.slice(0, queryAt);
  const query = queryAt === -1 ? '' : rawTarget.slice(queryAt);
  if (rawPath.includes('#') || rawPath.includes('\\')) throw new BadRequest('Invalid character in path');
  // Hot path: nothing to decode, resolve, collapse or strip, so the path is already normal.
  if (!NEEDS_NORMALISING.test(rawPath)) return { path: rawPath, query, routePath: rawPath };

  const segments: string[] = [];
  // Segments without their `;params`, for routing only (see `routePath`).
  let routeSegments: string[] | undefined;
  let start = 1;
  const length = rawPath.length;
  while (start <= length) {
    let end = rawPath.indexOf('/', start);
    if (end === -1) end = length;
    const segment = decodeUnreserved(rawPath.slice(start, end));
    const isLast = end === length;
    if (segment === '' || segment === '.') {
      if (isLast) {
        segments.push('');
        routeSegments?.push('');
      }
    } else if (segment === '..') {
      segments.pop();
      routeSegments?.pop();
      if (isLast) {
        segments.push('');
        routeSegments?.push('');
      }
    } else {
      const semicolon = segment.indexOf(';');
      if (semicolon !== -1) {
        const bare = segment.slice(0, semicolon);
        if (bare === '.' || bare === '..') throw new BadRequest('Dot segment with parameters');
        routeSegments ??= segments.slice();
        // Servlet containers drop `;params` before mapping (`/admin;x/secret` is `/admin/secret`).
        if (bare !== '' || isLast) routeSegments.push(bare);
      } else {
        routeSegments?.push(segment);
      }
      segments.push(segment);
    }
    start = end + 1;
  }
  const path = `/${segments.join('/')}`;
  return { path, query, routePath: routeSegments === undefined ? path : `/${routeSegments.join('/')}` };
}

function decodeUnreserved(segment: string): string {
  if (!segment.includes('%')) return segment;
  let out = '';
  let last = 0;
  for (let i = segment.indexOf('%'); i !== -1; i = segment.indexOf('%', i + 1)) {
    const hex = segment.slice(i + 1, i + 3);
    if (!HEX.test(hex)) throw new BadRequest('Malformed percent-encoding in path');
    const code = Number.parseInt(hex, 16);
    if (code === 0x2f || code === 0x5c || code === 0x00) {
      throw new BadRequest('Encoded slash, backslash or NUL in path');
    }
    const char = String.fromCharCode(code);
    // Unreserved characters are decoded; everything else keeps its escape, with upper-case hex.
    out += segment.slice(last, i) + (UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`);
    last = i + 3;
  }
  return out + segment.slice(last);
}

/** Host header → lower-case name without port or trailing dot. */
export function normaliseHost(host: string | undefined): string {
  if (host === undefined) return '';
  let name = host.toLowerCase();
  if (name.startsWith('[')) {
    const close = name.indexOf(']');
    name = close === -1 ? name : name.slice(0, close + 1);
  } else {
    const colon = name.indexOf(':');
    if (colon !== -1) name = name.slice(0, colon);
  }
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function trimSlash(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith('/')
    ? prefix.replace(/\/+$/, '')
    : prefix === '/'
      ? ''
      : prefix;
}

function compileRoute<C extends RouteShape>(config: C): CompiledRoute<C> {
  const upstream = config.upstream === undefined ? undefined : new URL(config.upstream);
  const normalisedPrefix = normaliseTarget(config.match.pathPrefix).path;
  return {
    config,
    name: config.name,
    prefix: trimSlash(normalisedPrefix),
    prefixSegments: trimSlash(normalisedPrefix).split('/').length - 1,
    methods: config.match.methods ? new Set(config.match.methods) : undefined,
    upstreamOrigin: upstream?.origin,
    upstreamBasePath: upstream === undefined ? '' : trimSlash(upstream.pathname),
  };
}

function addToTable<C extends RouteShape>(table: PrefixTable<C>, route: CompiledRoute<C>): void {
  const list = table.byPrefix.get(route.prefix);
  if (list) list.push(route);
  else table.byPrefix.set(route.prefix, [route]);
}

export function buildRouteTable<C extends RouteShape = RouteConfig>(routes: readonly C[]): RouteTable<C> {
  const exact = new Map<string, PrefixTable<C>>();
  const wildcard = new Map<string, PrefixTable<C>>();
  const anyHost: PrefixTable<C> = { byPrefix: new Map() };
  for (const config of routes) {
    const route = compileRoute(config);
    const host = config.match.host?.toLowerCase();
    if (host === undefined) {
      addToTable(anyHost, route);
      continue;
    }
    const bucket = host.startsWith('*.') ? wildcard : exact;
    const key = normaliseHost(host.startsWith('*.') ? host.slice(1) : host);
    const name = host.startsWith('*.') ? `.${key.replace(/^\./, '')}` : key;
    let table = bucket.get(name);
    if (!table) {
      table = { byPrefix: new Map() };
      bucket.set(name, table);
    }
    addToTable(table, route);
  }
  const wildcardSorted = [...wildcard.entries()].sort((a, b) => b[0].length - a[0].length);
  return { exact, wildcard: wildcardSorted, anyHost };
}

function matchPrefix<C extends RouteShape>(
  table: PrefixTable<C>,
  path: string,
  method: string,
): CompiledRoute<C> | undefined {
  // Try `/a/b/c`, `/a/b`, `/a`, '' — segment boundaries only, longest first.
  let candidate = path.endsWith('/') ? path.slice(0, -1) : path;
  for (;;) {
    const routes = table.byPrefix.get(candidate);
    if (routes) {
      for (const route of routes) {
        if (route.methods === undefined || route.methods.has(method)) return route;
      }
    }
    if (candidate === '') return undefined;
    candidate = candidate.slice(0, candidate.lastIndexOf('/'));
  }
}

/** Most specific host first (exact, then longest `*.suffix`, then host-less), then longest prefix. */
export function matchRoute<C extends RouteShape>(
  table: RouteTable<C>,
  host: string,
  path: string,
  method: string,
): CompiledRoute<C> | undefined {
  const exact = table.exact.get(host);
  if (exact) {
    const route = matchPrefix(exact, path, method);
    if (route) return route;
  }
  for (const [suffix, wildcardTable] of table.wildcard) {
    if (host.length > suffix.length && host.endsWith(suffix)) {
      const route = matchPrefix(wildcardTable, path, method);
      if (route) return route;
    }
  }
  return matchPrefix(table.anyHost, path, method);
}

/** The path the upstream receives: base path of the upstream URL + (possibly stripped) path. */
export function upstreamPath(route: CompiledRoute<RouteShape>, path: string): string {
  let rest = path;
  if (route.config.stripPrefix && route.prefix !== '') {
    // Drop as many segments as the prefix has: the matched segments may carry `;params`.
    let at = 0;
    for (let i = 0; i < route.prefixSegments && at !== -1; i++) at = path.indexOf('/', at + 1);
    rest = at === -1 ? '/' : path.slice(at);
  }
  return route.upstreamBasePath === '' ? rest : route.upstreamBasePath + rest;
}

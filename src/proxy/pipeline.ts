import { BadRequest, NotFound } from '../errors.js';
import type { Identity } from '../verify/identity.js';
import type { RequestFacts } from '../verify/request-facts.js';
import type { ProxyContext } from './context.js';
import { type CompiledRoute, matchRoute, normaliseHost, normaliseTarget } from './router.js';

/**
 * The steps every listener shares: the proxy judges the request it received, the authorize
 * listener the original request a front proxy describes. Both route and authenticate it here, so
 * the same normalisation, bypass defences, auth rules, nonce stores and caches apply to each.
 */

/** An original request, as the client sent it (proxy mode) or as a front proxy reports it. */
export interface OriginalRequest {
  readonly method: string;
  /** The raw request-target (origin-form): routed after normalisation, signed byte-exact. */
  readonly target: string;
  /** The Host header the route is matched on. */
  readonly routingHost: string | undefined;
  /** Scheme and authority the client used, for the OAuth1 base string URL and TLS checks. */
  readonly proto: 'http' | 'https';
  readonly host: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  /** The DPoP header (RFC 9449), if any. */
  readonly dpop: string | undefined;
  readonly clientIp: string;
}

export interface Resolved {
  readonly route: CompiledRoute;
  readonly facts: RequestFacts;
  /** Normalised path (what was routed, and what the upstream sees before stripPrefix). */
  readonly path: string;
  readonly query: string;
  readonly proto: string;
  readonly host: string;
  readonly requestId: string;
  readonly clientIp: string;
}

export function resolveRequest(
  context: ProxyContext,
  original: OriginalRequest,
  requestId: string,
): Resolved {
  const hostHeader = original.routingHost;
  if (hostHeader === undefined || hostHeader === '') throw new BadRequest('Missing Host header');
  const { path, query, routePath } = normaliseTarget(original.target);
  const route = matchRoute(context.routes, normaliseHost(hostHeader), routePath, original.method);
  if (route === undefined) throw new NotFound();
  return {
    route,
    path,
    query,
    proto: original.proto,
    host: original.host,
    requestId,
    clientIp: original.clientIp,
    facts: {
      method: original.method,
      scheme: original.proto,
      host: original.host,
      target: original.target,
      authorization: original.authorization,
      contentType: original.contentType,
      dpop: original.dpop,
      body: undefined,
    },
  };
}

export interface Authenticated {
  readonly identity: Identity | undefined;
  /** The body, when verification had to read it (the proxy then replays it upstream). */
  readonly body: Buffer | undefined;
}

/**
 * Judge a resolved request by its route's `auth` and scopes. `readBody` is how this listener gets
 * the body when a scheme needs it (OAuth1 form parameters, body hash); undefined when it has none.
 */
export async function authenticateRequest(
  context: ProxyContext,
  resolved: Resolved,
  readBody: (() => Promise<Buffer>) | undefined,
): Promise<Authenticated> {
  const { route } = resolved;
  if (route.config.auth === 'none') return { identity: undefined, body: undefined };
  let facts = resolved.facts;
  let body: Buffer | undefined;
  const detection = context.authenticator.detect(route, facts);
  if (readBody !== undefined && detection.bodyNeeded) {
    body = await readBody();
    facts = { ...facts, body };
  }
  return { identity: await context.authenticator.authenticate(route, facts, detection), body };
}

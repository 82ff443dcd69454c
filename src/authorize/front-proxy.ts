import type { IncomingHttpHeaders } from 'node:http';
import { BadRequest } from '../errors.js';
import type { OriginalRequest } from '../proxy/pipeline.js';

/**
 * How each front proxy describes the request it is asking about (docs/forward-auth.md):
 * - Envoy ext_authz (HTTP service): the check itself carries the original method, the original
 *   path after `authorize.pathPrefix`, the allowed original headers and, with `with_request_body`,
 *   the body;
 * - nginx auth_request: `X-Original-Method` and `X-Original-URI` set by the documented config, the
 *   original `Host` (`proxy_set_header Host $http_host`), and no body;
 * - Traefik forwardAuth and Caddy forward_auth: `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`.
 * The caller has already checked that the peer may describe requests at all.
 */

export type FrontProxy = 'envoy' | 'nginx' | 'forwarded';

export interface CheckRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Flat [name, value, …] list, to refuse descriptions given twice. */
  readonly rawHeaders: readonly string[];
  readonly peer: string;
}

export interface DescribedRequest {
  readonly front: FrontProxy;
  readonly original: OriginalRequest;
  /** Only Envoy forwards the original body (with_request_body); the others never send one. */
  readonly bodyFollows: boolean;
}

const DESCRIBING = [
  'x-original-uri',
  'x-original-method',
  'x-forwarded-uri',
  'x-forwarded-method',
  'x-forwarded-host',
  'x-forwarded-proto',
  'host',
  'authorization',
];
const ORIGIN_FORM = /^\/[^\s#]*$/;
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function scheme(value: string | undefined): 'http' | 'https' {
  return value?.trim().toLowerCase() === 'https' ? 'https' : 'http';
}

export function describeOriginal(check: CheckRequest, envoyPathPrefix: string): DescribedRequest {
  // Node joins repeated unknown headers with ", ": a described value given twice is ambiguous.
  const seen = new Set<string>();
  for (let i = 0; i < check.rawHeaders.length; i += 2) {
    const name = check.rawHeaders[i]!.toLowerCase();
    if (!DESCRIBING.includes(name)) continue;
    if (seen.has(name)) throw new BadRequest(`More than one ${check.rawHeaders[i]} header`);
    seen.add(name);
  }
  const { headers } = check;
  // Each front sets one convention's headers and passes the client's other headers through: nginx
  // forwards a client's X-Forwarded-Uri, Caddy and Traefik a client's X-Original-URI. Both present
  // means one of them is the client's, and believing it would let the client name the request.
  if (headers['x-original-uri'] !== undefined && headers['x-forwarded-uri'] !== undefined) {
    throw new BadRequest(
      'Both X-Original-URI (nginx) and X-Forwarded-Uri (Traefik, Caddy) describe this request: one of them was sent by the client',
    );
  }
  const common = {
    authorization: headers.authorization,
    contentType: headers['content-type'],
    dpop: headers['dpop'] as string | undefined,
    clientIp: check.peer,
  };

  let front: FrontProxy;
  let method: string | undefined;
  let target: string | undefined;
  let host: string | undefined;
  if (check.url.startsWith(`${envoyPathPrefix}/`)) {
    front = 'envoy';
    method = check.method;
    target = check.url.slice(envoyPathPrefix.length);
    host = headers.host;
  } else if (headers['x-original-uri'] !== undefined) {
    front = 'nginx';
    method = single(headers, 'x-original-method');
    target = single(headers, 'x-original-uri');
    host = headers.host;
  } else if (headers['x-forwarded-uri'] !== undefined) {
    front = 'forwarded';
    method = single(headers, 'x-forwarded-method');
    target = single(headers, 'x-forwarded-uri');
    host = single(headers, 'x-forwarded-host');
  } else {
    throw new BadRequest(
      `Not an authorization check: expected X-Forwarded-Uri (Traefik, Caddy), X-Original-URI (nginx) or a path under ${envoyPathPrefix} (Envoy)`,
    );
  }
  if (method === undefined || !METHOD.test(method))
    throw new BadRequest('Missing or invalid original method');
  if (target === undefined || !ORIGIN_FORM.test(target))
    throw new BadRequest('Missing or invalid original URI');
  if (host === undefined || host === '') throw new BadRequest('Missing original host');
  return {
    front,
    bodyFollows: front === 'envoy',
    original: {
      ...common,
      method,
      target,
      routingHost: host,
      proto: scheme(single(headers, 'x-forwarded-proto')),
      host,
    },
  };
}

import { percentEncode } from './encoding.js';
import type { Param } from './params.js';

/**
 * RFC 5849 §3.4.1: the signature base string. Built from the raw request-target — never through
 * a WHATWG URL round trip, which would re-escape or unescape the path (`%7E`, `%2F`, `'`) and so
 * change what the client signed.
 */

export interface BaseStringInput {
  /** As sent; upper-cased here (§3.4.1.1). */
  readonly method: string;
  readonly scheme: string;
  /** The Host header (host[:port]) the client addressed. */
  readonly host: string;
  /** Raw origin-form request-target: `/path?query`. Only the path is used; the query is in params. */
  readonly target: string;
  /** Every request parameter (§3.4.1.3.1), decoded, oauth_signature and realm already left out. */
  readonly params: readonly Param[];
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' };

/**
 * §3.4.1.2 base string URI: scheme and host lower-cased, the port dropped only when it is the
 * scheme's default (http:80, https:443 — `https://h:80` keeps it), path exactly as sent.
 */
export function buildBaseStringUri(scheme: string, host: string, target: string): string {
  const lowerScheme = scheme.toLowerCase();
  let hostname = host.toLowerCase();
  let port = '';
  // An IPv6 literal is bracketed and contains colons; the port is only after the `]`.
  const portColon = hostname.lastIndexOf(':');
  if (portColon !== -1 && portColon > hostname.lastIndexOf(']')) {
    port = hostname.slice(portColon + 1);
    hostname = hostname.slice(0, portColon);
  }
  const authority = port === '' || DEFAULT_PORTS[lowerScheme] === port ? hostname : `${hostname}:${port}`;

  const query = target.indexOf('?');
  let path = query === -1 ? target : target.slice(0, query);
  if (path === '') path = '/';
  return `${lowerScheme}://${authority}${path}`;
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * §3.4.1.3.2: encode every name and value, sort by encoded name then encoded value in byte order
 * (the encoded strings are ASCII, so code-unit order is byte order), join as `n=v` with `&`.
 */
export function normaliseParameters(params: readonly Param[]): string {
  const encoded = params.map(([name, value]) => [percentEncode(name), percentEncode(value)] as const);
  encoded.sort((a, b) => compareAscii(a[0], b[0]) || compareAscii(a[1], b[1]));
  let out = '';
  for (let i = 0; i < encoded.length; i++) {
    const pair = encoded[i]!;
    out += `${i === 0 ? '' : '&'}${pair[0]}=${pair[1]}`;
  }
  return out;
}

/** §3.4.1.1: `METHOD&enc(base string URI)&enc(normalised parameters)`. */
export function buildBaseString(input: BaseStringInput): string {
  const uri = buildBaseStringUri(input.scheme, input.host, input.target);
  return `${input.method.toUpperCase()}&${percentEncode(uri)}&${percentEncode(normaliseParameters(input.params))}`;
}

import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatewayError, InternalError, UseDpopNonce } from '../errors.js';

/**
 * The only place where errors become HTTP: status, JSON body, `WWW-Authenticate`.
 * Statuses and challenges follow RFC 5849 §3.2 (400 for bad/unsupported parameters, 401 for
 * bad credentials/signature/nonce/timestamp) and RFC 6750 §3.1.
 */

export interface Realms {
  readonly oauth1: string;
  readonly oauth2: string;
  /** RFC 9449 §7.1 `algs` of the DPoP challenge (space-separated); undefined when DPoP is off. */
  readonly dpopAlgorithms?: string | undefined;
}

const NOT_VISIBLE = /[^\x20-\x7e]/g;
const QUOTED_SPECIALS = /["\\]/g;

function quoted(value: string): string {
  // RFC 9110 §5.6.4 quoted-string: escape `\` and `"`; drop anything that is not a visible char.
  return `"${value.replace(NOT_VISIBLE, '').replace(QUOTED_SPECIALS, '\\$&')}"`;
}

function challenges(error: GatewayError, realms: Realms): string[] {
  const out: string[] = [];
  for (const scheme of error.challenges) {
    if (scheme === 'oauth1') {
      let value = `OAuth realm=${quoted(realms.oauth1)}`;
      if (error.exposeCode && error.oauthProblem !== undefined)
        value += `, oauth_problem=${quoted(error.oauthProblem)}`;
      out.push(value);
    } else if (scheme === 'dpop') {
      // RFC 9449 §7.1: DPoP realm="…", algs="…"[, error="…", error_description="…"].
      let value = `DPoP realm=${quoted(realms.oauth2)}, algs=${quoted(realms.dpopAlgorithms ?? 'ES256')}`;
      if (error.exposeCode)
        value += `, error=${quoted(error.code)}, error_description=${quoted(error.description)}`;
      out.push(value);
    } else {
      let value = `Bearer realm=${quoted(realms.oauth2)}`;
      // RFC 6750 §3.1: no error code when the request carried no credentials.
      if (error.exposeCode) {
        value += `, error=${quoted(error.code)}, error_description=${quoted(error.description)}`;
        if (error.scope !== undefined) value += `, scope=${quoted(error.scope)}`;
      }
      out.push(value);
    }
  }
  return out;
}

export function toGatewayError(error: unknown): GatewayError {
  return error instanceof GatewayError ? error : new InternalError(error);
}

function body(error: GatewayError): string {
  return JSON.stringify(
    error.exposeCode
      ? { error: error.code, error_description: error.description }
      : { error_description: error.description },
  );
}

function headersFor(error: GatewayError, realms: Realms, payload: string): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(payload)),
    'cache-control': 'no-store',
  };
  const challenge = challenges(error, realms);
  if (challenge.length > 0) headers['www-authenticate'] = challenge;
  if (error.status === 503) headers['retry-after'] = '1';
  // RFC 9449 §8.1: the nonce the client must put in its next proof.
  if (error instanceof UseDpopNonce && error.nonce !== undefined) headers['dpop-nonce'] = error.nonce;
  return headers;
}

/** Answer a client with the error; if the response already started, just cut it. */
export function sendError(
  res: ServerResponse,
  error: GatewayError,
  realms: Realms,
  requestId?: string,
  /**
   * Repeat the error code in `X-OAuth-Error` (authorize listener): nginx auth_request drops a
   * denial's body, and its config rebuilds `{"error": …}` from this (examples/forward-auth/nginx.conf).
   */
  codeHeader = false,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const payload = body(error);
  const headers = headersFor(error, realms, payload);
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  if (codeHeader && error.exposeCode) headers['x-oauth-error'] = error.code;
  // A client that sent a body we did not read cannot reuse the connection safely after a 4xx.
  if (error.status === 400 || error.status === 413 || error.status === 431) headers['connection'] = 'close';
  res.writeHead(error.status, headers);
  res.end(payload);
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * Same mapping for a raw socket (WebSocket upgrade requests, parser errors), then close. The server
 * allows half-open sockets, so `end()` alone would wait for a client (a slowloris one never does)
 * to close its side: destroy once the answer is flushed.
 */
export function sendErrorOnSocket(
  socket: Duplex,
  error: GatewayError,
  realms: Realms,
  requestId?: string,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const payload = body(error);
  const headers = headersFor(error, realms, payload);
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  let head = `HTTP/1.1 ${error.status} ${REASONS[error.status] ?? 'Error'}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : [value]) head += `${name}: ${item}\r\n`;
  }
  socket.end(`${head}\r\n${payload}`, () => socket.destroy());
}

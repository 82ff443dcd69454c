import { connect } from 'node:net';

/**
 * Send exact bytes to a server and read back the first response: for request shapes Node's own
 * client refuses to produce (`..` in the target, CL+TE, obs-fold, bare LF, absolute-form, …).
 *
 *   const res = await rawRequest(gw.port, 'GET /public/../admin HTTP/1.1\r\nHost: x\r\n\r\n');
 *   expect(res.status).toBe(200);
 */

export interface RawResponse {
  /** Status code of the first response; 0 if none arrived (see `timedOut`/`closed`). */
  readonly status: number;
  /** Header names lower-cased; repeated headers joined with ', ' (set-cookie/www-authenticate kept as lists in `headerList`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Every header line of the first response, in order: [lower-case name, value]. */
  readonly headerList: readonly (readonly [string, string])[];
  /** Body of the first response (chunked framing decoded). */
  readonly body: string;
  /** Everything the server sent, as received. */
  readonly raw: string;
  /** The server closed the connection (before `timeoutMs`, or within `closeGraceMs` of the response). */
  readonly closed: boolean;
  /** No complete response arrived within `timeoutMs`. */
  readonly timedOut: boolean;
}

export interface RawRequestOptions {
  /** Give up waiting for a response after this long (default 5000 ms). */
  readonly timeoutMs?: number;
  /** After a complete response, wait this long to see whether the server closes (default 100 ms). */
  readonly closeGraceMs?: number;
  readonly host?: string;
}

interface Parsed {
  status: number;
  headerList: [string, string][];
  body: string;
  complete: boolean;
}

function decodeChunked(text: string): { body: string; complete: boolean } {
  let body = '';
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd === -1) return { body, complete: false };
    const size = Number.parseInt(text.slice(at, lineEnd).split(';')[0]!, 16);
    if (Number.isNaN(size)) return { body, complete: false };
    if (size === 0)
      return { body, complete: text.indexOf('\r\n\r\n', lineEnd) !== -1 || text.endsWith('\r\n') };
    const start = lineEnd + 2;
    if (text.length < start + size + 2) return { body: body + text.slice(start), complete: false };
    body += text.slice(start, start + size);
    at = start + size + 2;
  }
}

/** Parse the first response in `raw` (latin1 text, so byte counts match characters). */
function parseResponse(raw: string, closed: boolean, head = false): Parsed | undefined {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const lines = raw.slice(0, headEnd).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headerList: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headerList.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  const rest = raw.slice(headEnd + 4);
  const get = (name: string) => headerList.find(([n]) => n === name)?.[1];
  // Interim 1xx responses (100 Continue) are skipped: the final response is the one that counts.
  if (status >= 100 && status < 200) {
    return parseResponse(rest, closed, head) ?? { status, headerList, body: '', complete: false };
  }
  // A response to HEAD has a Content-Length but no body (RFC 9110 §9.3.2).
  if (head || status === 204 || status === 304) {
    return { status, headerList, body: '', complete: true };
  }
  if (get('transfer-encoding')?.toLowerCase().includes('chunked')) {
    const decoded = decodeChunked(rest);
    return { status, headerList, body: decoded.body, complete: decoded.complete };
  }
  const length = get('content-length');
  if (length !== undefined) {
    const n = Number(length);
    return { status, headerList, body: rest.slice(0, n), complete: rest.length >= n };
  }
  // Delimited by close.
  return { status, headerList, body: rest, complete: closed };
}

export function rawRequest(
  port: number,
  text: string | Buffer,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const closeGraceMs = options.closeGraceMs ?? 100;
  const head =
    (typeof text === 'string' ? text.slice(0, 5) : text.subarray(0, 5).toString('latin1')) === 'HEAD ';
  return new Promise((resolve) => {
    const socket = connect({ port, host: options.host ?? '127.0.0.1' });
    let raw = '';
    let closed = false;
    let done = false;
    let graceTimer: NodeJS.Timeout | undefined;

    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(overall);
      clearTimeout(graceTimer);
      socket.destroy();
      const parsed = parseResponse(raw, closed, head);
      const headerList = parsed?.headerList ?? [];
      const headers: Record<string, string> = {};
      for (const [name, value] of headerList)
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      resolve({
        status: parsed?.status ?? 0,
        headers,
        headerList,
        body: parsed?.body ?? '',
        raw,
        closed,
        timedOut,
      });
    };

    const overall = setTimeout(() => finish(!parseResponse(raw, closed, head)?.complete), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      raw += chunk;
      const parsed = parseResponse(raw, false, head);
      if (parsed?.complete && parsed.status >= 200 && graceTimer === undefined) {
        graceTimer = setTimeout(() => finish(false), closeGraceMs);
      }
    });
    socket.on('error', () => {
      closed = true;
      finish(false);
    });
    socket.on('close', () => {
      closed = true;
      finish(false);
    });
    socket.write(text);
  });
}

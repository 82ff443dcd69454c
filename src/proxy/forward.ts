import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { type Dispatcher, Pool } from 'undici';
import { BadGateway, GatewayError, GatewayTimeout } from '../errors.js';
import { filterResponseHeaders } from './headers.js';

/**
 * Streams a request to its upstream and the response back, through one keep-alive undici Pool per
 * upstream origin (undici measured ≈2× node:http-based http-proxy; see BENCHMARKS.md). Bodies are
 * never buffered here: the request body is the IncomingMessage itself unless the OAuth1 verifier
 * already had to read it.
 */

export interface UpstreamTimeouts {
  readonly upstreamTimeoutMs: number;
}

/** CAs to trust for an https upstream instead of the system ones; `id` names the bundle in the key. */
export interface UpstreamTrust {
  readonly ca: string;
  readonly id: string;
}

/** Pools outlive config reloads: a reload that keeps an upstream keeps its warm connections. */
export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();

  get(origin: string, timeouts: UpstreamTimeouts, trust?: UpstreamTrust): Pool {
    const key =
      trust === undefined
        ? `${origin}|${timeouts.upstreamTimeoutMs}`
        : `${origin}|${timeouts.upstreamTimeoutMs}|${trust.id}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = new Pool(origin, {
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 60_000,
        headersTimeout: timeouts.upstreamTimeoutMs,
        bodyTimeout: timeouts.upstreamTimeoutMs,
        connectTimeout: Math.min(timeouts.upstreamTimeoutMs, 10_000),
        pipelining: 1,
        // Certificates are always verified (undici's default); a custom CA only changes whom to trust.
        ...(trust === undefined ? {} : { connect: { ca: trust.ca } }),
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((pool) => pool.close()));
  }
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/** OpenSSL / Node verification failures: the upstream is not who the certificate says, or not trusted. */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function upstreamError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const code = (error as { code?: string } | undefined)?.code;
  if (code === undefined) return new BadGateway(error);
  if (TIMEOUT_CODES.has(code)) return new GatewayTimeout(error);
  return CERTIFICATE_CODES.has(code)
    ? new BadGateway(error, 'Upstream TLS certificate could not be verified; nothing was sent')
    : new BadGateway(error);
}

/** Whether the client framed a request body (any method may; most send none). */
export function hasBody(req: IncomingMessage): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
  );
}

export interface ForwardInput {
  readonly pool: Pool;
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  /** Already-read body (OAuth1 form bodies), else the request streams through. */
  readonly body: Buffer | undefined;
  /** The listener's drain state: once draining, responses tell the client not to reuse the connection. */
  readonly drain: { readonly draining: boolean };
  /**
   * An upstream answer with this status is not passed on: its body is discarded and the promise
   * resolves `'discarded'` (egress retries a 401 once with a fresh token).
   */
  readonly discardStatus?: number | undefined;
}

/**
 * Per-request forwarding state rides on the ServerResponse, which undici gets as `opaque`. Passing
 * a fresh object as `opaque` instead kept it (and the response it pointed to) alive across young
 * GCs: scavenges went from ~2 ms to ~8 ms and GC from ~10 to ~30 µs per pass-through request
 * (measured with --trace-gc under wrk; bisected to the commit that introduced the object).
 */
const DRAIN = Symbol('drain');
const DISCARD_STATUS = Symbol('discardStatus');
const DISCARDED = Symbol('discarded');
type StreamTarget = ServerResponse & {
  [DRAIN]?: { readonly draining: boolean };
  [DISCARD_STATUS]?: number | undefined;
  [DISCARDED]?: boolean;
};

/** Where a discarded answer's body goes. */
function discardSink(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/**
 * undici accepts an EventEmitter with an `aborted` flag as `signal`. An AbortController per request
 * cost ~4 µs (AbortSignal creation and EventTarget listener bookkeeping) on the pass-through path.
 */
class UpstreamAbort extends EventEmitter {
  aborted = false;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

/** undici calls this once the upstream's status and headers are in; the body then goes to `res`. */
function writeResponseHead({
  statusCode,
  headers,
  opaque,
}: Dispatcher.StreamFactoryData<StreamTarget>): Writable {
  const res = opaque;
  if (statusCode === res[DISCARD_STATUS]) {
    res[DISCARDED] = true;
    return discardSink();
  }
  // A drain began while this request was upstream: its answer closes the connection. (One shared
  // flag: tracking in-flight responses in a Set measured ~8 µs per request.)
  if (res[DRAIN]?.draining === true) res.shouldKeepAlive = false;
  res.writeHead(statusCode, filterResponseHeaders(headers as Record<string, string | string[] | undefined>));
  return res;
}

/**
 * Forward and stream back with undici's `stream()`: the upstream body is written straight into the
 * ServerResponse with backpressure (no intermediate Readable; measured ~25% less forwarding CPU
 * than `request()` + pipe, BENCHMARKS.md). Resolves when the exchange is over (completed or cut);
 * rejects with a GatewayError only while nothing has been sent to the client yet.
 */
export function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  input: ForwardInput,
): Promise<'sent' | 'discarded'> {
  // Client gone before the upstream answered: cancel the upstream request. (Once the body is
  // streaming, undici sees `res` close early and aborts by itself.)
  const abort = new UpstreamAbort();
  const onClose = () => abort.abort();
  res.once('close', onClose);
  const body = input.body ?? (hasBody(req) ? req : null);

  const target = res as StreamTarget;
  target[DRAIN] = input.drain;
  target[DISCARD_STATUS] = input.discardStatus;
  target[DISCARDED] = false;
  return new Promise<'sent' | 'discarded'>((resolve, reject) => {
    input.pool.stream<StreamTarget>(
      {
        method: input.method,
        path: input.path,
        headers: input.headers,
        body,
        signal: abort,
        opaque: target,
      },
      writeResponseHead,
      (error) => {
        res.off('close', onClose);
        if (error === null) {
          resolve(target[DISCARDED] === true ? 'discarded' : 'sent');
        } else if (res.headersSent || abort.aborted) {
          // Upstream died mid-response (or the client left): the status is out, so cut the connection.
          if (!res.destroyed) res.destroy();
          resolve('sent');
        } else {
          reject(upstreamError(error));
        }
      },
    );
  });
}

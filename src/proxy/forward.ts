import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

/** Pools outlive config reloads: a reload that keeps an upstream keeps its warm connections. */
export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();

  get(origin: string, timeouts: UpstreamTimeouts): Pool {
    const key = `${origin}|${timeouts.upstreamTimeoutMs}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = new Pool(origin, {
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 60_000,
        headersTimeout: timeouts.upstreamTimeoutMs,
        bodyTimeout: timeouts.upstreamTimeoutMs,
        connectTimeout: Math.min(timeouts.upstreamTimeoutMs, 10_000),
        pipelining: 1,
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

function upstreamError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const code = (error as { code?: string } | undefined)?.code;
  return code !== undefined && TIMEOUT_CODES.has(code) ? new GatewayTimeout(error) : new BadGateway(error);
}

/** Methods whose requests carry no body unless the client framed one. */
function hasBody(req: IncomingMessage): boolean {
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
}

interface StreamTarget {
  readonly res: ServerResponse;
  readonly drain: { readonly draining: boolean };
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
}: Dispatcher.StreamFactoryData<StreamTarget>): ServerResponse {
  const { res, drain } = opaque;
  // A drain began while this request was upstream: its answer closes the connection. (One shared
  // flag: tracking in-flight responses in a Set measured ~8 µs per request.)
  if (drain.draining) res.shouldKeepAlive = false;
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
): Promise<void> {
  // Client gone before the upstream answered: cancel the upstream request. (Once the body is
  // streaming, undici sees `res` close early and aborts by itself.)
  const abort = new UpstreamAbort();
  const onClose = () => abort.abort();
  res.once('close', onClose);
  const body = input.body ?? (hasBody(req) ? req : null);

  return new Promise<void>((resolve, reject) => {
    input.pool.stream<StreamTarget>(
      {
        method: input.method,
        path: input.path,
        headers: input.headers,
        body,
        signal: abort,
        opaque: { res, drain: input.drain },
      },
      writeResponseHead,
      (error) => {
        res.off('close', onClose);
        if (error === null) {
          resolve();
        } else if (res.headersSent || abort.aborted) {
          // Upstream died mid-response (or the client left): the status is out, so cut the connection.
          if (!res.destroyed) res.destroy();
          resolve();
        } else {
          reject(upstreamError(error));
        }
      },
    );
  });
}

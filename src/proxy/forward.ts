import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'undici';
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
}

/**
 * Forward and stream back. Resolves when the response has been fully handed to the client (or the
 * exchange was cut). Rejects with a GatewayError only while nothing has been sent yet.
 */
export function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  input: ForwardInput,
): Promise<void> {
  const abort = new AbortController();
  const onClose = () => {
    // Client went away before the response finished: cancel the upstream request.
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  const body = input.body ?? (hasBody(req) ? req : null);

  return new Promise<void>((resolve, reject) => {
    input.pool
      .request({
        method: input.method,
        path: input.path,
        headers: input.headers,
        body,
        signal: abort.signal,
      })
      .then(
        (upstream) => {
          const headers = filterResponseHeaders(upstream.headers);
          try {
            res.writeHead(upstream.statusCode, headers);
          } catch (error) {
            upstream.body.destroy();
            reject(new BadGateway(error));
            return;
          }
          const stream = upstream.body;
          stream.on('error', () => {
            // Upstream died mid-response: the status is already out, so cut the client connection.
            res.destroy();
            resolve();
          });
          res.once('close', () => {
            if (!stream.destroyed) stream.destroy();
            resolve();
          });
          stream.pipe(res);
        },
        (error: unknown) => {
          res.off('close', onClose);
          if (abort.signal.aborted) {
            resolve();
            return;
          }
          reject(upstreamError(error));
        },
      );
  });
}

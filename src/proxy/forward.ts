import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { BadGateway, GatewayError, GatewayTimeout } from '../errors.js';
import { Pool } from '../undici-pool.js';
import { responseHeaderList } from './headers.js';

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
 * The client connections with forwards in flight: one `close` listener per connection (not one per
 * request) aborts whatever that connection still has upstream. A pipelining client can have more
 * than one; the usual keep-alive client has one at a time.
 */
const FORWARDS = Symbol('forwardsInFlight');
type ClientSocket = Duplex & { [FORWARDS]?: Set<UpstreamExchange> | null };

function abortForwardsOf(this: ClientSocket): void {
  const forwards = this[FORWARDS];
  this[FORWARDS] = null;
  if (forwards != null) for (const forward of forwards) forward.clientGone();
}

function track(socket: ClientSocket, forward: UpstreamExchange): void {
  let forwards = socket[FORWARDS];
  if (forwards === undefined) {
    socket.once('close', abortForwardsOf);
    forwards = socket[FORWARDS] = new Set();
  } else if (forwards === null) {
    // The connection closed already: there is nobody to answer.
    forward.clientGone();
    return;
  }
  forwards.add(forward);
}

const CLIENT_GONE = new Error('client closed the connection');

/**
 * One request upstream, as an undici dispatch handler: the upstream's status and headers become the
 * response head, each body chunk is written to the ServerResponse with backpressure (a full socket
 * pauses the upstream read until `drain`). Written against the handler interface rather than
 * `Pool.stream()`: stream() wraps each request in an AsyncResource, an abort-signal listener pair,
 * five `finished()` listeners on the response, a header object and a Promise; this measured
 * ≈5 µs less CPU per pass-through request (62 → 58 µs with the access log off; BENCHMARKS.md).
 */
class UpstreamExchange implements Dispatcher.DispatchHandler {
  #abort: ((reason?: Error) => void) | undefined;
  #gone = false;
  #resume: (() => void) | undefined;
  discarded = false;

  constructor(
    readonly res: ServerResponse,
    readonly input: ForwardInput,
    readonly settle: (error: Error | null) => void,
  ) {}

  clientGone(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#abort?.(CLIENT_GONE);
  }

  get aborted(): boolean {
    return this.#gone;
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.#abort = abort;
    // Gone while this request waited for a free upstream connection: it is never sent.
    if (this.#gone) abort(CLIENT_GONE);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (other than 101, which only upgrades reach) is the upstream's business: node answers the
    // client's `Expect` itself.
    if (statusCode < 200) return true;
    const res = this.res;
    if (statusCode === this.input.discardStatus) {
      // Its body is read and dropped.
      this.discarded = true;
      return true;
    }
    // A drain began while this request was upstream: its answer closes the connection. (One shared
    // flag: tracking in-flight responses in a Set measured ~8 µs per request.)
    if (this.input.drain.draining) res.shouldKeepAlive = false;
    this.#resume = resume;
    res.writeHead(statusCode, responseHeaderList(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.discarded) return true;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.#resume!);
    return false;
  }

  onComplete(): void {
    if (!this.discarded) this.res.end();
    this.settle(null);
  }

  onError(error: Error): void {
    this.settle(error);
  }
}

/**
 * Forward and stream back (undici's dispatcher with the handler above): the upstream body is
 * written straight into the ServerResponse. Resolves when the exchange is over (completed or cut);
 * rejects with a GatewayError only while nothing has been sent to the client yet.
 */
export function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  input: ForwardInput,
): Promise<'sent' | 'discarded'> {
  const body = input.body ?? (hasBody(req) ? req : null);
  const socket = req.socket as ClientSocket;
  return new Promise<'sent' | 'discarded'>((resolve, reject) => {
    const exchange = new UpstreamExchange(res, input, (error) => {
      socket[FORWARDS]?.delete(exchange);
      if (error === null) {
        resolve(exchange.discarded ? 'discarded' : 'sent');
      } else if (res.headersSent || exchange.aborted) {
        // Upstream died mid-response (or the client left): the status is out, so cut the connection.
        if (!res.destroyed) res.destroy();
        resolve('sent');
      } else {
        reject(upstreamError(error));
      }
    });
    track(socket, exchange);
    input.pool.dispatch(
      { method: input.method as Dispatcher.HttpMethod, path: input.path, headers: input.headers, body },
      exchange,
    );
  });
}

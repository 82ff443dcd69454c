import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BadRequest, type GatewayError, HeadersTooLarge, NotFound, RequestTimeout } from '../errors.js';
import { AccessLog } from '../observability/access-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Pool } from '../undici-pool.js';
import type { Identity } from '../verify/identity.js';
import { readBody } from './body.js';
import type { ProxyContext } from './context.js';
import { forwardRequest, UpstreamPools } from './forward.js';
import { buildUpstreamHeaders, countHeader, requestIdFrom } from './headers.js';
import { InFlight } from './in-flight.js';
import { listenOn } from './listen.js';
import {
  type Authenticated,
  authenticateRequest,
  type OriginalRequest,
  type Resolved,
  resolveRequest,
} from './pipeline.js';
import { sendError, sendErrorOnSocket, toGatewayError } from './respond.js';
import { type CompiledRoute, normaliseHost, upstreamPath } from './router.js';
import { assertWebSocketHandshake, proxyUpgrade } from './websocket.js';

/**
 * The listener: one node:http server (strict parser: `insecureHTTPParser` stays off so smuggling
 * shapes like CL+TE, obs-fold and bare LF are refused by Node before we see them). Each request
 * reads the context current when it arrived, so a reload never changes a request midway.
 *
 * One pipeline for plain requests and WebSocket upgrades: resolve (route, trusted forwarding facts)
 * → authenticate → forward (undici stream, or a spliced upgrade) → finish (access log, metrics,
 * in-flight count). Only the forward step and where an error is written differ.
 */

const PORT_NUMBER = /^\d{1,5}$/;

const UNAUTHENTICATED: Authenticated = Object.freeze({ identity: undefined, body: undefined });

/**
 * A client connection as node:http keeps it: `_httpMessage` is the response currently writing to it
 * (Node's own clientError handler reads it too). Read instead of recording each response on the
 * socket ourselves: holding a response (and its request) until the connection's next request made
 * them survive young-generation GCs, and pass-through paid ~4× the GC time per request.
 */
const PARSE_FAILED = Symbol('parseFailed');
type ClientSocket = Duplex & { _httpMessage?: ServerResponse | null; [PARSE_FAILED]?: true };

/** Where one exchange answers: an HTTP response, or the raw socket of an upgrade request. */
type Reply =
  | { readonly upgrade: false; readonly res: ServerResponse }
  | { readonly upgrade: true; readonly socket: Duplex; readonly head: Buffer };

function firstValue(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  const comma = first.indexOf(',');
  return (comma === -1 ? first : first.slice(0, comma)).trim();
}

function upstreamHeaders(
  req: IncomingMessage,
  context: ProxyContext,
  resolved: Resolved,
  identity: Identity | undefined,
  assertion: string | undefined,
  upgrade: boolean,
): string[] {
  return buildUpstreamHeaders(req.rawHeaders, req.headers.connection, {
    policy: context.headerPolicy,
    identity,
    assertion,
    passAuthorization: resolved.route.config.passAuthorization,
    upgrade,
    clientIp: resolved.clientIp,
    proto: resolved.proto,
    host: resolved.host,
    requestId: resolved.requestId,
  });
}

export class GatewayServer<Context extends ProxyContext = ProxyContext> {
  readonly server: Server | TlsServer;
  readonly pools = new UpstreamPools();
  #context: Context;
  /** Also the drain flag every forward reads (Connection: close once draining). */
  readonly #inFlight = new InFlight();
  readonly #logger: Logger;
  readonly #accessLog: AccessLog;
  readonly #metrics: Metrics | undefined;

  constructor(context: Context, logger: Logger, metrics?: Metrics) {
    this.#context = context;
    this.#logger = logger;
    this.#accessLog = new AccessLog(logger);
    this.#metrics = metrics;
    const limits = context.config.limits;
    const options: ServerOptions = {
      // Slowloris: a client that never finishes its headers is cut off.
      headersTimeout: limits.headersTimeout,
      // Node enforces headersTimeout only when it sweeps connections, every 30 s by default, so a
      // 1 s limit held trickling clients for up to 31 s (faults.test.ts "slowloris"). Sweep at
      // least every second (half the limit when it is shorter).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeout / 2))),
      requestTimeout: 0,
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16 * 1024,
      insecureHTTPParser: false,
    };
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void this.#exchange(req, { upgrade: false, res });
    };
    const tls = context.tls;
    // With TLS here, the scheme the client used is https (PLAINTEXT allowed, base string https://).
    this.server =
      tls === undefined ? createServer(options, handler) : createTlsServer({ ...options, ...tls }, handler);
    // One more than allowed, so that an excess is seen (→ 431) instead of silently cut off.
    this.server.maxHeadersCount = limits.maxHeaders + 1;
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      void this.#exchange(req, { upgrade: true, socket, head });
    });
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: ClientSocket) => {
      // Parser rejections (smuggling shapes, oversized headers) and header timeouts: one answer, close.
      if (socket[PARSE_FAILED]) return;
      socket[PARSE_FAILED] = true;
      const answer =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? new HeadersTooLarge()
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? new RequestTimeout()
            : new BadRequest('Malformed HTTP request');
      let refused = false;
      const refuse = () => {
        if (refused) return;
        refused = true;
        sendErrorOnSocket(socket, answer, this.#context.realms);
      };
      // A complete request followed by garbage on the same connection (pipelined, or sent after
      // `Connection: close`) is already on its way upstream: let its answer (and those of complete
      // requests queued behind it) reach the client first, then refuse the rest. Cutting the
      // connection now would run a request whose answer the client never gets
      // (request-smuggling.test.ts, "valid request then garbage"). A request whose own body broke is
      // incomplete: cutting it aborts the upstream request too.
      const refuseWhenAnswered = () => {
        const pending = socket._httpMessage;
        if (pending != null && !pending.writableFinished && pending.req.complete) {
          if (!pending.headersSent) pending.shouldKeepAlive = false;
          // Node attaches the next queued response once this one finished: look again then.
          pending.once('finish', () => setImmediate(refuseWhenAnswered));
          pending.once('close', () => setImmediate(refuseWhenAnswered));
        } else {
          refuse();
        }
      };
      socket.pause();
      refuseWhenAnswered();
    });
  }

  /** Each compiled route's pool, found by identity (no key string built per request). */
  readonly #routePools = new WeakMap<CompiledRoute, Pool>();

  #poolFor(route: CompiledRoute, origin: string, context: ProxyContext): Pool {
    let pool = this.#routePools.get(route);
    if (pool === undefined) {
      pool = this.pools.get(origin, { upstreamTimeoutMs: context.config.limits.upstreamTimeout });
      this.#routePools.set(route, pool);
    }
    return pool;
  }

  /** The context requests are being served with now. */
  get context(): Context {
    return this.#context;
  }

  /** Swap in a new config; requests in flight finish on the one they started with. */
  swapContext(next: Context): Context {
    const previous = this.#context;
    this.#context = next;
    this.server.maxHeadersCount = next.config.limits.maxHeaders + 1;
    return previous;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listenOn(this.server, port, host);
  }

  get inFlight(): number {
    return this.#inFlight.count;
  }

  /**
   * Stop accepting, let in-flight requests finish (bounded by `timeoutMs`), then cut what is left.
   * Resolves true if everything drained in time.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const drained = await this.#inFlight.drain(this.server, timeoutMs);
    await this.pools.close();
    return drained;
  }

  /** The request as the client sent it; the scheme and authority from a trusted front if any. */
  #original(req: IncomingMessage, context: ProxyContext): OriginalRequest {
    // RFC 9112 §3.2: more than one Host is a 400. Node keeps the first for routing, while every
    // copy would be forwarded and an upstream may read the last (route-bypass.test.ts).
    if (countHeader(req.rawHeaders, 'host') > 1) throw new BadRequest('More than one Host header');
    // With maxHeadersCount = limit + 1, an excess shows up as exactly one line too many.
    if (req.rawHeaders.length > 2 * context.config.limits.maxHeaders) throw new HeadersTooLarge();
    if (countHeader(req.rawHeaders, 'authorization') > 1)
      throw new BadRequest('More than one Authorization header');
    const hostHeader = req.headers.host;
    let proto: 'http' | 'https' = (req.socket as Socket & { encrypted?: boolean }).encrypted
      ? 'https'
      : 'http';
    let host = hostHeader ?? '';
    if (context.isTrustedProxy(req.socket.remoteAddress)) {
      // Only a trusted ingress may tell us the scheme/host the client really used (OAuth1 base URL).
      const forwardedProto = firstValue(req.headers['x-forwarded-proto'])?.toLowerCase();
      if (forwardedProto === 'https' || forwardedProto === 'http') proto = forwardedProto;
      const forwardedHost = firstValue(req.headers['x-forwarded-host']);
      if (forwardedHost) host = forwardedHost;
      const forwardedPort = firstValue(req.headers['x-forwarded-port']);
      if (forwardedPort && PORT_NUMBER.test(forwardedPort)) host = `${normaliseHost(host)}:${forwardedPort}`;
    }
    return {
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      routingHost: hostHeader,
      proto,
      host,
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      dpop: req.headers.dpop as string | undefined,
      clientIp: req.socket.remoteAddress ?? '',
    };
  }

  /** resolve → authenticate → forward → finish, for a plain request or an upgrade. */
  async #exchange(req: IncomingMessage, reply: Reply): Promise<void> {
    const context = this.#context;
    const started = performance.now();
    this.#inFlight.started();
    if (!reply.upgrade && this.#inFlight.draining) reply.res.shouldKeepAlive = false;
    // Decided before routing so that 400/404 answers and their log lines carry it too.
    const requestId = requestIdFrom(firstValue(req.headers['x-request-id']));
    let resolved: Resolved | undefined;
    let identity: Identity | undefined;
    let failure: GatewayError | undefined;
    let upstreamMs: number | undefined;
    let status = 0;
    try {
      resolved = resolveRequest(context, this.#original(req, context), requestId);
      if (reply.upgrade) assertWebSocketHandshake(req);
      const { route } = resolved;
      // A route without an upstream exists only for the authorize listener.
      const origin = route.upstreamOrigin;
      if (origin === undefined) throw new NotFound();
      // An upgrade request has no body (assertWebSocketHandshake), and its socket is no longer parsed.
      // `auth: none` skips the step entirely (no promise, no body reader).
      const auth =
        route.config.auth === 'none'
          ? UNAUTHENTICATED
          : await authenticateRequest(
              context,
              resolved,
              reply.upgrade ? undefined : () => readBody(req, context.config.limits.maxBodyBytes),
            );
      identity = auth.identity;
      const path = upstreamPath(route, resolved.path) + resolved.query;
      // Authenticated forwards only (plain and upgrade alike): on `auth: none` there is nobody to assert.
      const assertion =
        identity !== undefined && context.assertions !== undefined
          ? await context.assertions.sign({
              identity,
              audience: route.config.assertionAudience ?? route.name,
              // RFC 7519 §4.1.7: jti must not repeat by accident. The request id is reused when the
              // gateway minted it (the usual case, so logs correlate); a client-chosen one is not unique.
              jti: requestId === firstValue(req.headers['x-request-id']) ? randomUUID() : requestId,
              method: req.method ?? 'GET',
              // What the upstream receives: X-Forwarded-Proto, X-Forwarded-Host, request-target.
              url: `${resolved.proto}://${resolved.host}${path}`,
              body: auth.body,
            })
          : undefined;
      const headers = upstreamHeaders(req, context, resolved, identity, assertion, reply.upgrade);
      const upstreamStarted = performance.now();
      if (reply.upgrade) {
        status = await proxyUpgrade(req, reply.socket, reply.head, {
          origin,
          path,
          headers,
          timeoutMs: context.config.limits.upstreamTimeout,
        });
      } else {
        await forwardRequest(req, reply.res, {
          pool: this.#poolFor(route, origin, context),
          method: req.method ?? 'GET',
          path,
          headers,
          body: auth.body,
          drain: this.#inFlight,
        });
        status = reply.res.statusCode;
      }
      upstreamMs = performance.now() - upstreamStarted;
    } catch (error) {
      failure = toGatewayError(error);
      if (reply.upgrade) sendErrorOnSocket(reply.socket, failure, context.realms, requestId);
      else sendError(reply.res, failure, context.realms, requestId);
      status = reply.upgrade ? failure.status : reply.res.statusCode;
    } finally {
      this.#finish(context, req, status, started, requestId, resolved, identity, failure, upstreamMs);
    }
  }

  #finish(
    context: ProxyContext,
    req: IncomingMessage,
    status: number,
    started: number,
    requestId: string,
    resolved: Resolved | undefined,
    identity: Identity | undefined,
    failure: GatewayError | undefined,
    upstreamMs: number | undefined,
  ): void {
    const durationMs = performance.now() - started;
    const route = resolved?.route.name ?? '-';
    this.#metrics?.observeRequest(
      route,
      status,
      identity?.method ?? 'none',
      durationMs,
      upstreamMs,
      failure?.code,
    );
    if (this.#accessLog.wants(status, context.config.log)) {
      this.#accessLog.write('request', {
        requestId,
        route,
        method: req.method,
        // The query is never logged: OAuth1 signatures and query bearer tokens live there.
        path: resolved?.path,
        status,
        durationMs: Math.round(durationMs * 100) / 100,
        clientId: identity?.clientId,
        authMethod: identity?.method,
        error: failure?.code,
      });
    }
    // 503: an auth backend could not answer. Logged (rate limited, per cause) and counted by the
    // context's BackendFailureLog, so an operator sees why requests fail closed.
    if (failure?.status === 503) {
      context.backendFailures.report(failure, { route, requestId });
    } else if (failure !== undefined && failure.status >= 500 && this.#logger.isLevelEnabled('warn')) {
      const cause = failure.cause as { code?: string; message?: string } | undefined;
      this.#logger.warn(
        { requestId, route, error: failure.code, cause: cause?.code ?? cause?.message },
        'request failed',
      );
    }
    this.#inFlight.settled();
  }
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AuthorizationRefused,
  BadRequest,
  GatewayError,
  HeadersTooLarge,
  NotFound,
  SigningFailed,
} from '../errors.js';
import { AccessLog } from '../observability/access-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { readBody } from '../proxy/body.js';
import { forwardRequest, hasBody, UpstreamPools } from '../proxy/forward.js';
import { buildEgressHeaders, countHeader, requestIdFrom } from '../proxy/headers.js';
import { InFlight } from '../proxy/in-flight.js';
import { listenOn } from '../proxy/listen.js';
import { type Realms, sendError, toGatewayError } from '../proxy/respond.js';
import { matchRoute, normaliseTarget, upstreamPath } from '../proxy/router.js';
import type { EgressContext, EgressRoute } from './context.js';

/**
 * The egress listener: the app sends a plain HTTP request to a local route, the gateway signs it
 * (OAuth1) or attaches a client-credentials token (OAuth2) and forwards it to the remote API over
 * verified TLS; the answer streams back. Anyone who can reach this listener acts as the configured
 * client, so it binds to loopback by default. Each request reads the context current when it
 * arrived (a reload never changes a request midway). Nothing is ever sent without the route's
 * credentials: a signing or token failure answers the app and sends nothing.
 */

export interface EgressListenOptions {
  readonly host: string;
  readonly port: number;
}

/** RFC 9110 §9.2.2: methods a retry cannot repeat an effect of. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const NO_REALMS: Realms = { oauth1: 'oauth-gateway', oauth2: 'oauth-gateway' };

interface Outcome {
  route: EgressRoute | undefined;
  path: string | undefined;
  failure: GatewayError | undefined;
  upstreamMs: number | undefined;
  retried: boolean;
}

export class EgressServer {
  readonly server: Server;
  readonly pools = new UpstreamPools();
  readonly #context: () => EgressContext | undefined;
  readonly #options: EgressListenOptions;
  readonly #logger: Logger;
  readonly #accessLog: AccessLog;
  readonly #metrics: Metrics | undefined;
  /** Also the drain flag forwards read (Connection: close once draining). */
  readonly #inFlight = new InFlight();

  constructor(
    context: () => EgressContext | undefined,
    options: EgressListenOptions,
    limits: { readonly headersTimeout: number; readonly maxHeaders: number },
    logger: Logger,
    metrics?: Metrics,
  ) {
    this.#context = context;
    this.#options = options;
    this.#logger = logger;
    this.#accessLog = new AccessLog(logger);
    this.#metrics = metrics;
    this.server = createServer(
      {
        headersTimeout: limits.headersTimeout,
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeout / 2))),
        requestTimeout: 0,
        keepAliveTimeout: 5_000,
        maxHeaderSize: 16 * 1024,
        insecureHTTPParser: false,
      },
      (req, res) => void this.#exchange(req, res),
    );
    this.server.maxHeadersCount = limits.maxHeaders + 1;
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.#options.port, this.#options.host);
  }

  /** Stop accepting, let in-flight calls finish (bounded), then close everything. */
  async close(timeoutMs: number): Promise<boolean> {
    const drained = await this.#inFlight.drain(this.server, timeoutMs);
    await this.pools.close();
    return drained;
  }

  async #exchange(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const context = this.#context();
    const started = performance.now();
    this.#inFlight.started();
    if (this.#inFlight.draining) res.shouldKeepAlive = false;
    const requestId = requestIdFrom(req.headers['x-request-id'] as string | undefined);
    const outcome: Outcome = {
      route: undefined,
      path: undefined,
      failure: undefined,
      upstreamMs: undefined,
      retried: false,
    };
    try {
      if (context === undefined) throw new NotFound();
      await this.#forward(req, res, context, outcome);
    } catch (error) {
      outcome.failure = toGatewayError(error);
      sendError(res, outcome.failure, NO_REALMS, requestId);
    } finally {
      this.#finish(req, res, started, requestId, outcome);
    }
  }

  async #forward(
    req: IncomingMessage,
    res: ServerResponse,
    context: EgressContext,
    outcome: Outcome,
  ): Promise<void> {
    if (req.rawHeaders.length > 2 * context.limits.maxHeaders) throw new HeadersTooLarge();
    if (countHeader(req.rawHeaders, 'authorization') > 1) {
      throw new BadRequest('More than one Authorization header');
    }
    const method = req.method ?? 'GET';
    // The same normalisation as ingress: what is routed is what the upstream receives.
    const { path, query, routePath } = normaliseTarget(req.url ?? '/');
    const compiled = matchRoute(context.table, '', routePath, method);
    if (compiled === undefined) throw new NotFound();
    const route = context.routes.get(compiled.name)!;
    outcome.route = route;
    outcome.path = path;
    if (req.headers.authorization !== undefined && route.config.authorization === 'refuse') {
      throw new AuthorizationRefused();
    }
    const target = upstreamPath(compiled, path) + query;
    const contentType = req.headers['content-type'];
    const bodyFollows = hasBody(req);

    let body: Buffer | undefined;
    let authorization: string | undefined;
    let sentTarget = target;
    let bodyReplaced = false;
    let token: string | undefined;
    if (route.oauth1 !== undefined) {
      if (route.oauth1.needsBody(contentType, bodyFollows)) {
        body = await readBody(req, context.limits.maxBodyBytes);
      }
      try {
        const signed = await route.oauth1.sign({
          method,
          scheme: route.scheme,
          host: route.host,
          target,
          contentType,
          body,
        });
        authorization = signed.authorization;
        sentTarget = signed.target;
        body = signed.body;
        bodyReplaced = signed.bodyReplaced;
      } catch (error) {
        this.#metrics?.egressSigningErrors.inc({ route: route.name });
        throw error instanceof GatewayError ? error : new SigningFailed(error);
      }
    } else if (route.tokens !== undefined) {
      try {
        token = await route.tokens.get();
      } catch (error) {
        this.#metrics?.egressSigningErrors.inc({ route: route.name });
        throw error;
      }
      authorization = `Bearer ${token}`;
    }

    const pool = this.pools.get(route.origin, { upstreamTimeoutMs: route.timeoutMs }, route.trust);
    // One retry with a fresh token after a 401, only when repeating cannot duplicate an effect and
    // nothing of the app's body has been consumed (RFC 6750 §3.1 invalid_token → renew).
    const retryable = token !== undefined && IDEMPOTENT.has(method) && !bodyFollows;
    const upstreamStarted = performance.now();
    const send = (auth: string | undefined, discardStatus: number | undefined) =>
      forwardRequest(req, res, {
        pool,
        method,
        path: sentTarget,
        headers: buildEgressHeaders(req.rawHeaders, req.headers.connection, {
          host: route.host,
          authorization: auth,
          bodyReplaced,
        }),
        body,
        drain: this.#inFlight,
        discardStatus,
      });
    const result = await send(authorization, retryable ? 401 : undefined);
    if (result === 'discarded' && token !== undefined && route.tokens !== undefined) {
      outcome.retried = true;
      this.#metrics?.egressRetries.inc({ route: route.name });
      const fresh = await route.tokens.renew(token);
      await send(`Bearer ${fresh}`, undefined);
    } else if (token !== undefined && res.statusCode === 401 && route.tokens !== undefined) {
      // Not retried (a body, or not idempotent): still stop using the rejected token.
      void route.tokens.renew(token).catch(() => {});
    }
    outcome.upstreamMs = performance.now() - upstreamStarted;
  }

  #finish(
    req: IncomingMessage,
    res: ServerResponse,
    started: number,
    requestId: string,
    outcome: Outcome,
  ): void {
    const durationMs = performance.now() - started;
    const route = outcome.route?.name ?? '-';
    const status = res.statusCode;
    this.#metrics?.observeEgress(route, status, outcome.route?.sign ?? 'none', durationMs);
    const log = this.#context()?.log;
    if (log !== undefined && this.#accessLog.wants(status, log)) {
      this.#accessLog.write('egress', {
        requestId,
        route,
        method: req.method,
        // The query is never logged (OAuth1 query placement puts the signature there upstream).
        path: outcome.path,
        status,
        durationMs: Math.round(durationMs * 100) / 100,
        upstreamMs: outcome.upstreamMs === undefined ? undefined : Math.round(outcome.upstreamMs * 100) / 100,
        sign: outcome.route?.sign,
        retried: outcome.retried || undefined,
        error: outcome.failure?.code,
      });
    }
    const failure = outcome.failure;
    if (failure !== undefined && failure.status >= 500 && this.#logger.isLevelEnabled('warn')) {
      const cause = failure.cause as { code?: string; message?: string } | undefined;
      this.#logger.warn(
        { requestId, route, error: failure.code, cause: cause?.code ?? cause?.message },
        'egress request failed',
      );
    }
    this.#inFlight.settled();
  }
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type GatewayError, HeadersTooLarge, InvalidSignature, UntrustedPeer } from '../errors.js';
import { AccessLog } from '../observability/access-log.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { readBody } from '../proxy/body.js';
import type { ProxyContext } from '../proxy/context.js';
import { identityHeaderValue, requestIdFrom } from '../proxy/headers.js';
import { listenOn } from '../proxy/listen.js';
import { authenticateRequest, type Resolved, resolveRequest } from '../proxy/pipeline.js';
import { sendError, toGatewayError } from '../proxy/respond.js';
import type { Identity } from '../verify/identity.js';
import { describeOriginal, type FrontProxy } from './front-proxy.js';

/**
 * The authorization-only listener: a front proxy asks whether an original request may pass, and
 * the gateway judges it exactly as the proxy listener would (same route table, normalisation,
 * auth rules, nonce store and caches; proxy/pipeline.ts). Allow → 200 with the identity headers for
 * the front proxy to copy upstream; deny → the proxy-mode status, JSON body and WWW-Authenticate.
 * Only peers that may describe requests are answered: `trustedProxies`, or loopback peers when the
 * listener itself is on loopback. Anyone else could claim any method, path or host.
 */

const FORM = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/**
 * RFC 5849 §3.4.1.3.1: a form-encoded body's parameters are part of the signature. A front that
 * sends no body (nginx auth_request, Traefik, Caddy) makes such a request unverifiable: say why.
 */
const BODY_NOT_SENT = new InvalidSignature(
  'The signature may cover form body parameters, which this front proxy does not send to the authorization check (use Envoy with_request_body, OAuth parameters and data in the query or Authorization header instead of a form body, or proxy mode)',
);
/** draft-eaton-oauth-bodyhash: the hash is checked against the bytes, which such a front never sends. */
const BODY_HASH_NOT_SENT = new InvalidSignature(
  'The signature covers the request body (oauth_body_hash), which this front proxy does not send to the authorization check (use Envoy with_request_body, or proxy mode)',
);

const LOOPBACK_PEER = /^(127\.|::1$|::ffff:127\.)/;
const LOOPBACK_HOST = /^(127\.|localhost$|::1$|\[::1\]$)/;

export interface AuthorizeOptions {
  readonly host: string;
  readonly port: number;
  readonly pathPrefix: string;
}

export class AuthorizeServer {
  readonly server: Server;
  readonly #context: () => ProxyContext;
  readonly #accessLog: AccessLog;
  readonly #metrics: Metrics | undefined;
  readonly #options: AuthorizeOptions;
  readonly #loopbackListener: boolean;

  constructor(context: () => ProxyContext, options: AuthorizeOptions, logger: Logger, metrics?: Metrics) {
    this.#context = context;
    this.#options = options;
    this.#accessLog = new AccessLog(logger);
    this.#metrics = metrics;
    this.#loopbackListener = LOOPBACK_HOST.test(options.host);
    this.server = createServer(
      { maxHeaderSize: 16 * 1024, insecureHTTPParser: false, keepAliveTimeout: 5_000 },
      (req, res) => void this.#check(req, res),
    );
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.#options.port, this.#options.host);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  #mayDescribe(context: ProxyContext, peer: string | undefined): boolean {
    if (context.isTrustedProxy(peer)) return true;
    return this.#loopbackListener && peer !== undefined && LOOPBACK_PEER.test(peer);
  }

  async #check(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const context = this.#context();
    const started = performance.now();
    const requestId = requestIdFrom(req.headers['x-request-id'] as string | undefined);
    let front: FrontProxy | undefined;
    let resolved: Resolved | undefined;
    let identity: Identity | undefined;
    let failure: GatewayError | undefined;
    try {
      const peer = req.socket.remoteAddress;
      if (!this.#mayDescribe(context, peer)) throw new UntrustedPeer();
      if (req.rawHeaders.length > 2 * context.config.limits.maxHeaders) {
        throw new HeadersTooLarge();
      }
      const described = describeOriginal(
        {
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          peer: peer ?? '',
        },
        this.#options.pathPrefix,
      );
      front = described.front;
      resolved = resolveRequest(context, described.original, requestId);
      const auth = await authenticateRequest(
        context,
        resolved,
        described.bodyFollows ? () => readBody(req, context.config.limits.maxBodyBytes) : undefined,
      );
      identity = auth.identity;
      this.#allow(res, context, identity, requestId);
    } catch (error) {
      failure = toGatewayError(error);
      if (failure.code === 'invalid_signature' && front !== undefined && front !== 'envoy') {
        // Only on this failure path: say why a body-bound signature cannot pass this front.
        if (FORM.test(req.headers['content-type'] ?? '')) failure = BODY_NOT_SENT;
        else if (
          req.headers.authorization?.includes('oauth_body_hash') === true ||
          resolved?.facts.target.includes('oauth_body_hash') === true
        )
          failure = BODY_HASH_NOT_SENT;
      }
      sendError(res, failure, context.realms, requestId, true);
    } finally {
      this.#finish(res, started, requestId, front, resolved, identity, failure);
    }
  }

  #allow(
    res: ServerResponse,
    context: ProxyContext,
    identity: Identity | undefined,
    requestId: string,
  ): void {
    const headers: Record<string, string> = { 'x-request-id': requestId, 'cache-control': 'no-store' };
    if (identity !== undefined) {
      const names = context.headerPolicy.names;
      if (identity.user !== undefined) headers[names.user] = identityHeaderValue(identity.user);
      if (identity.clientId !== '') headers[names.client] = identityHeaderValue(identity.clientId);
      headers[names.scope] = identityHeaderValue(identity.scopes.join(' '));
      headers[names.method] = identity.method;
      if (identity.jkt !== undefined) headers[names.keyThumbprint] = identity.jkt;
    }
    headers['content-length'] = '0';
    res.writeHead(200, headers);
    res.end();
  }

  #finish(
    res: ServerResponse,
    started: number,
    requestId: string,
    front: FrontProxy | undefined,
    resolved: Resolved | undefined,
    identity: Identity | undefined,
    failure: GatewayError | undefined,
  ): void {
    const durationMs = performance.now() - started;
    const route = resolved?.route.name ?? '-';
    this.#metrics?.observeCheck(
      route,
      res.statusCode,
      identity?.method ?? 'none',
      front ?? 'unknown',
      durationMs,
    );
    if (this.#accessLog.wants(res.statusCode, this.#context().config.log)) {
      this.#accessLog.write('check', {
        requestId,
        route,
        front,
        method: resolved?.facts.method,
        // As in proxy mode: the query is never logged.
        path: resolved?.path,
        status: res.statusCode,
        durationMs: Math.round(durationMs * 100) / 100,
        clientId: identity?.clientId,
        authMethod: identity?.method,
        error: failure?.code,
      });
    }
    // As in proxy mode: a 503's cause is logged (rate limited) and counted.
    if (failure?.status === 503) this.#context().backendFailures.report(failure, { route, requestId });
  }
}

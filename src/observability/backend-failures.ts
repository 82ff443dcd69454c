import { TemporarilyUnavailable } from '../errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/**
 * Why an auth backend could not give an answer the gateway trusts. Every 503 carries one (as the
 * cause of its TemporarilyUnavailable), and so does every refused JWKS answer that stale keys
 * covered for. BackendFailureLog turns them into one rate-limited `warn` line per cause and the
 * `oauth_gateway_auth_backend_failures_total{source,cause}` counter, so an operator can see why
 * requests fail closed without a debugger. Only names, statuses, error codes and a token hash
 * prefix are carried: never a token, a secret or a response body.
 */

export type BackendSource = 'introspection' | 'jwks' | 'redis' | 'backend';

export type BackendFailureCause =
  /** Connection refused/reset, DNS failure: nothing answered. */
  | 'unreachable'
  /** No complete answer within the configured timeout. */
  | 'timeout'
  /** HTTP 401/403 from the introspection endpoint: the AS rejects the gateway's own client credentials. */
  | 'client_auth_refused'
  /** Any other unexpected HTTP status. */
  | 'http_status'
  /** An answer the gateway cannot read with certainty (not JSON, too large, a member of the wrong type). */
  | 'malformed_response'
  /** The backend connection is down (Redis) or failed in a way not classified above. */
  | 'unavailable';

export interface BackendFaultDetails {
  /** HTTP status the backend answered with. */
  readonly status?: number | undefined;
  /** The response member that was missing or of the wrong type (a name, never a value). */
  readonly field?: string | undefined;
  /** Error code of the underlying failure (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, …). */
  readonly code?: string | undefined;
  /** First 8 hex digits of sha256(token): correlates lines without revealing the token. */
  readonly tokenHash?: string | undefined;
}

export class BackendFault extends Error {
  readonly source: BackendSource;
  readonly reason: BackendFailureCause;
  readonly details: BackendFaultDetails;

  constructor(source: BackendSource, reason: BackendFailureCause, details: BackendFaultDetails = {}) {
    const parts = [`${source} ${reason}`];
    if (details.status !== undefined) parts.push(`HTTP ${details.status}`);
    if (details.field !== undefined) parts.push(`field "${details.field}"`);
    if (details.code !== undefined) parts.push(details.code);
    super(parts.join(', '));
    this.name = 'BackendFault';
    this.source = source;
    this.reason = reason;
    this.details = details;
  }

  /** A copy naming the token it happened for (faults are shared by coalesced lookups: never mutated). */
  withTokenHash(tokenHash: string): BackendFault {
    return new BackendFault(this.source, this.reason, { ...this.details, tokenHash });
  }
}

const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
  'ERR_JWKS_TIMEOUT',
  'ABORT_ERR',
]);

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, name, cause } = error as { code?: unknown; name?: unknown; cause?: unknown };
  if (typeof code === 'string') return code;
  // fetch wraps socket errors: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
  const inner = errorCode(cause);
  if (inner !== undefined) return inner;
  if (name === 'TimeoutError' || name === 'AbortError') return 'ABORT_ERR';
  return undefined;
}

/** A transport failure (no HTTP answer) → timeout or unreachable, keeping the error code. */
export function transportFault(source: BackendSource, error: unknown): BackendFault {
  if (error instanceof BackendFault) return error;
  const code = errorCode(error);
  return new BackendFault(source, code !== undefined && TIMEOUT_CODES.has(code) ? 'timeout' : 'unreachable', {
    code,
  });
}

/** The fault behind a 503 (or behind any backend error), whatever shape it arrived in. */
export function backendFaultOf(error: unknown): BackendFault {
  const inner = error instanceof TemporarilyUnavailable ? error.cause : error;
  if (inner instanceof BackendFault) return inner;
  return new BackendFault('backend', 'unavailable', { code: errorCode(inner) });
}

export interface BackendFailureContext {
  readonly route?: string | undefined;
  readonly requestId?: string | undefined;
}

export interface BackendFailureLogOptions {
  /** At most one log line per source and cause in this window (default 10 s). */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

/**
 * Counts every failure; logs the first of each source+cause at `warn`, then at most one line per
 * `intervalMs` with how many were suppressed meanwhile (a down AS at 5 000 rps must not write
 * 5 000 lines a second). One instance per process, shared across config reloads.
 */
export class BackendFailureLog {
  readonly #logger: Logger | undefined;
  readonly #metrics: Metrics | undefined;
  readonly #intervalMs: number;
  readonly #now: () => number;
  /** source/cause → when it was last logged and how many occurrences were not logged since. */
  readonly #windows = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    logger: Logger | undefined,
    metrics: Metrics | undefined,
    options: BackendFailureLogOptions = {},
  ) {
    this.#logger = logger;
    this.#metrics = metrics;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** `error` is the TemporarilyUnavailable (or its cause); `servedStale` when keys held covered for it. */
  report(error: unknown, context: BackendFailureContext = {}, servedStale = false): void {
    const fault = backendFaultOf(error);
    this.#metrics?.authBackendFailures.inc({ source: fault.source, cause: fault.reason });
    const logger = this.#logger;
    if (logger === undefined || !logger.isLevelEnabled('warn')) return;
    const key = `${fault.source}/${fault.reason}`;
    const now = this.#now();
    const window = this.#windows.get(key);
    if (window !== undefined && now - window.loggedAt < this.#intervalMs) {
      window.suppressed++;
      return;
    }
    const suppressed = window?.suppressed ?? 0;
    this.#windows.set(key, { loggedAt: now, suppressed: 0 });
    const { status, field, code, tokenHash } = fault.details;
    logger.warn(
      {
        source: fault.source,
        cause: fault.reason,
        status,
        field,
        code,
        tokenHash,
        route: context.route,
        requestId: context.requestId,
        suppressed,
      },
      servedStale
        ? `auth backend failed (${fault.message}); verified with the keys already held`
        : `auth backend failed (${fault.message}); answering 503`,
    );
  }
}

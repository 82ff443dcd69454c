/**
 * Every failure the gateway reports to a client is a GatewayError: a stable `code` that callers and
 * metrics switch on, the HTTP `status`, and a `description` that is safe to send (never a secret,
 * never which of client/token/signature was wrong beyond the code). Only `proxy/respond.ts` turns
 * these into HTTP responses. docs/errors.md lists the same codes; a test keeps the two in sync.
 */

/** Which challenge(s) a 401/400/403 carries in `WWW-Authenticate`. */
export type ChallengeScheme = 'oauth1' | 'oauth2' | 'dpop';

/** RFC 5849 has no error registry; these are the OAuth Problem Reporting extension names. */
export type OAuth1Problem =
  | 'parameter_absent'
  | 'parameter_rejected'
  | 'version_rejected'
  | 'signature_method_rejected'
  | 'consumer_key_unknown'
  | 'token_rejected'
  | 'signature_invalid'
  | 'nonce_used'
  | 'timestamp_refused';

export interface GatewayErrorOptions {
  /** Challenges to put in WWW-Authenticate (in this order). */
  challenges?: readonly ChallengeScheme[];
  /** OAuth1 Problem Reporting name, sent as `oauth_problem` in the OAuth challenge. */
  oauthProblem?: OAuth1Problem;
  /** RFC 6750 §3: scope needed, sent as `scope="…"` with insufficient_scope. */
  scope?: string;
  cause?: unknown;
}

/**
 * Each subclass declares its `code` and `status` once, as statics (like jose's `JOSEError.code`),
 * so the code list below is derived from the classes instead of kept by hand.
 */
export abstract class GatewayError extends Error {
  static readonly code: string;
  static readonly status: number;

  readonly code: string;
  readonly status: number;
  readonly description: string;
  readonly challenges: readonly ChallengeScheme[];
  readonly oauthProblem: OAuth1Problem | undefined;
  readonly scope: string | undefined;
  /** RFC 6750 §3.1: a request without credentials gets a challenge with no error code at all. */
  readonly exposeCode: boolean = true;

  constructor(description: string, options: GatewayErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    const kind = new.target as unknown as { readonly code: string; readonly status: number };
    this.name = new.target.name;
    this.code = kind.code;
    this.status = kind.status;
    this.description = description;
    this.challenges = options.challenges ?? [];
    this.oauthProblem = options.oauthProblem;
    this.scope = options.scope;
  }
}

// ── Routing and framing ────────────────────────────────────────────────────────────────────────

export class NotFound extends GatewayError {
  static override readonly code = 'not_found';
  static override readonly status = 404;
  constructor() {
    super('No route matches this request');
  }
}

export class BadRequest extends GatewayError {
  static override readonly code = 'bad_request';
  static override readonly status = 400;
  constructor(description = 'Malformed request') {
    super(description);
  }
}

/** The authorize listener was asked by a peer that may not describe requests (not a trusted proxy). */
export class UntrustedPeer extends GatewayError {
  static override readonly code = 'untrusted_peer';
  static override readonly status = 403;
  constructor() {
    super('Authorization checks are answered only for trusted proxies (trustedProxies, or loopback)');
  }
}

export class PayloadTooLarge extends GatewayError {
  static override readonly code = 'payload_too_large';
  static override readonly status = 413;
  constructor() {
    super('Request body exceeds the configured limit');
  }
}

/** Request headers over the parser's limit (RFC 6585 §5). */
export class HeadersTooLarge extends GatewayError {
  static override readonly code = 'headers_too_large';
  static override readonly status = 431;
  constructor() {
    super('Request header fields too large');
  }
}

/** The client did not finish its headers within `limits.headersTimeout` (slowloris). */
export class RequestTimeout extends GatewayError {
  static override readonly code = 'request_timeout';
  static override readonly status = 408;
  constructor() {
    super('Request headers not received in time');
  }
}

// ── Authentication ─────────────────────────────────────────────────────────────────────────────

/** No credentials at all on a protected route: 401 with bare challenges (RFC 6750 §3.1). */
export class CredentialsMissing extends GatewayError {
  static override readonly code = 'unauthorized';
  static override readonly status = 401;
  override readonly exposeCode = false;
  constructor(challenges: readonly ChallengeScheme[]) {
    super('Authentication required', { challenges });
  }
}

/** 400 invalid_request: malformed, duplicated or unsupported protocol parameters. */
export class InvalidRequest extends GatewayError {
  static override readonly code = 'invalid_request';
  static override readonly status = 400;
  constructor(scheme: ChallengeScheme, description: string, oauthProblem?: OAuth1Problem) {
    super(description, {
      challenges: [scheme],
      ...(oauthProblem === undefined ? {} : { oauthProblem }),
    });
  }
}

export class InvalidClient extends GatewayError {
  static override readonly code = 'invalid_client';
  static override readonly status = 401;
  constructor() {
    super('Client credentials are not valid', {
      challenges: ['oauth1'],
      oauthProblem: 'consumer_key_unknown',
    });
  }
}

/** OAuth1 token credentials unknown, or a bearer token unknown/expired/revoked/inactive. */
export class InvalidToken extends GatewayError {
  static override readonly code = 'invalid_token';
  static override readonly status = 401;
  constructor(scheme: ChallengeScheme, description = 'The access token is not valid') {
    super(description, {
      challenges: [scheme],
      ...(scheme === 'oauth1' ? { oauthProblem: 'token_rejected' as const } : {}),
    });
  }
}

/** RFC 9449 §7.1: a missing, malformed, replayed or unbound DPoP proof. */
export class InvalidDpopProof extends GatewayError {
  static override readonly code = 'invalid_dpop_proof';
  static override readonly status = 401;
  constructor(description = 'The DPoP proof is not valid') {
    super(description, { challenges: ['dpop'] });
  }
}

/**
 * RFC 9449 §9: the proof lacks the server's current nonce. The response carries a fresh one in
 * the `DPoP-Nonce` header (respond.ts), and the client retries with it.
 */
export class UseDpopNonce extends GatewayError {
  static override readonly code = 'use_dpop_nonce';
  static override readonly status = 401;
  /** Set by the caller that knows the current nonce, before the error is answered. */
  nonce: string | undefined;
  constructor(nonce?: string) {
    super('Resource server requires a DPoP nonce', { challenges: ['dpop'] });
    this.nonce = nonce;
  }
}

export class InvalidSignature extends GatewayError {
  static override readonly code = 'invalid_signature';
  static override readonly status = 401;
  constructor(description = 'The request signature is not valid') {
    super(description, {
      challenges: ['oauth1'],
      oauthProblem: 'signature_invalid',
    });
  }
}

export class InvalidNonce extends GatewayError {
  static override readonly code = 'invalid_nonce';
  static override readonly status = 401;
  constructor() {
    super('The nonce has already been used', {
      challenges: ['oauth1'],
      oauthProblem: 'nonce_used',
    });
  }
}

export class InvalidTimestamp extends GatewayError {
  static override readonly code = 'invalid_timestamp';
  static override readonly status = 401;
  constructor() {
    super('The timestamp is outside the accepted window', {
      challenges: ['oauth1'],
      oauthProblem: 'timestamp_refused',
    });
  }
}

export class InsufficientScope extends GatewayError {
  static override readonly code = 'insufficient_scope';
  static override readonly status = 403;
  constructor(scheme: ChallengeScheme, requiredScope: string) {
    super('The token does not grant the scope this route requires', {
      challenges: [scheme],
      scope: requiredScope,
    });
  }
}

// ── Backends ───────────────────────────────────────────────────────────────────────────────────

/** An auth backend (Redis, introspection, JWKS) is down and nothing usable is cached: fail closed. */
export class TemporarilyUnavailable extends GatewayError {
  static override readonly code = 'temporarily_unavailable';
  static override readonly status = 503;
  /** `description` must be a fixed, safe text (egress says which token endpoint problem it was). */
  constructor(cause?: unknown, description = 'Authentication backend temporarily unavailable') {
    super(description, cause === undefined ? {} : { cause });
  }
}

export class BadGateway extends GatewayError {
  static override readonly code = 'bad_gateway';
  static override readonly status = 502;
  /** `description` must be a fixed, safe text (egress: the upstream certificate did not verify). */
  constructor(cause?: unknown, description = 'Upstream unreachable') {
    super(description, cause === undefined ? {} : { cause });
  }
}

export class GatewayTimeout extends GatewayError {
  static override readonly code = 'gateway_timeout';
  static override readonly status = 504;
  constructor(cause?: unknown) {
    super('Upstream timed out', cause === undefined ? {} : { cause });
  }
}

// ── Egress ─────────────────────────────────────────────────────────────────────────────────────

/** An egress route with `authorization: refuse` got a request carrying its own Authorization. */
export class AuthorizationRefused extends GatewayError {
  static override readonly code = 'authorization_refused';
  static override readonly status = 400;
  constructor() {
    super(
      'This egress route adds its own credentials and refuses requests that carry an Authorization header',
    );
  }
}

/** Signing an egress request failed (a key the crypto library refused): nothing was sent. */
export class SigningFailed extends GatewayError {
  static override readonly code = 'signing_failed';
  static override readonly status = 500;
  constructor(cause?: unknown) {
    super('The gateway could not sign this request; nothing was sent', cause === undefined ? {} : { cause });
  }
}

/** Anything unexpected: never leaks internals. */
export class InternalError extends GatewayError {
  static override readonly code = 'internal_error';
  static override readonly status = 500;
  constructor(cause?: unknown) {
    super('Internal error', cause === undefined ? {} : { cause });
  }
}

// ── Configuration (never an HTTP answer) ──────────────────────────────────────────────────────

/**
 * Every problem found in one config or credentials load, each prefixed with where it is
 * (`routes[2].upstream: …`). Reported by `check`, at start-up and on reload; not a GatewayError.
 */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/**
 * Every concrete error class; test/errors.test.ts checks that each GatewayError subclass exported
 * here is listed, so a new class cannot be forgotten.
 */
export const ERROR_CLASSES = [
  NotFound,
  BadRequest,
  UntrustedPeer,
  PayloadTooLarge,
  HeadersTooLarge,
  RequestTimeout,
  CredentialsMissing,
  InvalidRequest,
  InvalidClient,
  InvalidToken,
  InvalidDpopProof,
  UseDpopNonce,
  InvalidSignature,
  InvalidNonce,
  InvalidTimestamp,
  InsufficientScope,
  TemporarilyUnavailable,
  BadGateway,
  GatewayTimeout,
  AuthorizationRefused,
  SigningFailed,
  InternalError,
] as const;

/** The set docs/errors.md must document (kept in sync by test/errors.test.ts). */
export const ERROR_CODES: readonly string[] = Object.freeze(ERROR_CLASSES.map((kind) => kind.code));

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

export class GatewayError extends Error {
  readonly code: string;
  readonly status: number;
  readonly description: string;
  readonly challenges: readonly ChallengeScheme[];
  readonly oauthProblem: OAuth1Problem | undefined;
  readonly scope: string | undefined;
  /** RFC 6750 §3.1: a request without credentials gets a challenge with no error code at all. */
  readonly exposeCode: boolean = true;

  constructor(code: string, status: number, description: string, options: GatewayErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.description = description;
    this.challenges = options.challenges ?? [];
    this.oauthProblem = options.oauthProblem;
    this.scope = options.scope;
  }
}

// ── Routing and framing ────────────────────────────────────────────────────────────────────────

export class NotFound extends GatewayError {
  constructor() {
    super('not_found', 404, 'No route matches this request');
  }
}

export class BadRequest extends GatewayError {
  constructor(description = 'Malformed request') {
    super('bad_request', 400, description);
  }
}

/** The authorize listener was asked by a peer that may not describe requests (not a trusted proxy). */
export class UntrustedPeer extends GatewayError {
  constructor() {
    super(
      'untrusted_peer',
      403,
      'Authorization checks are answered only for trusted proxies (trustedProxies, or loopback)',
    );
  }
}

export class PayloadTooLarge extends GatewayError {
  constructor() {
    super('payload_too_large', 413, 'Request body exceeds the configured limit');
  }
}

/** Request headers over the parser's limit (RFC 6585 §5). */
export class HeadersTooLarge extends GatewayError {
  constructor() {
    super('headers_too_large', 431, 'Request header fields too large');
  }
}

/** The client did not finish its headers within `limits.headersTimeout` (slowloris). */
export class RequestTimeout extends GatewayError {
  constructor() {
    super('request_timeout', 408, 'Request headers not received in time');
  }
}

// ── Authentication ─────────────────────────────────────────────────────────────────────────────

/** No credentials at all on a protected route: 401 with bare challenges (RFC 6750 §3.1). */
export class CredentialsMissing extends GatewayError {
  override readonly exposeCode = false;
  constructor(challenges: readonly ChallengeScheme[]) {
    super('unauthorized', 401, 'Authentication required', { challenges });
  }
}

/** 400 invalid_request: malformed, duplicated or unsupported protocol parameters. */
export class InvalidRequest extends GatewayError {
  constructor(scheme: ChallengeScheme, description: string, oauthProblem?: OAuth1Problem) {
    super('invalid_request', 400, description, {
      challenges: [scheme],
      ...(oauthProblem === undefined ? {} : { oauthProblem }),
    });
  }
}

export class InvalidClient extends GatewayError {
  constructor() {
    super('invalid_client', 401, 'Client credentials are not valid', {
      challenges: ['oauth1'],
      oauthProblem: 'consumer_key_unknown',
    });
  }
}

/** OAuth1 token credentials unknown, or a bearer token unknown/expired/revoked/inactive. */
export class InvalidToken extends GatewayError {
  constructor(scheme: ChallengeScheme, description = 'The access token is not valid') {
    super('invalid_token', 401, description, {
      challenges: [scheme],
      ...(scheme === 'oauth1' ? { oauthProblem: 'token_rejected' as const } : {}),
    });
  }
}

/** RFC 9449 §7.1: a missing, malformed, replayed or unbound DPoP proof. */
export class InvalidDpopProof extends GatewayError {
  constructor(description = 'The DPoP proof is not valid') {
    super('invalid_dpop_proof', 401, description, { challenges: ['dpop'] });
  }
}

/**
 * RFC 9449 §9: the proof lacks the server's current nonce. The response carries a fresh one in
 * the `DPoP-Nonce` header (respond.ts), and the client retries with it.
 */
export class UseDpopNonce extends GatewayError {
  /** Set by the caller that knows the current nonce, before the error is answered. */
  nonce: string | undefined;
  constructor(nonce?: string) {
    super('use_dpop_nonce', 401, 'Resource server requires a DPoP nonce', { challenges: ['dpop'] });
    this.nonce = nonce;
  }
}

export class InvalidSignature extends GatewayError {
  constructor(description = 'The request signature is not valid') {
    super('invalid_signature', 401, description, {
      challenges: ['oauth1'],
      oauthProblem: 'signature_invalid',
    });
  }
}

export class InvalidNonce extends GatewayError {
  constructor() {
    super('invalid_nonce', 401, 'The nonce has already been used', {
      challenges: ['oauth1'],
      oauthProblem: 'nonce_used',
    });
  }
}

export class InvalidTimestamp extends GatewayError {
  constructor() {
    super('invalid_timestamp', 401, 'The timestamp is outside the accepted window', {
      challenges: ['oauth1'],
      oauthProblem: 'timestamp_refused',
    });
  }
}

export class InsufficientScope extends GatewayError {
  constructor(scheme: ChallengeScheme, requiredScope: string) {
    super('insufficient_scope', 403, 'The token does not grant the scope this route requires', {
      challenges: [scheme],
      scope: requiredScope,
    });
  }
}

// ── Backends ───────────────────────────────────────────────────────────────────────────────────

/** An auth backend (Redis, introspection, JWKS) is down and nothing usable is cached: fail closed. */
export class TemporarilyUnavailable extends GatewayError {
  constructor(cause?: unknown) {
    super(
      'temporarily_unavailable',
      503,
      'Authentication backend temporarily unavailable',
      cause === undefined ? {} : { cause },
    );
  }
}

export class BadGateway extends GatewayError {
  constructor(cause?: unknown) {
    super('bad_gateway', 502, 'Upstream unreachable', cause === undefined ? {} : { cause });
  }
}

export class GatewayTimeout extends GatewayError {
  constructor(cause?: unknown) {
    super('gateway_timeout', 504, 'Upstream timed out', cause === undefined ? {} : { cause });
  }
}

/** Anything unexpected: never leaks internals. */
export class InternalError extends GatewayError {
  constructor(cause?: unknown) {
    super('internal_error', 500, 'Internal error', cause === undefined ? {} : { cause });
  }
}

/** The set docs/errors.md must document (kept in sync by test/errors.test.ts). */
export const ERROR_CODES = [
  'not_found',
  'bad_request',
  'untrusted_peer',
  'payload_too_large',
  'headers_too_large',
  'request_timeout',
  'unauthorized',
  'invalid_request',
  'invalid_client',
  'invalid_token',
  'invalid_signature',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'invalid_nonce',
  'invalid_timestamp',
  'insufficient_scope',
  'temporarily_unavailable',
  'bad_gateway',
  'gateway_timeout',
  'internal_error',
] as const;

import { createPrivateKey, type KeyObject, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { EgressOAuth2Config } from '../config/schema.js';
import { TemporarilyUnavailable } from '../errors.js';
import { basicAuthorization, formEncode, readBoundedText } from '../oauth2-client-http.js';
import { Pool } from '../undici-pool.js';

/**
 * OAuth 2.0 client-credentials tokens for one egress route (RFC 6749 §4.4). One token is cached
 * until shortly before `expires_in` runs out; inside the last `refreshAhead` of its life the first
 * request starts a refresh in the background and keeps using the current token. Every refresh is
 * coalesced: however many requests need a token at once, one token request is in flight (the
 * lru-cache `fetchMethod` idea). A failure with no usable token is a TemporarilyUnavailable
 * (503): the caller never sends the request without a token.
 */

/** Why a client-credentials token could not be had, in words safe to send to the app. */
export type TokenEndpointProblem =
  | 'is unreachable'
  | 'timed out'
  | 'refused the client credentials'
  | 'answered with an error status'
  | 'answered without a usable bearer access_token';

/** The 503 the app gets: which problem, and that nothing was sent (never unauthenticated). */
function unavailable(problem: TokenEndpointProblem, cause: unknown): TemporarilyUnavailable {
  return new TemporarilyUnavailable(
    cause,
    `No access token: the token endpoint ${problem}; the request was not sent`,
  );
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Why a token request was made (a metric label). */
export type FetchReason = 'initial' | 'expired' | 'ahead' | 'rejected';

export interface TokenFetcherOptions {
  readonly config: EgressOAuth2Config;
  /** PEM CA bundle for an https token endpoint (`sign.oauth2.tls.caFile`). */
  readonly ca: string | undefined;
  /** PEM private key for private_key_jwt (`sign.oauth2.privateKeyFile`). */
  readonly assertionKey?: string | undefined;
  readonly now?: (() => number) | undefined;
  readonly onFetch?: ((reason: FetchReason, result: 'success' | 'failure') => void) | undefined;
  readonly onError?: ((problem: TokenEndpointProblem, detail: string) => void) | undefined;
}

interface CachedToken {
  readonly token: string;
  /** Past this, the token is not used any more (shortly before `expires_in` runs out). */
  readonly expiresAt: number;
  /** From this on, a request starts a background refresh. */
  readonly refreshAt: number;
}

/** RFC 6749 §5.1 makes expires_in only RECOMMENDED: without it, a token is kept this long (a 401 still renews it). */
const DEFAULT_LIFETIME_MS = 300_000;
/** "Shortly before": stop using a token this long before its stated expiry (at most a tenth of its life). */
const EXPIRY_MARGIN_MS = 5_000;
/** After a failed token request, requests in this window fail at once instead of asking again. */
const FAILURE_COOLDOWN_MS = 500;
/** Ample for any token response; a bigger one is a misbehaving server. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** RFC 6750 §2.1 b64token: anything else could not go into an Authorization header safely. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

class TokenResponseError extends Error {
  constructor(readonly problem: TokenEndpointProblem) {
    super(problem);
  }
}

/** The access_token and its lifetime (ms), or a TokenResponseError. */
function parseTokenResponse(text: string): { token: string; lifetimeMs: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TokenResponseError('answered without a usable bearer access_token');
  }
  const body = (parsed ?? {}) as Record<string, unknown>;
  const token = body['access_token'];
  const type = body['token_type'];
  // RFC 6749 §7.1 / RFC 6750: only a Bearer token may be sent as `Authorization: Bearer`.
  if (
    typeof token !== 'string' ||
    !B64TOKEN.test(token) ||
    typeof type !== 'string' ||
    type.toLowerCase() !== 'bearer'
  ) {
    throw new TokenResponseError('answered without a usable bearer access_token');
  }
  const expiresIn = body['expires_in'];
  const seconds = typeof expiresIn === 'string' && /^\d+$/.test(expiresIn) ? Number(expiresIn) : expiresIn;
  if (seconds === undefined) return { token, lifetimeMs: DEFAULT_LIFETIME_MS };
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new TokenResponseError('answered without a usable bearer access_token');
  }
  return { token, lifetimeMs: seconds * 1000 };
}

function problemOf(error: unknown): TokenEndpointProblem {
  if (error instanceof TokenResponseError) return error.problem;
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  if (name === 'TimeoutError' || name === 'AbortError' || code?.endsWith('_TIMEOUT') === true)
    return 'timed out';
  return 'is unreachable';
}

export class ClientCredentialsTokens {
  readonly #config: EgressOAuth2Config;
  readonly #pool: Pool;
  readonly #path: string;
  readonly #now: () => number;
  readonly #onFetch: TokenFetcherOptions['onFetch'];
  readonly #onError: TokenFetcherOptions['onError'];
  readonly #form: string;
  readonly #assertionKey: KeyObject | undefined;
  readonly #headers: Record<string, string>;
  #current: CachedToken | undefined;
  #inFlight: Promise<CachedToken> | undefined;
  #failure: { readonly error: TemporarilyUnavailable; readonly until: number } | undefined;

  constructor(options: TokenFetcherOptions) {
    const { config } = options;
    this.#config = config;
    this.#now = options.now ?? Date.now;
    this.#onFetch = options.onFetch;
    this.#onError = options.onError;
    const url = new URL(config.tokenUrl);
    this.#path = `${url.pathname}${url.search}`;
    this.#pool = new Pool(url.origin, {
      connections: 4,
      keepAliveTimeout: 4_000,
      headersTimeout: config.timeout,
      bodyTimeout: config.timeout,
      connectTimeout: config.timeout,
      ...(options.ca === undefined ? {} : { connect: { ca: options.ca } }),
    });
    // Built once: the request body and headers never change for a route.
    const form: [string, string][] = [['grant_type', 'client_credentials']];
    if (config.scope !== undefined) form.push(['scope', config.scope]);
    if (config.audience !== undefined) form.push(['audience', config.audience]);
    // RFC 8707 §2: the resource parameter may be repeated.
    const resources = config.resource === undefined ? [] : [config.resource].flat();
    for (const resource of resources) form.push(['resource', resource]);
    this.#headers = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (config.authMethod === 'client_secret_basic') {
      this.#headers['authorization'] = basicAuthorization(config.clientId, config.clientSecret ?? '');
    } else if (config.authMethod === 'client_secret_post') {
      form.push(['client_id', config.clientId], ['client_secret', config.clientSecret ?? '']);
    } else {
      // RFC 7523 §2.2 / RFC 7521 §4.2: a fresh client assertion is appended per token request.
      form.push(['client_id', config.clientId], ['client_assertion_type', JWT_BEARER]);
      const key = options.assertionKey;
      if (key === undefined) throw new TypeError('private_key_jwt needs sign.oauth2.privateKeyFile');
      this.#assertionKey = createPrivateKey(key);
    }
    this.#form = form.map(([name, value]) => `${name}=${formEncode(value)}`).join('&');
  }

  /** A token to send now: cached, or fetched (one request however many callers wait). */
  get(): Promise<string> | string {
    const now = this.#now();
    const current = this.#current;
    if (current !== undefined && now < current.refreshAt) return current.token;
    if (current !== undefined && now < current.expiresAt) {
      // Refreshed ahead of expiry: this request still uses the current token.
      this.#refresh('ahead').catch(() => {});
      return current.token;
    }
    return this.#refresh(current === undefined ? 'initial' : 'expired').then((cached) => cached.token);
  }

  /**
   * The API answered 401 with `rejected`: forget it (if it is still the current token; a
   * concurrent request may already have renewed it) and get another, coalesced like any refresh.
   */
  async renew(rejected: string): Promise<string> {
    if (this.#current?.token === rejected) this.#current = undefined;
    const current = this.#current;
    if (current !== undefined && this.#now() < current.expiresAt) return current.token;
    return (await this.#refresh('rejected')).token;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  #refresh(reason: FetchReason): Promise<CachedToken> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    const failure = this.#failure;
    if (failure !== undefined && this.#now() < failure.until) return Promise.reject(failure.error);
    const started = this.#now();
    const inFlight = this.#fetch(started).then(
      (cached) => {
        this.#current = cached;
        this.#failure = undefined;
        this.#inFlight = undefined;
        this.#onFetch?.(reason, 'success');
        return cached;
      },
      (error: unknown) => {
        const problem = problemOf(error);
        const failure = unavailable(problem, error);
        this.#failure = { error: failure, until: this.#now() + FAILURE_COOLDOWN_MS };
        this.#inFlight = undefined;
        this.#onFetch?.(reason, 'failure');
        this.#onError?.(problem, error instanceof Error ? error.message : String(error));
        throw failure;
      },
    );
    this.#inFlight = inFlight;
    return inFlight;
  }

  /**
   * RFC 7523 §3: iss = sub = client_id, aud = the token endpoint, a unique jti, a short exp.
   * Signed per token request (rare: once per token lifetime), so jose's async signing is fine here.
   */
  #assertion(): Promise<string> {
    const now = Math.floor(this.#now() / 1000);
    const header: { alg: string; typ: string; kid?: string } = {
      alg: this.#config.assertionAlgorithm,
      typ: 'JWT',
    };
    if (this.#config.keyId !== undefined) header.kid = this.#config.keyId;
    return new SignJWT({})
      .setProtectedHeader(header)
      .setIssuer(this.#config.clientId)
      .setSubject(this.#config.clientId)
      .setAudience(this.#config.tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(this.#assertionKey!);
  }

  async #fetch(started: number): Promise<CachedToken> {
    const response = await this.#pool.request({
      method: 'POST',
      path: this.#path,
      headers: this.#headers,
      body:
        this.#assertionKey === undefined
          ? this.#form
          : `${this.#form}&client_assertion=${await this.#assertion()}`,
      signal: AbortSignal.timeout(this.#config.timeout),
    });
    const text = await readBoundedText(
      response.body,
      MAX_RESPONSE_BYTES,
      () => new TokenResponseError('answered without a usable bearer access_token'),
    );
    if (response.statusCode !== 200) {
      // RFC 6749 §5.2: invalid_client / unauthorized_client mean our own credentials were refused.
      const refused =
        response.statusCode === 401 || /"error"\s*:\s*"(invalid_client|unauthorized_client)"/.test(text);
      throw new TokenResponseError(
        refused ? 'refused the client credentials' : 'answered with an error status',
      );
    }
    const { token, lifetimeMs } = parseTokenResponse(text);
    // Timed from when the request was sent: the server's clock started no earlier.
    const expiresAt = started + lifetimeMs - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 10);
    const refreshAt = Math.min(
      expiresAt,
      started + lifetimeMs - Math.min(this.#config.refreshAhead, lifetimeMs / 2),
    );
    return { token, expiresAt, refreshAt };
  }
}

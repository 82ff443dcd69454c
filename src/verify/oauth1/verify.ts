import {
  InvalidClient,
  InvalidNonce,
  InvalidRequest,
  InvalidSignature,
  InvalidTimestamp,
  InvalidToken,
} from '../../errors.js';
import type { Identity } from '../identity.js';
import type { RequestFacts } from '../request-facts.js';
import { buildBaseString } from './base-string.js';
import { computeBodyHash } from './body-hash.js';
import { percentEncode } from './encoding.js';
import type { CredentialLookup, NonceRegistry, TokenCredentials } from './lookups.js';
import {
  type CollectedParams,
  collectCarriedParams,
  type OAuth1Carried,
  type Param,
  readOAuth1Params,
} from './params.js';
import { safeEqualStrings } from './safe-equal.js';
import { getSignatureMethod } from './signature-methods.js';

/**
 * Verifies one OAuth 1.0a request (RFC 5849 §3.2). Pure: the clock, credentials and nonce store
 * are passed in. The order is fixed so that cheap, secret-free checks come first and the nonce is
 * claimed only once the signature is known good (otherwise anyone could burn other clients'
 * nonces, or fill the store with garbage):
 * params → version → signature method → timestamp → client → token → signature → body hash → nonce.
 */

export interface OAuth1Policy {
  readonly realm: string;
  readonly signatureMethods: ReadonlySet<string>;
  readonly timestampWindowMs: number;
  readonly bodyHash: 'off' | 'optional' | 'required';
}

export interface OAuth1VerifyContext {
  readonly policy: OAuth1Policy;
  /** Epoch milliseconds. */
  readonly now: () => number;
  readonly credentials: CredentialLookup;
  readonly nonces: NonceRegistry;
}

const DIGITS = /^[0-9]+$/;
const BODY_HASH_PARAM = 'oauth_body_hash';

function baseStringOf(facts: RequestFacts, collected: CollectedParams): string {
  return buildBaseString({
    method: facts.method,
    scheme: facts.scheme,
    host: facts.host,
    target: facts.target,
    params: collected.signed,
  });
}

/** The §3.4.1 signature base string the verifier computes for `facts` (for tests and debugging). */
export function computeBaseString(facts: RequestFacts): string {
  return baseStringOf(facts, collectCarriedParams(readOAuth1Params(facts)));
}

/**
 * draft-eaton-oauth-bodyhash-00: the hash must not be sent with form bodies (those are signed
 * parameter by parameter, §4.1), and when sent must match the body. A mismatch means the body is
 * not the one that was signed, so it is reported like a bad signature.
 */
function checkBodyHash(policy: OAuth1Policy, collected: CollectedParams, body: Buffer | undefined): void {
  if (policy.bodyHash === 'off') return;
  const sent = collected.protocol.bodyHash;
  if (collected.formBody) {
    if (sent !== undefined) {
      throw new InvalidRequest(
        'oauth1',
        'oauth_body_hash is not allowed with a form body',
        'parameter_rejected',
      );
    }
    return;
  }
  if (sent === undefined) {
    if (policy.bodyHash === 'required') {
      throw new InvalidRequest(
        'oauth1',
        'Missing OAuth protocol parameter oauth_body_hash',
        'parameter_absent',
      );
    }
    return;
  }
  if (!safeEqualStrings(computeBodyHash(body), sent)) throw new InvalidSignature();
}

/**
 * §3.3 nonce key: unique per (client, token, timestamp, nonce). Components are §3.6-encoded so a
 * `:` inside a value cannot make two different tuples collide; ordinary values read unchanged.
 */
function nonceKey(clientId: string, token: string | undefined, timestamp: string, nonce: string): string {
  return `${percentEncode(clientId)}:${percentEncode(token ?? '')}:${timestamp}:${percentEncode(nonce)}`;
}

/** Verifies `facts` from scratch (tests, library use); the proxy detects first, then verifies. */
export function verifyOAuth1Request(facts: RequestFacts, ctx: OAuth1VerifyContext): Promise<Identity> {
  return verifyOAuth1Carried(facts, readOAuth1Params(facts), ctx);
}

/** Verifies the request whose parameters `carried` already holds (parsed once by detectOAuth1). */
export async function verifyOAuth1Carried(
  facts: RequestFacts,
  carried: OAuth1Carried,
  ctx: OAuth1VerifyContext,
): Promise<Identity> {
  const { policy } = ctx;
  const collected = collectCarriedParams(carried);
  const { protocol } = collected;

  // §3.1: oauth_version is optional, and if present MUST be "1.0".
  if (protocol.version !== undefined && protocol.version !== '1.0') {
    throw new InvalidRequest('oauth1', 'Unsupported oauth_version', 'version_rejected');
  }

  const method = getSignatureMethod(protocol.signatureMethod);
  if (method === undefined || !policy.signatureMethods.has(method.name)) {
    throw new InvalidRequest('oauth1', 'Unsupported signature method', 'signature_method_rejected');
  }
  // §3.4.4 / §4.5: PLAINTEXT puts the secrets on the wire; only over TLS.
  if (method.requiresTls && facts.scheme !== 'https') {
    throw new InvalidRequest('oauth1', 'PLAINTEXT signatures require https', 'signature_method_rejected');
  }

  // §3.3: a positive integer of seconds. Any number of digits (published vectors use 9).
  if (!DIGITS.test(protocol.timestamp)) {
    throw new InvalidRequest('oauth1', 'oauth_timestamp must be a number of seconds', 'parameter_rejected');
  }
  const timestamp = Number(protocol.timestamp);
  const now = ctx.now();
  if (Math.abs(timestamp * 1000 - now) > policy.timestampWindowMs) {
    throw new InvalidTimestamp();
  }

  const client = await ctx.credentials.getClient(protocol.consumerKey);
  if (client === undefined) throw new InvalidClient();

  let token: TokenCredentials | undefined;
  if (protocol.token !== undefined) {
    token = await ctx.credentials.getToken(protocol.token);
    // A token issued to another client is as unknown as a made-up one.
    if (token === undefined || token.clientId !== client.clientId) throw new InvalidToken('oauth1');
  }

  const valid = await method.verify({
    baseString: method.name === 'PLAINTEXT' ? '' : baseStringOf(facts, collected),
    signature: protocol.signature,
    consumerSecret: client.clientSecret,
    tokenSecret: token?.tokenSecret ?? '',
    rsaPublicKey: client.rsaPublicKey,
  });
  if (!valid) throw new InvalidSignature();

  checkBodyHash(policy, collected, facts.body);

  // The store may also answer `stale`: a bounded store that had to forget old nonces raised its
  // timestamp floor past them, so their requests are refused as outside the window (issue 13).
  const verdict = await ctx.nonces.claim({
    key: nonceKey(client.clientId, protocol.token, protocol.timestamp, protocol.nonce),
    timestamp,
    windowMs: policy.timestampWindowMs,
    now,
  });
  if (verdict === 'replayed') throw new InvalidNonce();
  if (verdict === 'stale') throw new InvalidTimestamp();

  const identity: Identity = {
    method: 'oauth1',
    clientId: client.clientId,
    scopes: token?.scopes ?? [],
  };
  return token?.userId === undefined ? identity : { ...identity, user: token.userId };
}

// ── Detection (for the proxy layer) ────────────────────────────────────────────────────────────

type FactsWithoutBody = Omit<RequestFacts, 'body'>;

/** What detectOAuth1 found: the one parse, and whether the body must be read before verifying. */
export interface OAuth1Detection {
  readonly carried: OAuth1Carried;
  readonly bodyNeeded: boolean;
}

function isBodyHashParam(param: Param): boolean {
  return param[0] === BODY_HASH_PARAM;
}

/**
 * Whether the proxy must read the body before verifying: form bodies are signed parameter by
 * parameter; a body hash needs the bytes.
 */
function bodyNeeded(facts: FactsWithoutBody, carried: OAuth1Carried, policy: OAuth1Policy): boolean {
  if (carried.formBody) return true;
  if (policy.bodyHash === 'required') return true;
  if (policy.bodyHash === 'off') return false;
  // Cheap pre-filter on the hot path; a name disguised with percent-escapes only fails closed
  // (the hash is then checked against an empty body).
  if (!facts.target.includes('body') && facts.authorization?.includes('body') !== true) return false;
  if (carried.query.some(isBodyHashParam)) return true;
  const { header } = carried;
  // A malformed header: verification rejects it without looking at the body.
  return header !== undefined && !(header instanceof InvalidRequest) && header.params.some(isBodyHashParam);
}

/**
 * Parses the request's OAuth 1.0a parameters once (before the body is read) and decides whether
 * the body is needed; the proxy completes the parse with withOAuth1Body, then verifies it.
 */
export function detectOAuth1(facts: FactsWithoutBody, policy: OAuth1Policy): OAuth1Detection {
  const carried = readOAuth1Params(facts);
  return { carried, bodyNeeded: bodyNeeded(facts, carried, policy) };
}

/** Whether the proxy must read the body before verifyOAuth1Request (see detectOAuth1). */
export function oauth1BodyNeeded(facts: FactsWithoutBody, policy: OAuth1Policy): boolean {
  return detectOAuth1(facts, policy).bodyNeeded;
}

const CREDENTIAL_PARAMS: ReadonlySet<string> = new Set(['oauth_consumer_key', 'oauth_signature']);

function namesCredential(params: readonly Param[]): boolean {
  return params.some(([name]) => CREDENTIAL_PARAMS.has(name));
}

/**
 * Whether the request carries OAuth 1.0a credentials anywhere (§3.5): an OAuth Authorization
 * header, or oauth_consumer_key / oauth_signature in the query or (once read) the form body.
 * Used by `auth: any` to pick the scheme and to tell "no credentials" from "bad credentials".
 */
export function carriesOAuth1(carried: OAuth1Carried): boolean {
  return carried.header !== undefined || namesCredential(carried.query) || namesCredential(carried.body);
}

/** carriesOAuth1 over a fresh parse of `facts` (tests, library use). */
export function hasOAuth1Credentials(
  facts: FactsWithoutBody & { readonly body?: Buffer | undefined },
): boolean {
  return carriesOAuth1(readOAuth1Params(facts));
}

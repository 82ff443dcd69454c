import { InvalidDpopProof, InvalidRequest, InvalidToken, UseDpopNonce } from '../../errors.js';
import type { NonceRegistry } from '../oauth1/lookups.js';
import type { TokenInfo } from '../oauth2/token-info.js';
import type { RequestFacts } from '../request-facts.js';
import { type DpopPolicy, verifyDpopProof } from './proof.js';

/**
 * RFC 9449 §7: a resource request with a DPoP-bound access token. The access token travels as
 * `Authorization: DPoP <token>`, the proof in exactly one `DPoP` header; the proof must verify for
 * this request, its jti must be new, and its key must be the one the token is bound to (`cnf.jkt`).
 * A bound token presented as `Bearer` is refused (§7.2): whoever stole it has no key.
 */

export type DpopMode = 'off' | 'allow' | 'require';

/** RFC 9449 §7.1: "DPoP" 1*SP token68 (the same b64token syntax as Bearer). */
const DPOP_CREDENTIALS = /^dpop +([A-Za-z0-9\-._~+/]+=*)$/i;
const DPOP_SCHEME = /^dpop(?:[ \t]|$)/i;

export function isDpopAuthorization(authorization: string | undefined): authorization is string {
  return authorization !== undefined && DPOP_SCHEME.test(authorization);
}

/** The access token of `Authorization: DPoP <token>`; 400 invalid_request when malformed. */
export function extractDpopToken(authorization: string): string {
  const match = DPOP_CREDENTIALS.exec(authorization);
  if (match === null) throw new InvalidRequest('oauth2', 'Malformed DPoP authorization header');
  return match[1]!;
}

/** Server nonces (RFC 9449 §9), when the route asks for them. */
export interface DpopNonces {
  isValid(nonce: string | undefined, now: number): boolean;
  current(now: number): string;
}

export interface DpopBindingContext {
  readonly policy: DpopPolicy;
  /** Replay store for proof jti values (same never-forget rule as OAuth1 nonces). */
  readonly jtis: NonceRegistry;
  readonly nonces: DpopNonces | undefined;
  readonly now: () => number;
}

/** `scheme://host/path` of the request, as the client addressed it (query dropped, §4.3 step 9). */
function requestUrl(facts: RequestFacts): string {
  const query = facts.target.indexOf('?');
  return `${facts.scheme}://${facts.host}${query === -1 ? facts.target : facts.target.slice(0, query)}`;
}

/**
 * Checks the proof of a DPoP request against the token's binding; returns the key thumbprint.
 * `proofHeader` is the `DPoP` header as the listener read it: Node joins repeated headers with
 * ", ", and a compact JWS never contains a comma, so a comma means more than one proof (§4.3 step 1).
 */
export async function verifyDpopRequest(
  facts: RequestFacts,
  proofHeader: string | undefined,
  token: string,
  info: TokenInfo,
  context: DpopBindingContext,
): Promise<string> {
  if (proofHeader === undefined || proofHeader === '') throw new InvalidDpopProof('A DPoP proof is required');
  if (proofHeader.includes(',')) throw new InvalidDpopProof('Exactly one DPoP proof is allowed');
  const now = context.now();
  const nonces = context.nonces;
  let proof: Awaited<ReturnType<typeof verifyDpopProof>>;
  try {
    proof = await verifyDpopProof(
      {
        proof: proofHeader,
        method: facts.method,
        url: requestUrl(facts),
        accessToken: token,
        isNonceValid: nonces === undefined ? undefined : (nonce) => nonces.isValid(nonce, now),
        now,
      },
      context.policy,
    );
  } catch (error) {
    // §9: hand out the nonce to use (DPoP-Nonce header), so the client can retry at once.
    if (error instanceof UseDpopNonce && nonces !== undefined) error.nonce = nonces.current(now);
    throw error;
  }
  // §7.1: the token must be bound, to this key. An unbound token cannot be sent as DPoP.
  if (info.active && info.jkt !== proof.jkt)
    throw new InvalidDpopProof('The DPoP key is not the one the token is bound to');
  // §11.1: a proof is single-use. Claimed after the signature and binding verified, so garbage
  // cannot fill the store; keyed by the key thumbprint so clients cannot collide with each other.
  const verdict = await context.jtis.claim({
    key: `${proof.jkt}:${proof.jti}`,
    timestamp: proof.iat,
    windowMs: context.policy.maxAgeMs + context.policy.skewMs,
    now,
  });
  if (verdict !== 'fresh') throw new InvalidDpopProof('The DPoP proof was already used');
  return proof.jkt;
}

/** §7.2: a DPoP-bound token presented as a plain Bearer token is not valid. */
export function refuseBoundBearer(info: TokenInfo): void {
  if (info.jkt !== undefined)
    throw new InvalidToken('oauth2', 'This token is DPoP-bound: present it with a DPoP proof');
}

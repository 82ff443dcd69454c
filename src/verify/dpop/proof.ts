import { createHash, createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { InvalidDpopProof, UseDpopNonce } from '../../errors.js';

/**
 * RFC 9449 §4.3: checking a DPoP proof JWT. Pure judgement: the request's method and URL, the
 * access token, the clock and the policy come in; the proof's key thumbprint and `jti` come out (the
 * caller claims the jti in a replay store and compares the thumbprint with the token's `cnf.jkt`).
 * Signatures are checked with node:crypto's asynchronous `verify` (thread pool, not the event loop).
 */

export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

export interface DpopPolicy {
  readonly algorithms: ReadonlySet<string>;
  /** How old (and, with skew, how far in the future) `iat` may be, in ms. */
  readonly maxAgeMs: number;
  readonly skewMs: number;
}

export interface DpopCheck {
  /** The single DPoP header value. */
  readonly proof: string;
  readonly method: string;
  /** The URL of this request as the client addressed it: scheme://host/path (query ignored). */
  readonly url: string;
  /** The access token presented with the proof (for `ath`), if any. */
  readonly accessToken: string | undefined;
  /** A server nonce the proof must carry (RFC 9449 §9), or undefined when nonces are off. */
  readonly isNonceValid?: ((nonce: string | undefined) => boolean) | undefined;
  /** Unix ms. */
  readonly now: number;
}

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key, base64url. */
  readonly jkt: string;
  readonly jti: string;
  /** Unix seconds. */
  readonly iat: number;
}

interface Verifier {
  readonly digest: string | null;
  readonly kty: string;
  readonly options?: {
    readonly dsaEncoding?: 'ieee-p1363';
    readonly padding?: number;
    readonly saltLength?: number;
  };
  readonly crv?: string;
}

// RSA_PKCS1_PSS_PADDING = 6; salt length = hash length (RFC 7518 §3.5).
const VERIFIERS: Record<DpopAlgorithm, Verifier> = {
  ES256: { digest: 'sha256', kty: 'EC', crv: 'P-256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { digest: 'sha384', kty: 'EC', crv: 'P-384', options: { dsaEncoding: 'ieee-p1363' } },
  ES512: { digest: 'sha512', kty: 'EC', crv: 'P-521', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { digest: null, kty: 'OKP' },
  Ed25519: { digest: null, kty: 'OKP', crv: 'Ed25519' },
  RS256: { digest: 'sha256', kty: 'RSA' },
  PS256: { digest: 'sha256', kty: 'RSA', options: { padding: 6, saltLength: 32 } },
};

/** Members that exist only in private (or symmetric) JWKs: a proof must never carry them (§4.3 step 7). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** RFC 7638 §3.2: the required members per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};
const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

function fail(description: string): never {
  throw new InvalidDpopProof(description);
}

function decodeJson(segment: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  return fail(`The DPoP proof ${what} is not a JSON object`);
}

/** RFC 7638 thumbprint: SHA-256 over the required members, serialised without whitespace. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  const members = THUMBPRINT_MEMBERS[String(jwk['kty'])];
  if (members === undefined) return fail('Unsupported DPoP key type');
  const canonical: Record<string, unknown> = {};
  for (const name of members) {
    if (typeof jwk[name] !== 'string') return fail('The DPoP key is missing a required member');
    canonical[name] = jwk[name];
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/** base64url(SHA-256(ASCII(access token))), RFC 9449 §4.2 `ath`. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/**
 * RFC 9449 §4.3 step 9: htu matches the request URI "without query and fragment parts", after
 * RFC 3986 §6.2.2/§6.2.3 normalisation (case of scheme and host, default port, percent-encoding
 * case, dot segments): the WHATWG URL parser does exactly those, so both sides go through it.
 */
function sameResource(htu: string, url: string): boolean {
  if (!URL.canParse(htu) || !URL.canParse(url)) return false;
  const a = new URL(htu);
  const b = new URL(url);
  return a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
}

function verifySignature(
  verifier: Verifier,
  key: KeyObject,
  data: Buffer,
  signature: Buffer,
): Promise<boolean> {
  return new Promise((resolve) => {
    const keyInput = verifier.options === undefined ? key : { key, ...verifier.options };
    verify(verifier.digest, data, keyInput, signature, (error, valid) => resolve(error === null && valid));
  });
}

export async function verifyDpopProof(check: DpopCheck, policy: DpopPolicy): Promise<DpopProof> {
  const parts = COMPACT_JWS.exec(check.proof);
  if (parts === null) return fail('The DPoP proof is not a compact JWS');
  const header = decodeJson(parts[1]!, 'header');
  const claims = decodeJson(parts[2]!, 'payload');

  // Steps 4-7: typ, an allowed asymmetric alg (never none or HS*), a public JWK.
  if (header['typ'] !== 'dpop+jwt') fail('The DPoP proof must have typ dpop+jwt');
  const alg = header['alg'];
  if (typeof alg !== 'string' || !policy.algorithms.has(alg) || !(alg in VERIFIERS))
    fail('The DPoP proof algorithm is not allowed');
  const verifier = VERIFIERS[alg as DpopAlgorithm];
  const jwk = header['jwk'];
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) fail('The DPoP proof has no jwk header');
  const jwkObject = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((member) => member in jwkObject)) fail('The DPoP proof key must be a public key');
  if (jwkObject['kty'] !== verifier.kty || (verifier.crv !== undefined && jwkObject['crv'] !== verifier.crv))
    fail('The DPoP proof key does not match its algorithm');
  const jkt = jwkThumbprint(jwkObject);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwkObject as JsonWebKey, format: 'jwk' });
  } catch {
    return fail('The DPoP proof key is not a valid public key');
  }
  if (alg === 'EdDSA' && key.asymmetricKeyType !== 'ed25519' && key.asymmetricKeyType !== 'ed448')
    fail('The DPoP proof key does not match its algorithm');

  // Step 8: the signature.
  const signed = Buffer.from(`${parts[1]}.${parts[2]}`, 'ascii');
  if (!(await verifySignature(verifier, key, signed, Buffer.from(parts[3]!, 'base64url'))))
    fail('The DPoP proof signature is not valid');

  // Steps 9-12: the request binding, freshness and the token hash.
  const { jti, htm, htu, iat, ath, nonce } = claims;
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) fail('The DPoP proof needs a jti');
  if (htm !== check.method) fail('The DPoP proof is for another method');
  if (typeof htu !== 'string' || !sameResource(htu, check.url)) fail('The DPoP proof is for another URL');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) fail('The DPoP proof needs an iat');
  const ageMs = check.now - iat * 1000;
  if (ageMs > policy.maxAgeMs + policy.skewMs || ageMs < -policy.skewMs)
    fail('The DPoP proof is too old or from the future');
  if (check.isNonceValid !== undefined && !check.isNonceValid(typeof nonce === 'string' ? nonce : undefined))
    throw new UseDpopNonce();
  if (check.accessToken !== undefined && ath !== accessTokenHash(check.accessToken))
    fail('The DPoP proof ath does not match the access token');
  return { jkt, jti: jti as string, iat: iat as number };
}

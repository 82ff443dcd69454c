import { createHash, type SignKeyObjectInput, sign } from 'node:crypto';
import type { AssertionConfig } from '../config/schema.js';
import type { Identity } from '../verify/identity.js';
import type { AssertionKeySet } from './assertion-keys.js';

/**
 * The signed identity assertion: a compact JWS (RFC 7515) sent upstream beside the identity
 * headers, so an app can prove a request came through the gateway with any JWT library and the
 * published JWKS, instead of trusting the network (docs/upstream-integration.md).
 *
 * Header: `{"alg", "typ": "oauth-gateway-assertion+jwt", "kid"}`. The explicit `typ` (RFC 8725
 * §3.11) keeps the assertion from being mistaken for an access or ID token by a verifier that
 * shares keys or libraries with one. Claims:
 *   iss, aud (route `assertionAudience`, default the route name), sub (only when there is a user),
 *   client_id, scope (space-separated, RFC 8693 §4.2), auth_method (oauth1 | oauth2), iat, exp,
 *   jti, htm and htu (the request as the upstream receives it, named as in DPoP, RFC 9449 §4.2),
 *   body_sha256 (base64url SHA-256 of the body, only when the gateway had to read it anyway),
 *   cnf.jkt (the DPoP key thumbprint, only for a DPoP request, like X-OAuth-Jkt).
 *
 * Cost: the key is a KeyObject imported once per config load; per request there is one small
 * JSON.stringify, two base64url encodings and one signature. The signature uses node:crypto's
 * callback form, which runs on the libuv threadpool: the house rule keeps sync crypto other than
 * HMAC off the event loop, and RS256 (~270 µs per signature) would stall every other request.
 * Measured with bench/assertion-sign.mjs (BENCHMARKS.md, "Identity assertion"): under load the
 * callback form costs about the CPU of the sync one (Ed25519 48–67 vs 46–62 µs per assertion) and
 * half of jose's WebCrypto path (100–144 µs), which is why jose is used for key metadata only.
 */

export const ASSERTION_TYPE = 'oauth-gateway-assertion+jwt';

/** What one forwarded request contributes to its assertion. */
export interface AssertionRequest {
  readonly identity: Identity;
  /** `aud`: the route's assertionAudience, or its name. */
  readonly audience: string;
  /** `jti`: unique per assertion (server.ts passes the request id when the gateway minted it). */
  readonly jti: string;
  readonly method: string;
  /** `htu`: X-Forwarded-Proto + "://" + X-Forwarded-Host + the request-target sent upstream. */
  readonly url: string;
  /** The request body, when the gateway already read it (OAuth1 form bodies, body hash). */
  readonly body: Buffer | undefined;
}

export interface AssertionSigner {
  /** Header name the assertion is sent in. */
  readonly header: string;
  readonly kid: string;
  sign(request: AssertionRequest): Promise<string>;
}

interface Claims {
  iss: string;
  aud: string;
  sub?: string;
  client_id: string;
  scope: string;
  auth_method: 'oauth1' | 'oauth2';
  iat: number;
  exp: number;
  jti: string;
  htm: string;
  htu: string;
  body_sha256?: string;
  cnf?: { jkt: string };
}

/** RFC 7518 §3.1: the digest each `alg` signs with (Ed25519 hashes internally: null). */
const DIGEST = { EdDSA: null, ES256: 'sha256', RS256: 'sha256' } as const;

export function createAssertionSigner(
  config: AssertionConfig,
  keys: AssertionKeySet,
  now: () => number,
): AssertionSigner {
  const { signing, algorithm } = keys;
  const digest = DIGEST[algorithm];
  // RFC 7518 §3.4: ES256 signatures are R || S (IEEE P1363), not the DER that OpenSSL emits by default.
  const key: SignKeyObjectInput =
    algorithm === 'ES256'
      ? { key: signing.privateKey, dsaEncoding: 'ieee-p1363' }
      : { key: signing.privateKey };
  const encodedHeader = Buffer.from(
    JSON.stringify({ alg: algorithm, typ: ASSERTION_TYPE, kid: signing.kid }),
  ).toString('base64url');
  const issuer = config.issuer;
  const ttlSeconds = Math.max(1, Math.floor(config.ttl / 1000));

  return {
    header: config.header,
    kid: signing.kid,
    sign(request) {
      const { identity } = request;
      const iat = Math.floor(now() / 1000);
      const claims: Claims = {
        iss: issuer,
        aud: request.audience,
        client_id: identity.clientId,
        scope: identity.scopes.join(' '),
        auth_method: identity.method,
        iat,
        exp: iat + ttlSeconds,
        jti: request.jti,
        htm: request.method,
        htu: request.url,
      };
      if (identity.user !== undefined) claims.sub = identity.user;
      // RFC 7800 §3.1 / RFC 9449 §6.1: the DPoP key the request proved, as X-OAuth-Jkt says.
      if (identity.jkt !== undefined) claims.cnf = { jkt: identity.jkt };
      if (request.body !== undefined)
        claims.body_sha256 = createHash('sha256').update(request.body).digest('base64url');
      const signingInput = `${encodedHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return new Promise<string>((resolve, reject) => {
        sign(digest, Buffer.from(signingInput, 'latin1'), key, (error, signature) => {
          if (error !== null) reject(error);
          else resolve(`${signingInput}.${signature.toString('base64url')}`);
        });
      });
    },
  };
}

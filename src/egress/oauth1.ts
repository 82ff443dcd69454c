import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { EgressOAuth1Config } from '../config/schema.js';
import { BadRequest } from '../errors.js';
import { formatAuthorizationHeader, interopNonce, signOAuth1ParamsAsync } from '../oauth1-client/sign.js';
import { percentEncode } from '../verify/oauth1/encoding.js';
import { type Param, parseFormEncoded, rawQuery } from '../verify/oauth1/params.js';
import { isFormContentType } from '../verify/request-facts.js';

/**
 * Signs one outbound request for an egress route with the one OAuth1 signer
 * (src/oauth1-client/sign.ts). The signature covers exactly what goes on the wire: the method,
 * `scheme://host[:port]` of the upstream with the forwarded target (base path included, query as
 * sent), and, for a form-encoded body, its parameters (RFC 5849 §3.4.1.3.1). A fresh nonce and
 * timestamp every time.
 */

export interface OutboundRequest {
  readonly method: string;
  /** `http` or `https`: the upstream's. */
  readonly scheme: string;
  /** The Host the upstream receives (default port omitted). */
  readonly host: string;
  /** Origin-form target as forwarded: upstream base path + path + raw query. */
  readonly target: string;
  readonly contentType: string | undefined;
  /** The app's body, when it had to be read (see `needsBody`). */
  readonly body: Buffer | undefined;
}

export interface SignedOutbound {
  readonly target: string;
  /** `OAuth …` for header placement. */
  readonly authorization: string | undefined;
  /** The body to send when it was read (with the protocol parameters for body placement). */
  readonly body: Buffer | undefined;
  /** True when `body` differs from what the app sent (its Content-Length no longer applies). */
  readonly bodyReplaced: boolean;
}

export interface OAuth1EgressSigner {
  /** Whether the app's body must be read before signing (else it streams through). */
  needsBody(contentType: string | undefined, hasBody: boolean): boolean;
  sign(request: OutboundRequest): Promise<SignedOutbound>;
}

const APP_OAUTH_PARAMS = new BadRequest(
  'The request carries OAuth protocol parameters (oauth_*); the gateway adds them itself',
);
/** RFC 5849 §3.5.2: parameters go into the body only of a single-part form-encoded request. */
const BODY_PLACEMENT_NEEDS_FORM = new BadRequest(
  'This egress route sends OAuth parameters in the body: the request must have an application/x-www-form-urlencoded body',
);

function carriesOAuthParams(params: readonly Param[]): boolean {
  for (const [name] of params) if (name.startsWith('oauth_')) return true;
  return false;
}

function encodeParams(params: readonly Param[]): string {
  return params.map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`).join('&');
}

export function createOAuth1EgressSigner(
  config: EgressOAuth1Config,
  privateKeyPem: string | undefined,
  now: () => number = Date.now,
): OAuth1EgressSigner {
  const rsaPrivateKey: KeyObject | undefined =
    privateKeyPem === undefined ? undefined : createPrivateKey(privateKeyPem);
  return {
    needsBody(contentType, hasBody) {
      if (!hasBody) return false;
      return isFormContentType(contentType) || config.bodyHash;
    },

    async sign(request) {
      const formBody = isFormContentType(request.contentType);
      // The app speaks plain HTTP: protocol parameters of its own would be signed twice or clash.
      if (carriesOAuthParams(parseFormEncoded(rawQuery(request.target)))) throw APP_OAUTH_PARAMS;
      const bodyText = formBody && request.body !== undefined ? request.body.toString('utf8') : undefined;
      if (bodyText !== undefined && carriesOAuthParams(parseFormEncoded(bodyText))) throw APP_OAUTH_PARAMS;
      if (config.placement === 'body' && !formBody) throw BODY_PLACEMENT_NEEDS_FORM;

      const params = await signOAuth1ParamsAsync({
        method: request.method,
        url: `${request.scheme}://${request.host}${request.target}`,
        consumerKey: config.consumerKey,
        consumerSecret: config.consumerSecret,
        token: config.token,
        tokenSecret: config.tokenSecret,
        signatureMethod: config.signatureMethod,
        // Form bodies are signed parameter by parameter; other bodies only through oauth_body_hash.
        body: formBody ? (request.body ?? Buffer.alloc(0)) : config.bodyHash ? request.body : undefined,
        contentType: request.contentType,
        bodyHash: config.bodyHash,
        timestamp: Math.floor(now() / 1000),
        nonce: interopNonce(),
        rsaPrivateKey,
      });

      switch (config.placement) {
        case 'header':
          return {
            target: request.target,
            authorization: formatAuthorizationHeader(params, config.realm),
            body: request.body,
            bodyReplaced: false,
          };
        case 'query': {
          // §3.5.3: added to the query; the existing query stays byte-exact.
          const queryAt = request.target.indexOf('?');
          const separator = queryAt === -1 ? '?' : queryAt === request.target.length - 1 ? '' : '&';
          return {
            target: `${request.target}${separator}${encodeParams(params)}`,
            authorization: undefined,
            body: request.body,
            bodyReplaced: false,
          };
        }
        case 'body': {
          // §3.5.2: appended to the form body.
          const existing = bodyText ?? '';
          const joined = existing === '' ? encodeParams(params) : `${existing}&${encodeParams(params)}`;
          return {
            target: request.target,
            authorization: undefined,
            body: Buffer.from(joined),
            bodyReplaced: true,
          };
        }
      }
    },
  };
}

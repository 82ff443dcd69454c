/** OAuth 1.0a verification (RFC 5849): the public surface used by the proxy and the CLI. */
export { buildBaseString, buildBaseStringUri, normaliseParameters } from './base-string.js';
export { computeBodyHash } from './body-hash.js';
export { formDecode, percentDecodeStrict, percentEncode } from './encoding.js';
export {
  collectOAuthParams,
  isOAuthAuthorization,
  type Param,
  parseAuthorizationHeader,
  parseFormEncoded,
} from './params.js';
export { getSignatureMethod, type SignatureMethod, signingKey } from './signature-methods.js';
export {
  computeBaseString,
  hasOAuth1Credentials,
  type OAuth1Policy,
  type OAuth1VerifyContext,
  oauth1BodyNeeded,
  verifyOAuth1Request,
} from './verify.js';

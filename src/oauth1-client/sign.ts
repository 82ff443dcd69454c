import { createPrivateKey, type KeyObject, randomBytes } from 'node:crypto';
import { buildBaseString } from '../verify/oauth1/base-string.js';
import { computeBodyHash } from '../verify/oauth1/body-hash.js';
import { percentEncode } from '../verify/oauth1/encoding.js';
import { type Param, parseFormEncoded, rawQuery } from '../verify/oauth1/params.js';
import {
  getSignatureMethod,
  type SignatureMethod,
  type SignatureMethodName,
  type SignInput,
} from '../verify/oauth1/signature-methods.js';
import { isFormContentType } from '../verify/request-facts.js';

/**
 * The client side of RFC 5849, the one OAuth1 signer: signs a request and formats the Authorization
 * header. Used by the `sign` CLI, tests, benchmarks and egress (src/egress/), which uses the async
 * form so that RSA signing never blocks the event loop.
 */

export interface SignOAuth1Input {
  readonly method: string;
  /** Full URL with the query, spelled exactly as it will go on the wire (it is not re-escaped). */
  readonly url: string;
  readonly consumerKey: string;
  readonly consumerSecret: string;
  readonly token?: string | undefined;
  readonly tokenSecret?: string | undefined;
  /** Default HMAC-SHA1. */
  readonly signatureMethod?: SignatureMethodName | undefined;
  readonly realm?: string | undefined;
  /** Raw body. A form body (see contentType) is signed parameter by parameter (§3.4.1.3.1). */
  readonly body?: string | Buffer | undefined;
  readonly contentType?: string | undefined;
  /**
   * Send oauth_body_hash (draft-eaton-oauth-bodyhash) for a non-form body. Default: true when a
   * non-form body is given. Never sent with form bodies.
   */
  readonly bodyHash?: boolean | undefined;
  /** Unix seconds; default now. */
  readonly timestamp?: number | undefined;
  /** Default 16 random bytes, hex. */
  readonly nonce?: string | undefined;
  /** PEM or KeyObject, for RSA-SHA1 / RSA-SHA256. */
  readonly rsaPrivateKey?: KeyObject | string | undefined;
  /** Default true: send oauth_version="1.0". */
  readonly includeVersion?: boolean | undefined;
  /** More protocol parameters to sign and send, e.g. oauth_callback or oauth_verifier. */
  readonly extraParams?: Readonly<Record<string, string>> | undefined;
}

export interface SplitUrl {
  readonly scheme: string;
  /** Authority without userinfo: host[:port]. */
  readonly host: string;
  /** Origin-form request-target: path (at least `/`) and query, no fragment. */
  readonly target: string;
}

const URL_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)/;

/** Splits a URL without a WHATWG round trip, so the path and query stay byte-exact. */
export function splitUrl(url: string): SplitUrl {
  const match = URL_SHAPE.exec(url);
  if (match === null) throw new TypeError('URL must look like scheme://host/path');
  const authority = match[2]!;
  const at = authority.lastIndexOf('@');
  const rest = match[3]!;
  const target = rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest;
  return { scheme: match[1]!.toLowerCase(), host: at === -1 ? authority : authority.slice(at + 1), target };
}

/**
 * 12 random bytes as 24 hex digits: unique enough (96 bits) and inside what common servers accept
 * (oauthlib's default RequestValidator wants 20–30 alphanumeric characters). Egress uses it.
 */
export function interopNonce(): string {
  return randomBytes(12).toString('hex');
}

interface Prepared {
  readonly method: SignatureMethod;
  /** Protocol parameters without oauth_signature yet. */
  readonly protocol: Param[];
  readonly signInput: SignInput;
}

/** Everything but the signature itself: protocol parameters and the §3.4.1 base string. */
function prepare(input: SignOAuth1Input): Prepared {
  const methodName = input.signatureMethod ?? 'HMAC-SHA1';
  const method = getSignatureMethod(methodName);
  if (method === undefined) throw new TypeError(`Unknown signature method ${methodName}`);
  const { scheme, host, target } = splitUrl(input.url);
  const formBody = isFormContentType(input.contentType);

  const protocol: Param[] = [['oauth_consumer_key', input.consumerKey]];
  if (input.token !== undefined) protocol.push(['oauth_token', input.token]);
  protocol.push(
    ['oauth_signature_method', methodName],
    ['oauth_timestamp', String(input.timestamp ?? Math.floor(Date.now() / 1000))],
    ['oauth_nonce', input.nonce ?? randomBytes(16).toString('hex')],
  );
  if (input.includeVersion ?? true) protocol.push(['oauth_version', '1.0']);
  if (!formBody && input.body !== undefined && (input.bodyHash ?? true)) {
    protocol.push(['oauth_body_hash', computeBodyHash(input.body)]);
  }
  for (const [name, value] of Object.entries(input.extraParams ?? {})) protocol.push([name, value]);

  const bodyParams =
    formBody && input.body !== undefined ? parseFormEncoded(Buffer.from(input.body).toString('utf8')) : [];
  const baseString = buildBaseString({
    method: input.method,
    scheme,
    host,
    target,
    params: [...parseFormEncoded(rawQuery(target)), ...protocol, ...bodyParams],
  });
  const rsaPrivateKey =
    typeof input.rsaPrivateKey === 'string' ? createPrivateKey(input.rsaPrivateKey) : input.rsaPrivateKey;
  return {
    method,
    protocol,
    signInput: {
      baseString,
      consumerSecret: input.consumerSecret,
      tokenSecret: input.tokenSecret ?? '',
      rsaPrivateKey,
    },
  };
}

/** The protocol parameters including oauth_signature (decoded values), in sending order. */
export function signOAuth1Params(input: SignOAuth1Input): Param[] {
  const { method, protocol, signInput } = prepare(input);
  protocol.push(['oauth_signature', method.sign(signInput)]);
  return protocol;
}

/**
 * The same, for a request path (egress): RSA signatures are computed on the libuv pool instead of
 * blocking the event loop; HMAC and PLAINTEXT stay synchronous (cheap).
 */
export async function signOAuth1ParamsAsync(input: SignOAuth1Input): Promise<Param[]> {
  const { method, protocol, signInput } = prepare(input);
  protocol.push(['oauth_signature', await method.signAsync(signInput)]);
  return protocol;
}

/** RFC 9110 quoted-string for the realm (it is not percent-encoded, §3.5.1). */
function quote(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** §3.5.1: `OAuth realm="…", name="enc(value)", …`. */
export function formatAuthorizationHeader(params: readonly Param[], realm?: string): string {
  const parts = realm === undefined ? [] : [`realm=${quote(realm)}`];
  for (const [name, value] of params) parts.push(`${percentEncode(name)}="${percentEncode(value)}"`);
  return `OAuth ${parts.join(', ')}`;
}

/** Signs the request and returns the Authorization header value (`OAuth …`). */
export function signOAuth1Request(input: SignOAuth1Input): string {
  return formatAuthorizationHeader(signOAuth1Params(input), input.realm);
}

/**
 * What the verifiers judge: the request exactly as the client sent it, with the scheme and host
 * the client addressed (taken from X-Forwarded-* only when the peer is a trusted proxy; the proxy
 * layer decides that). Verifiers never see node:http objects, which keeps them pure and testable
 * with published vectors.
 */
export interface RequestFacts {
  /** Method as sent (RFC 5849 §3.4.1.1 upper-cases it for the base string). */
  readonly method: string;
  readonly scheme: 'http' | 'https';
  /** Host (and port, if any) the client addressed, as in the Host header. */
  readonly host: string;
  /** Raw request-target in origin form (`/path?query`), byte-exact as on the wire. */
  readonly target: string;
  /** The Authorization header, if exactly one was sent. */
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  /** The DPoP header (RFC 9449 §4.1); repeated headers arrive joined with ", ". */
  readonly dpop?: string | undefined;
  /** The body, only when the proxy read it (form bodies, oauth_body_hash); otherwise undefined. */
  readonly body: Buffer | undefined;
}

const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';

/**
 * Whether the body is application/x-www-form-urlencoded: the media type compared
 * case-insensitively, parameters such as charset allowed (RFC 9110 §8.3.1). The one test for
 * RFC 5849 §3.4.1.3.1 (a form body is signed parameter by parameter) and RFC 6750 §2.2 (form-body
 * access tokens).
 */
export function isFormContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  const mediaType = (semi === -1 ? contentType : contentType.slice(0, semi)).trim();
  return mediaType.length === FORM_MEDIA_TYPE.length && mediaType.toLowerCase() === FORM_MEDIA_TYPE;
}

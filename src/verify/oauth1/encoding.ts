/**
 * RFC 5849 §3.6 percent-encoding and the two decodings the protocol needs: plain percent-decoding
 * (Authorization header values, §3.5.1) and application/x-www-form-urlencoded decoding (query and
 * body, §3.4.1.3.1, where `+` also means a space).
 */

const HEX = '0123456789ABCDEF';
const utf8 = new TextEncoder();

/** RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d || // -
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x7e // ~
  );
}

/** Strings made only of unreserved characters encode to themselves: the common case, no allocation. */
function isAllUnreserved(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    if (!isUnreserved(value.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * RFC 5849 §3.6: UTF-8 encode, then escape every octet outside the unreserved set as `%XX` with
 * upper-case hex. (`encodeURIComponent` is not this: it leaves `!'()*` alone.) Lone surrogates are
 * encoded as U+FFFD, as TextEncoder does.
 */
export function percentEncode(value: string): string {
  if (isAllUnreserved(value)) return value;
  let encoded: string;
  try {
    // Native and fast; it differs from §3.6 only in leaving !'()* alone, fixed up below.
    encoded = encodeURIComponent(value);
  } catch {
    return percentEncodeBytes(value); // lone surrogate: encodeURIComponent throws, TextEncoder gives U+FFFD
  }
  return RFC3986_SUB_DELIMS.test(encoded) ? encoded.replace(RFC3986_SUB_DELIMS_ALL, escapeSubDelim) : encoded;
}

const RFC3986_SUB_DELIMS = /[!'()*]/;
const RFC3986_SUB_DELIMS_ALL = /[!'()*]/g;

function escapeSubDelim(char: string): string {
  return `%${char.charCodeAt(0).toString(16).toUpperCase()}`;
}

function percentEncodeBytes(value: string): string {
  let out = '';
  for (const byte of utf8.encode(value)) {
    if (isUnreserved(byte)) out += String.fromCharCode(byte);
    else out += `%${HEX[byte >> 4]}${HEX[byte & 0x0f]}`;
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

interface DecodeOptions {
  /** application/x-www-form-urlencoded: `+` is a space (never in the Authorization header). */
  readonly plusIsSpace: boolean;
  /**
   * Strict: a `%` not followed by two hex digits, or bytes that are not UTF-8, make the value
   * invalid (undefined). Lenient (the WHATWG form decoder, which clients' URL libraries follow):
   * such a `%` is kept literally and bad bytes become U+FFFD.
   */
  readonly strict: boolean;
}

function decode(value: string, options: DecodeOptions): string | undefined {
  const hasPercent = value.includes('%');
  const hasPlus = options.plusIsSpace && value.includes('+');
  if (!hasPercent && !hasPlus) return value;
  if (!hasPercent) return value.replaceAll('+', ' ');

  // Percent-escapes name octets, so decode to bytes first and only then read them as UTF-8.
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x25 /* % */) {
      const hi = i + 2 < value.length ? hexValue(value.charCodeAt(i + 1)) : -1;
      const lo = hi >= 0 ? hexValue(value.charCodeAt(i + 2)) : -1;
      if (hi >= 0 && lo >= 0) {
        bytes.push((hi << 4) | lo);
        i += 2;
        continue;
      }
      if (options.strict) return undefined;
      bytes.push(0x25);
    } else if (code === 0x2b /* + */ && options.plusIsSpace) {
      bytes.push(0x20);
    } else if (code < 0x80) {
      bytes.push(code);
    } else {
      // A raw non-ASCII character (not valid on the wire, but strings may carry it): keep it.
      const end = code >= 0xd800 && code <= 0xdbff && i + 1 < value.length ? i + 2 : i + 1;
      for (const byte of utf8.encode(value.slice(i, end))) bytes.push(byte);
      i = end - 1;
    }
  }
  const array = Uint8Array.from(bytes);
  if (!options.strict) return lenientUtf8.decode(array);
  try {
    return strictUtf8.decode(array);
  } catch {
    return undefined;
  }
}

/**
 * Decodes an Authorization header parameter name or value (RFC 5849 §3.5.1: encoded per §3.6).
 * `+` stays `+`. Returns undefined for a malformed escape or non-UTF-8 bytes.
 */
export function percentDecodeStrict(value: string): string | undefined {
  return decode(value, { plusIsSpace: false, strict: true });
}

/**
 * Decodes one application/x-www-form-urlencoded name or value (RFC 5849 §3.4.1.3.1): `+` is a
 * space, `%2B` is a plus. Never fails: malformed escapes are kept literally, as URL libraries do.
 */
export function formDecode(value: string): string {
  return decode(value, { plusIsSpace: true, strict: false }) ?? value;
}

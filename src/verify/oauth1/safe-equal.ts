import { timingSafeEqual } from 'node:crypto';

/**
 * Constant-time comparison of a secret-derived `expected` value with what the client sent.
 * timingSafeEqual needs equal lengths; when they differ we still compare `expected` with itself,
 * so the time taken depends only on the length of `expected`, never on where or whether the
 * inputs differ (for PLAINTEXT the expected length is secret-derived).
 */
export function safeEqual(expected: Buffer, actual: Buffer): boolean {
  if (actual.length !== expected.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(expected, actual);
}

/** safeEqual over the UTF-8 bytes of two strings. */
export function safeEqualStrings(expected: string, actual: string): boolean {
  return safeEqual(Buffer.from(expected, 'utf8'), Buffer.from(actual, 'utf8'));
}

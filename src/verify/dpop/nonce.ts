import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DpopNonces } from './request.js';

/**
 * RFC 9449 §9 server nonces without server state: the nonce of a period is an HMAC of the period
 * number under a secret, so every replica sharing the secret issues and accepts the same nonces.
 * The current and the previous period's nonce are accepted, so a nonce handed out just before a
 * rotation still works for one more period (§8.2 lets the server choose the lifetime).
 */
export function createDpopNonces(secret: Buffer, rotationMs: number): DpopNonces {
  const period = (now: number) => Math.floor(now / rotationMs);
  const nonceOf = (n: number) =>
    createHmac('sha256', secret).update(String(n)).digest('base64url').slice(0, 32);
  const matches = (nonce: string, n: number) => {
    const expected = Buffer.from(nonceOf(n));
    const given = Buffer.from(nonce);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  return {
    current: (now) => nonceOf(period(now)),
    isValid: (nonce, now) =>
      nonce !== undefined && (matches(nonce, period(now)) || matches(nonce, period(now) - 1)),
  };
}

import { type SignOAuth1Input, signOAuth1Request } from '../../../src/oauth1-client/sign.js';

/**
 * Credentials every security test uses. The secrets are long, distinctive strings so a scan of
 * logs (or of what an upstream received) finds them unambiguously.
 */
export const CONSUMER = {
  clientId: 'sec-consumer-7f3a',
  clientSecret: 'sec-consumer-secret-Q9wz81Kd',
} as const;
export const TOKEN = {
  token: 'sec-token-5b2e9c',
  tokenSecret: 'sec-token-secret-Lm42xPzT',
  clientId: CONSUMER.clientId,
  userId: 'alice',
  scope: 'photos:read',
} as const;
export const BEARER = {
  accessToken: 'secBearerZ8q1Vx0Rk3TnYw5Pb7',
  clientId: 'bearer-client',
  userId: 'bob',
  scope: 'a photos:read',
} as const;

/** credentials.yaml contents with the records above (bearer: issued now, never expires). */
export function credentialsFile(extraBearer: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    clients: [{ clientId: CONSUMER.clientId, clientSecret: CONSUMER.clientSecret }],
    tokens: [TOKEN],
    bearerTokens: [
      { ...BEARER, revoked: false, issuedAt: Math.floor(Date.now() / 1000), expiresIn: 0 },
      ...extraBearer,
    ],
  };
}

/** `Authorization: OAuth …` for `method url`, signed with CONSUMER + TOKEN and a fresh nonce. */
export function oauth1Authorization(
  method: string,
  url: string,
  extra: Partial<SignOAuth1Input> = {},
): string {
  return signOAuth1Request({
    method,
    url,
    consumerKey: CONSUMER.clientId,
    consumerSecret: CONSUMER.clientSecret,
    token: TOKEN.token,
    tokenSecret: TOKEN.tokenSecret,
    ...extra,
  });
}

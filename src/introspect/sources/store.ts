import type { BearerToken, CredentialStore } from '../../store/types.js';
import type { TokenInfo } from '../../verify/oauth2/token-info.js';
import { INACTIVE } from '../token-info.js';
import type { TokenSource } from '../token-source.js';

/**
 * Bearer tokens from the credential store (file or Redis), shaped like Authlib's OAuth2Token:
 * `revoked` → inactive; `expiresIn` 0 means no expiry (Authlib `is_expired` returns False), else
 * the token expires at issuedAt + expiresIn. A token the store has never heard of is not ours to
 * judge: undefined lets the next source try.
 */
export function bearerTokenInfo(record: BearerToken, nowMs: number): TokenInfo {
  if (record.revoked) return INACTIVE;
  const exp = record.expiresIn > 0 ? record.issuedAt + record.expiresIn : undefined;
  if (exp !== undefined && exp * 1000 <= nowMs) return INACTIVE;
  return {
    active: true,
    clientId: record.clientId,
    user: record.userId,
    scopes: record.scopes,
    exp,
    aud: record.audience,
  };
}

export function createStoreSource(credentials: CredentialStore, now: () => number): TokenSource {
  return {
    name: 'store',
    async lookup(token) {
      const record = await credentials.getBearerToken(token);
      return record === undefined ? undefined : bearerTokenInfo(record, now());
    },
    // The store is owned by whoever created it (it also serves OAuth1); not closed here.
    async close() {},
  };
}

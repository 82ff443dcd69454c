import type { TokenInfo } from '../verify/oauth2/token-info.js';

/** The one answer for "not active": unknown, revoked, expired, forged. */
export const INACTIVE: TokenInfo = Object.freeze({ active: false, scopes: Object.freeze([]) });

/**
 * Tokens cached by the thousand mostly share a handful of client ids; each JSON answer would
 * otherwise bring its own copy. Bounded so a hostile authorization server cannot grow it without
 * limit. (Scope lists are interned the same way by parseScope in verify/scope.ts.)
 */
const INTERN_LIMIT = 10_000;
const clientIds = new Map<string, string>();

/** The one shared copy of a client id. */
export function internClientId(clientId: string | undefined): string | undefined {
  if (clientId === undefined) return undefined;
  const known = clientIds.get(clientId);
  if (known !== undefined) return known;
  if (clientIds.size < INTERN_LIMIT) clientIds.set(clientId, clientId);
  return clientId;
}

/**
 * The user behind a token, from `sub` (preferred) or `username`. RFC 9068 §2.2: for grants with no
 * resource owner (client_credentials) `sub` SHOULD identify the client, and oidc-provider sets
 * `sub` = client_id there; such a token has no user, so no user header is sent upstream.
 */
export function userFromClaims(
  sub: string | undefined,
  username: string | undefined,
  clientId: string | undefined,
): string | undefined {
  if (sub !== undefined && sub !== '' && sub !== clientId) return sub;
  if (username !== undefined && username !== '') return username;
  return undefined;
}

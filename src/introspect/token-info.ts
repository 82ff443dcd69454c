import type { TokenInfo } from '../verify/oauth2/token-info.js';

/** The one answer for "not active": unknown, revoked, expired, forged. */
export const INACTIVE: TokenInfo = Object.freeze({ active: false, scopes: Object.freeze([]) });

const NO_SCOPES: readonly string[] = Object.freeze([]);

/**
 * Tokens cached by the thousand mostly share a handful of scope strings and client ids; each JSON
 * answer would otherwise bring its own copies (~150 of the ~600 bytes a cached token took).
 * Bounded so a hostile authorization server cannot grow them without limit.
 */
const INTERN_LIMIT = 10_000;
const scopeLists = new Map<string, readonly string[]>();
const clientIds = new Map<string, string>();

/** RFC 6749 §3.3: scope is a space-delimited list; empty entries are not scopes. Shared, frozen. */
export function parseScope(scope: string | null | undefined): readonly string[] {
  if (scope === undefined || scope === null || scope === '') return NO_SCOPES;
  let list = scopeLists.get(scope);
  if (list === undefined) {
    list = Object.freeze(scope.split(' ').filter((entry) => entry !== ''));
    if (scopeLists.size < INTERN_LIMIT) scopeLists.set(scope, list);
  }
  return list;
}

/** The one shared copy of a client id (see parseScope). */
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

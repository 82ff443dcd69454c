import { InvalidToken } from '../../errors.js';
import type { Identity } from '../identity.js';
import { requireScopes } from '../scope.js';
import type { TokenInfo } from './token-info.js';

/** What one route demands of a bearer token. */
export interface TokenRequirement {
  /** All required (RFC 6750 §3.1 insufficient_scope otherwise). */
  readonly scopes: readonly string[];
  /** At least one required, when set (route `anyScopes`; see verify/scope.ts). */
  readonly anyScopes?: readonly string[] | undefined;
  /** RFC 8707/9068: the audience the token must have been issued for, if the route names one. */
  readonly audience?: string | undefined;
}

/**
 * Judges resolved token facts against one route's requirement, at `nowMs`. Runs after the cache on
 * every request, which is what keeps cached facts from leaking decisions across routes.
 *
 * Order: activity and time (401) → audience (401) → scope (403). A token for another resource
 * server is not "valid but under-scoped": RFC 9068 §4 says reject it as invalid_token.
 */
export function checkTokenInfo(info: TokenInfo, requirement: TokenRequirement, nowMs: number): Identity {
  if (!info.active) throw new InvalidToken('oauth2');
  // RFC 7662 §2.2: exp/nbf are unix seconds. An expired token is never served, even from cache.
  if (info.exp !== undefined && info.exp * 1000 <= nowMs) throw new InvalidToken('oauth2');
  if (info.nbf !== undefined && info.nbf * 1000 > nowMs) throw new InvalidToken('oauth2');

  const { audience } = requirement;
  if (audience !== undefined && !(info.aud?.includes(audience) ?? false)) {
    throw new InvalidToken('oauth2');
  }

  requireScopes('oauth2', info.scopes, requirement.scopes, requirement.anyScopes);

  return {
    method: 'oauth2',
    // RFC 7662 makes client_id optional; an AS that omits it yields an empty client id.
    clientId: info.clientId ?? '',
    ...(info.user === undefined ? {} : { user: info.user }),
    scopes: info.scopes,
  };
}

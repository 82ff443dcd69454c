import { type ChallengeScheme, InsufficientScope } from '../errors.js';

/**
 * The one scope rule for both schemes: a route's `scopes` are all required (DESIGN). OAuth1 token
 * credentials and OAuth2 tokens are judged alike, per route and per request, after any cache.
 * Throws InsufficientScope (403, RFC 6750 §3.1) naming the whole requirement.
 */
export function requireScopes(
  scheme: ChallengeScheme,
  granted: readonly string[],
  required: readonly string[],
): void {
  for (const scope of required) {
    if (!granted.includes(scope)) throw new InsufficientScope(scheme, required.join(' '));
  }
}

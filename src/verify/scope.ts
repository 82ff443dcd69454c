import { type ChallengeScheme, InsufficientScope } from '../errors.js';

/**
 * The one scope rule for both schemes, judged per route and per request, after any cache:
 * - `scopes`: every one required (Authlib `@require_oauth('a b')`, one space-separated string);
 * - `anyScopes`: at least one required (Authlib `@require_oauth(['a', 'b'])`, a list);
 * - both set: every one of `scopes` AND at least one of `anyScopes`.
 * OAuth1 token credentials and OAuth2 tokens are judged alike.
 *
 * A failure is InsufficientScope (403, RFC 6750 §3.1). Its `scope` attribute names every scope of
 * both lists: RFC 6750 §3 has no "one of" syntax, and a token granted all of them passes, so it
 * is the safe thing for a client to ask its authorization server for.
 */
export function requireScopes(
  scheme: ChallengeScheme,
  granted: readonly string[],
  required: readonly string[],
  anyOf?: readonly string[] | undefined,
): void {
  for (const scope of required) {
    if (!granted.includes(scope)) throw insufficient(scheme, required, anyOf);
  }
  if (anyOf !== undefined && !anyOf.some((scope) => granted.includes(scope))) {
    throw insufficient(scheme, required, anyOf);
  }
}

function insufficient(
  scheme: ChallengeScheme,
  required: readonly string[],
  anyOf: readonly string[] | undefined,
): InsufficientScope {
  const named = anyOf === undefined ? required : [...new Set([...required, ...anyOf])];
  return new InsufficientScope(scheme, named.join(' '));
}

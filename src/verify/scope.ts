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

const NO_SCOPES: readonly string[] = Object.freeze([]);

/**
 * Tokens cached by the thousand mostly share a handful of scope strings; each answer would
 * otherwise bring its own copy of the list. Bounded so a hostile authorization server cannot grow
 * the table without limit.
 */
const INTERN_LIMIT = 10_000;
const scopeLists = new Map<string, readonly string[]>();

/**
 * The one scope-string parser (credential records, introspection answers, JWT `scope` claims).
 * RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`, so only SP (0x20) separates tokens;
 * empty entries from repeated or edge spaces are dropped. A tab is not a separator: `a<TAB>b` is a
 * single token, and since a scope-token cannot contain a tab (and route `scopes` are validated as
 * scope-tokens) it can never satisfy a route's requirement: such a grant fails closed. Returns one
 * shared, frozen list per distinct string.
 */
export function parseScope(scope: string | null | undefined): readonly string[] {
  if (scope === undefined || scope === null || scope === '') return NO_SCOPES;
  let list = scopeLists.get(scope);
  if (list === undefined) {
    list = Object.freeze(scope.split(' ').filter((entry) => entry !== ''));
    if (scopeLists.size < INTERN_LIMIT) scopeLists.set(scope, list);
  }
  return list;
}

import type { GatewayFileConfig } from '../config/schema.js';
import { CredentialsMissing, InvalidRequest, InvalidToken } from '../errors.js';
import type { TokenResolver } from '../introspect/resolver.js';
import type { CredentialStore, NonceStore } from '../store/types.js';
import {
  type DpopBindingContext,
  type DpopMode,
  extractDpopToken,
  isDpopAuthorization,
  refuseBoundBearer,
  verifyDpopRequest,
} from '../verify/dpop/request.js';
import { withOAuth1Body } from '../verify/oauth1/params.js';
import {
  carriesOAuth1,
  detectOAuth1,
  type OAuth1Detection,
  type OAuth1Policy,
  verifyOAuth1Carried,
} from '../verify/oauth1/verify.js';
import {
  type BearerCarried,
  bearerToken,
  carriesBearer,
  detectBearer,
  withBearerBody,
} from '../verify/oauth2/bearer.js';
import { checkTokenInfo } from '../verify/oauth2/token-check.js';
import { requireScopes } from '../verify/scope.js';
import type { SchemeVerifier } from './authenticate.js';
import type { CompiledRoute } from './router.js';

/**
 * Adapters from the pure verifiers (src/verify/) to the proxy's SchemeVerifier seam, closed over
 * the tables built at config load (policy sets, stores, clock).
 */

export interface OAuth1SchemeDeps {
  readonly credentials: CredentialStore;
  readonly nonces: NonceStore;
  readonly now: () => number;
}

export function createOAuth1Scheme(
  config: GatewayFileConfig,
  deps: OAuth1SchemeDeps,
): SchemeVerifier<OAuth1Detection> {
  const policy: OAuth1Policy = {
    realm: config.oauth1.realm,
    signatureMethods: new Set(config.oauth1.signatureMethods),
    timestampWindowMs: config.oauth1.timestampWindow,
    bodyHash: config.oauth1.bodyHash,
  };
  const context = { policy, now: deps.now, credentials: deps.credentials, nonces: deps.nonces };
  return {
    detect: (facts) => detectOAuth1(facts, policy),
    bodyNeeded: (detected) => detected.bodyNeeded,
    withBody: (detected, body) => ({ ...detected, carried: withOAuth1Body(detected.carried, body) }),
    present: (detected) => carriesOAuth1(detected.carried),
    verify: async (facts, detected, route) => {
      const identity = await verifyOAuth1Carried(facts, detected.carried, context);
      requireScopes('oauth1', identity.scopes, route.config.scopes, route.config.anyScopes);
      return identity;
    },
  };
}

export interface OAuth2SchemeDeps {
  readonly resolver: TokenResolver;
  readonly now: () => number;
  /** DPoP proof checking, when any route speaks DPoP. */
  readonly dpop?: DpopBindingContext | undefined;
  /** The route's DPoP mode (its own `dpop`, else oauth2.dpop.mode). */
  readonly dpopMode: (route: CompiledRoute) => DpopMode;
}

/** What an OAuth 2.0 request carries: bearer credentials, or `Authorization: DPoP` (RFC 9449 §7.1). */
export interface OAuth2Carried {
  readonly bearer: BearerCarried;
  readonly dpop: boolean;
}

/**
 * The resolver caches facts about a token (TokenInfo); scopes and audience are judged here per
 * route on every request, so a cached answer for one route never satisfies another's requirement.
 */
export function createOAuth2Scheme(
  config: GatewayFileConfig,
  deps: OAuth2SchemeDeps,
): SchemeVerifier<OAuth2Carried> {
  const options = {
    allowQueryToken: config.oauth2.allowQueryToken,
    allowFormToken: config.oauth2.allowFormToken,
  };
  const dpop = deps.dpop;
  return {
    detect: (facts) => ({
      bearer: detectBearer(facts, options),
      dpop: dpop !== undefined && isDpopAuthorization(facts.authorization),
    }),
    bodyNeeded: (carried) => carried.bearer.bodyNeeded,
    withBody: (carried, body) => ({ ...carried, bearer: withBearerBody(carried.bearer, body) }),
    present: (carried) => carried.dpop || carriesBearer(carried.bearer),
    verify: async (facts, carried, route) => {
      const requirement = {
        scopes: route.config.scopes,
        anyScopes: route.config.anyScopes,
        audience: route.config.audience,
      };
      const mode = deps.dpopMode(route);
      if (carried.dpop && dpop !== undefined && mode !== 'off') {
        // RFC 6750 §3.1 / RFC 9449 §7.1: one token, by one method.
        if (carriesBearer(carried.bearer))
          throw new InvalidRequest('oauth2', 'The access token must be sent by exactly one method, once');
        const token = extractDpopToken(facts.authorization!);
        const info = await deps.resolver.resolve(token);
        const jkt = await verifyDpopRequest(facts, facts.dpop, token, info, dpop);
        return { ...checkTokenInfo(info, requirement, deps.now()), jkt };
      }
      const token = bearerToken(carried.bearer);
      if (token === undefined) throw new CredentialsMissing(['oauth2']);
      // RFC 9449 §7.1: a route that requires DPoP answers a Bearer token with the DPoP challenge.
      if (mode === 'require') throw new InvalidToken('dpop', 'This resource requires a DPoP-bound token');
      const info = await deps.resolver.resolve(token);
      // §7.2: a bound token is refused as Bearer, whatever the route's mode (it was stolen or misused).
      if (info.active) refuseBoundBearer(info);
      return checkTokenInfo(info, requirement, deps.now());
    },
  };
}

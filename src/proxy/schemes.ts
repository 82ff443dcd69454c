import type { GatewayFileConfig } from '../config/schema.js';
import { CredentialsMissing } from '../errors.js';
import type { TokenResolver } from '../introspect/resolver.js';
import type { CredentialStore, NonceStore } from '../store/types.js';
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
      requireScopes('oauth1', identity.scopes, route.config.scopes);
      return identity;
    },
  };
}

export interface OAuth2SchemeDeps {
  readonly resolver: TokenResolver;
  readonly now: () => number;
}

/**
 * The resolver caches facts about a token (TokenInfo); scopes and audience are judged here per
 * route on every request, so a cached answer for one route never satisfies another's requirement.
 */
export function createOAuth2Scheme(
  config: GatewayFileConfig,
  deps: OAuth2SchemeDeps,
): SchemeVerifier<BearerCarried> {
  const options = {
    allowQueryToken: config.oauth2.allowQueryToken,
    allowFormToken: config.oauth2.allowFormToken,
  };
  return {
    detect: (facts) => detectBearer(facts, options),
    bodyNeeded: (carried) => carried.bodyNeeded,
    withBody: withBearerBody,
    present: carriesBearer,
    verify: async (_facts, carried, route) => {
      const token = bearerToken(carried);
      if (token === undefined) throw new CredentialsMissing(['oauth2']);
      const info = await deps.resolver.resolve(token);
      return checkTokenInfo(
        info,
        { scopes: route.config.scopes, audience: route.config.audience },
        deps.now(),
      );
    },
  };
}

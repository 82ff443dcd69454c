import type { GatewayFileConfig } from '../config/schema.js';
import { CredentialsMissing } from '../errors.js';
import type { TokenResolver } from '../introspect/resolver.js';
import type { CredentialStore, NonceStore } from '../store/types.js';
import {
  hasOAuth1Credentials,
  type OAuth1Policy,
  oauth1BodyNeeded,
  verifyOAuth1Request,
} from '../verify/oauth1/index.js';
import { bearerBodyNeeded, extractBearerToken, hasBearerCredentials } from '../verify/oauth2/bearer.js';
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

export function createOAuth1Scheme(config: GatewayFileConfig, deps: OAuth1SchemeDeps): SchemeVerifier {
  const policy: OAuth1Policy = {
    realm: config.oauth1.realm,
    signatureMethods: new Set(config.oauth1.signatureMethods),
    timestampWindowMs: config.oauth1.timestampWindow,
    bodyHash: config.oauth1.bodyHash,
  };
  const context = { policy, now: deps.now, credentials: deps.credentials, nonces: deps.nonces };
  return {
    present: (facts) => hasOAuth1Credentials(facts),
    bodyNeeded: (facts) => oauth1BodyNeeded(facts, policy),
    verify: async (facts, route) => {
      const identity = await verifyOAuth1Request(facts, context);
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
export function createOAuth2Scheme(config: GatewayFileConfig, deps: OAuth2SchemeDeps): SchemeVerifier {
  const options = {
    allowQueryToken: config.oauth2.allowQueryToken,
    allowFormToken: config.oauth2.allowFormToken,
  };
  return {
    present: (facts) => hasBearerCredentials(facts, options),
    bodyNeeded: (facts) => bearerBodyNeeded(facts, options),
    verify: async (facts, route) => {
      const token = extractBearerToken(facts, options);
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

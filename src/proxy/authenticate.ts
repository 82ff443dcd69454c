import type { AuthMode } from '../config/schema.js';
import { type ChallengeScheme, CredentialsMissing } from '../errors.js';
import type { Identity } from '../verify/identity.js';
import type { RequestFacts } from '../verify/request-facts.js';
import type { CompiledRoute } from './router.js';

/**
 * Route `auth` mode → which scheme judges the request. Returns the Identity to inject, or throws a
 * GatewayError (turned into a response by respond.ts only).
 */

export interface SchemeVerifier {
  /** Cheap check: does the request carry this scheme's credentials at all? */
  present(facts: RequestFacts): boolean;
  /** Must the proxy read the body before verify()? */
  bodyNeeded(facts: RequestFacts): boolean;
  verify(facts: RequestFacts, route: CompiledRoute): Promise<Identity>;
}

export interface Authenticator {
  bodyNeeded(route: CompiledRoute, facts: RequestFacts): boolean;
  authenticate(route: CompiledRoute, facts: RequestFacts): Promise<Identity | undefined>;
}

const CHALLENGES: Record<Exclude<AuthMode, 'none'>, readonly ChallengeScheme[]> = {
  oauth1: ['oauth1'],
  oauth2: ['oauth2'],
  any: ['oauth1', 'oauth2'],
};

export function createAuthenticator(verifiers: {
  oauth1: SchemeVerifier;
  oauth2: SchemeVerifier;
}): Authenticator {
  const { oauth1, oauth2 } = verifiers;
  return {
    bodyNeeded(route, facts) {
      switch (route.config.auth) {
        case 'none':
          return false;
        case 'oauth1':
          return oauth1.bodyNeeded(facts);
        case 'oauth2':
          return oauth2.bodyNeeded(facts);
        case 'any':
          return oauth1.bodyNeeded(facts) || oauth2.bodyNeeded(facts);
      }
    },
    async authenticate(route, facts) {
      const mode = route.config.auth;
      if (mode === 'none') return undefined;
      if ((mode === 'oauth1' || mode === 'any') && oauth1.present(facts)) return oauth1.verify(facts, route);
      if ((mode === 'oauth2' || mode === 'any') && oauth2.present(facts)) return oauth2.verify(facts, route);
      throw new CredentialsMissing(CHALLENGES[mode]);
    },
  };
}

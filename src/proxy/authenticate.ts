import type { AuthMode } from '../config/schema.js';
import { type ChallengeScheme, CredentialsMissing } from '../errors.js';
import type { Identity } from '../verify/identity.js';
import type { RequestFacts } from '../verify/request-facts.js';
import type { CompiledRoute } from './router.js';

/**
 * Route `auth` mode → which scheme judges the request. Credentials are detected once per request:
 * `detect` parses what the request carries (before the body is read) and says whether the body is
 * needed; `authenticate` completes that parse with the body, picks the scheme and verifies it.
 * Returns the Identity to inject, or throws a GatewayError (turned into a response by respond.ts
 * only).
 */

/** One scheme's view of a request; `C` is what its detection parsed (header, query, body params). */
export interface SchemeVerifier<C> {
  /** Parses, once, what the request carries for this scheme. Never throws. */
  detect(facts: RequestFacts): C;
  /** Must the proxy read the body before verify()? */
  bodyNeeded(carried: C): boolean;
  /** The detection completed with the body the proxy read. */
  withBody(carried: C, body: Buffer): C;
  /** Does the request carry this scheme's credentials at all? */
  present(carried: C): boolean;
  verify(facts: RequestFacts, carried: C, route: CompiledRoute): Promise<Identity>;
}

/** What a request carries, as detected for its route; read by the listener for the body decision. */
export interface Detection {
  readonly bodyNeeded: boolean;
}

export interface Authenticator {
  detect(route: CompiledRoute, facts: RequestFacts): Detection;
  /** `facts.body` is the body the listener read because `detection.bodyNeeded` (else undefined). */
  authenticate(
    route: CompiledRoute,
    facts: RequestFacts,
    detection: Detection,
  ): Promise<Identity | undefined>;
}

const CHALLENGES: Record<Exclude<AuthMode, 'none'>, readonly ChallengeScheme[]> = {
  oauth1: ['oauth1'],
  oauth2: ['oauth2'],
  any: ['oauth1', 'oauth2'],
};

interface Detected<C1, C2> extends Detection {
  readonly oauth1: C1 | undefined;
  readonly oauth2: C2 | undefined;
}

const NOTHING: Detected<never, never> = Object.freeze({
  bodyNeeded: false,
  oauth1: undefined,
  oauth2: undefined,
});

/**
 * RFC 9449 §7.1: a route where DPoP is allowed offers both the Bearer and the DPoP challenge; one
 * that requires it offers only DPoP.
 */
export function challengesFor(
  mode: Exclude<AuthMode, 'none'>,
  dpop: 'off' | 'allow' | 'require',
): readonly ChallengeScheme[] {
  if (dpop === 'off' || mode === 'oauth1') return CHALLENGES[mode];
  const oauth2: readonly ChallengeScheme[] = dpop === 'allow' ? ['oauth2', 'dpop'] : ['dpop'];
  return mode === 'any' ? ['oauth1', ...oauth2] : oauth2;
}

export function createAuthenticator<C1, C2>(verifiers: {
  oauth1: SchemeVerifier<C1>;
  oauth2: SchemeVerifier<C2>;
  /** The challenges a route without credentials answers with (default: by its auth mode). */
  challenges?: (route: CompiledRoute) => readonly ChallengeScheme[];
}): Authenticator {
  const { oauth1, oauth2 } = verifiers;
  const challenges =
    verifiers.challenges ??
    ((route: CompiledRoute) => CHALLENGES[route.config.auth as Exclude<AuthMode, 'none'>]);
  return {
    detect(route, facts): Detected<C1, C2> {
      const mode = route.config.auth;
      if (mode === 'none') return NOTHING;
      const one = mode === 'oauth2' ? undefined : oauth1.detect(facts);
      const two = mode === 'oauth1' ? undefined : oauth2.detect(facts);
      return {
        bodyNeeded:
          (one !== undefined && oauth1.bodyNeeded(one)) || (two !== undefined && oauth2.bodyNeeded(two)),
        oauth1: one,
        oauth2: two,
      };
    },
    async authenticate(route, facts, detection) {
      const mode = route.config.auth;
      if (mode === 'none') return undefined;
      const detected = detection as Detected<C1, C2>;
      const { body } = facts;
      let one = detected.oauth1;
      if (one !== undefined) {
        if (body !== undefined) one = oauth1.withBody(one, body);
        if (oauth1.present(one)) return oauth1.verify(facts, one, route);
      }
      let two = detected.oauth2;
      if (two !== undefined) {
        if (body !== undefined) two = oauth2.withBody(two, body);
        if (oauth2.present(two)) return oauth2.verify(facts, two, route);
      }
      throw new CredentialsMissing(challenges(route));
    },
  };
}

import { generateKeyPairSync } from 'node:crypto';
import {
  formatAuthorizationHeader,
  type SignOAuth1Input,
  signOAuth1Params,
  splitUrl,
} from '../../../src/oauth1-client/sign.js';
import { MemoryNonceStore } from '../../../src/store/memory.js';
import type { NonceStore } from '../../../src/store/types.js';
import type { Param } from '../../../src/verify/oauth1/params.js';
import type { OAuth1Policy, OAuth1VerifyContext } from '../../../src/verify/oauth1/verify.js';
import type { RequestFacts } from '../../../src/verify/request-facts.js';
import { policy, TestCredentials } from './support.js';

/** A small world of clients and tokens for verifier tests, with the clock fixed at NOW. */

export const NOW_MS = 1_700_000_000_000;
export const NOW_S = NOW_MS / 1000;

export const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

export const CLIENT = { clientId: 'client-1', clientSecret: 'secret-1 &+é', rsaPublicKey: rsa.publicKey };
export const OTHER_CLIENT = { clientId: 'client-2', clientSecret: 'secret-2', rsaPublicKey: undefined };
export const TOKEN = {
  token: 'token-1',
  tokenSecret: 'token-secret-1',
  clientId: 'client-1',
  userId: 'alice',
  scopes: ['photos:read', 'photos:write'],
};
export const OTHER_TOKEN = {
  token: 'token-2',
  tokenSecret: 'token-secret-2',
  clientId: 'client-2',
  userId: 'bob',
  scopes: [],
};

export function credentials(): TestCredentials {
  return new TestCredentials()
    .addClient(CLIENT)
    .addClient(OTHER_CLIENT)
    .addToken(TOKEN)
    .addToken(OTHER_TOKEN);
}

export function context(
  overrides: {
    policy?: Partial<OAuth1Policy>;
    now?: number;
    nonces?: NonceStore;
    credentials?: TestCredentials;
  } = {},
): OAuth1VerifyContext {
  return {
    policy: policy(overrides.policy),
    now: () => overrides.now ?? NOW_MS,
    credentials: overrides.credentials ?? credentials(),
    nonces: overrides.nonces ?? new MemoryNonceStore({ maxEntries: 1000 }),
  };
}

let nonceCounter = 0;

export interface RequestSpec extends Partial<SignOAuth1Input> {
  /** Where the protocol parameters go. */
  readonly placement?: 'header' | 'query' | 'body';
}

/** Signs with client-1/token-1 by default and returns what the verifier would be given. */
export function signedRequest(spec: RequestSpec = {}): { facts: RequestFacts; params: Param[] } {
  const input: SignOAuth1Input = {
    method: 'GET',
    url: 'https://api.example.com/photos?size=large',
    consumerKey: CLIENT.clientId,
    consumerSecret: CLIENT.clientSecret,
    token: TOKEN.token,
    tokenSecret: TOKEN.tokenSecret,
    timestamp: NOW_S,
    nonce: `nonce-${++nonceCounter}`,
    ...spec,
  };
  const params = signOAuth1Params(input);
  return { facts: toFacts(input, params, spec.placement ?? 'header'), params };
}

export function formEncode(params: readonly Param[]): string {
  // §3.6 encoding is a valid form encoding too (a space becomes %20, never a bare +).
  return params.map(([n, v]) => `${encodeRfc3986(n)}=${encodeRfc3986(v)}`).join('&');
}

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Builds RequestFacts for a signed request with the protocol parameters in `placement`. */
export function toFacts(
  input: SignOAuth1Input,
  params: readonly Param[],
  placement: 'header' | 'query' | 'body',
): RequestFacts {
  const { scheme, host, target } = splitUrl(input.url);
  if (scheme !== 'http' && scheme !== 'https') throw new Error('test URLs are http(s)');
  const body = input.body === undefined ? undefined : Buffer.from(input.body);
  const facts: RequestFacts = {
    method: input.method,
    scheme,
    host,
    target,
    authorization: undefined,
    contentType: input.contentType,
    body,
  };
  switch (placement) {
    case 'header':
      return { ...facts, authorization: formatAuthorizationHeader(params, input.realm) };
    case 'query':
      return { ...facts, target: `${target}${target.includes('?') ? '&' : '?'}${formEncode(params)}` };
    case 'body': {
      const existing = body === undefined || body.length === 0 ? '' : `${body.toString('utf8')}&`;
      return { ...facts, body: Buffer.from(`${existing}${formEncode(params)}`) };
    }
  }
}

/** Re-formats a header from (possibly edited) params. */
export function withHeaderParams(
  facts: RequestFacts,
  params: readonly Param[],
  realm?: string,
): RequestFacts {
  return { ...facts, authorization: formatAuthorizationHeader(params, realm) };
}

export function setParam(params: readonly Param[], name: string, value: string | undefined): Param[] {
  const out = params.filter(([n]) => n !== name);
  if (value !== undefined) out.splice(out.length - 1, 0, [name, value]);
  return out;
}

import { describe, expect, it } from 'vitest';
import { type GatewayError, InsufficientScope, InvalidToken } from '../../../src/errors.js';
import { checkTokenInfo } from '../../../src/verify/oauth2/token-check.js';
import type { TokenInfo } from '../../../src/verify/oauth2/token-info.js';

const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;

const active: TokenInfo = {
  active: true,
  clientId: 'demo-client',
  user: 'alice',
  scopes: ['photos:read', 'photos:write'],
  exp: NOW_S + 60,
  aud: ['https://api.example.com'],
};

function failure(info: TokenInfo, requirement: Parameters<typeof checkTokenInfo>[1]): GatewayError {
  try {
    checkTokenInfo(info, requirement, NOW_MS);
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('expected checkTokenInfo to throw');
}

describe('checkTokenInfo', () => {
  it('active token with the scopes → identity with user, client and the token scopes', () => {
    expect(checkTokenInfo(active, { scopes: ['photos:read'] }, NOW_MS)).toEqual({
      method: 'oauth2',
      clientId: 'demo-client',
      user: 'alice',
      scopes: ['photos:read', 'photos:write'],
    });
  });

  it('client_credentials token (no user) → identity without a user key', () => {
    const identity = checkTokenInfo({ ...active, user: undefined }, { scopes: [] }, NOW_MS);
    expect('user' in identity).toBe(false);
  });

  it.each([
    ['inactive', { active: false, scopes: [] }],
    ['exp = now (RFC 7662: expired at exp)', { ...active, exp: NOW_S }],
    ['exp in the past', { ...active, exp: NOW_S - 1 }],
    ['nbf in the future', { ...active, nbf: NOW_S + 1 }],
  ] as const)('%s → 401 invalid_token', (_name, info) => {
    const error = failure(info as TokenInfo, { scopes: [] });
    expect(error).toBeInstanceOf(InvalidToken);
    expect(error.status).toBe(401);
    expect(error.challenges).toEqual(['oauth2']);
  });

  it('nbf reached → fine', () => {
    expect(checkTokenInfo({ ...active, nbf: NOW_S }, { scopes: [] }, NOW_MS).clientId).toBe('demo-client');
  });

  it.each([
    ['different audience', ['https://other.example.com']],
    ['no audience at all', undefined],
  ])('route audience required, token has %s → 401 invalid_token (RFC 9068 §4)', (_name, aud) => {
    const error = failure({ ...active, aud }, { scopes: [], audience: 'https://api.example.com' });
    expect(error).toBeInstanceOf(InvalidToken);
  });

  it('audience among several → fine', () => {
    const info = { ...active, aud: ['https://a.example', 'https://api.example.com'] };
    expect(() =>
      checkTokenInfo(info, { scopes: [], audience: 'https://api.example.com' }, NOW_MS),
    ).not.toThrow();
  });

  it('missing one required scope → 403 insufficient_scope naming all the required scopes', () => {
    const error = failure(active, { scopes: ['photos:read', 'photos:delete'] });
    expect(error).toBeInstanceOf(InsufficientScope);
    expect(error.status).toBe(403);
    expect(error.scope).toBe('photos:read photos:delete');
  });

  it('scope matching is exact, not by prefix or substring', () => {
    expect(failure({ ...active, scopes: ['photos:readwrite'] }, { scopes: ['photos:read'] })).toBeInstanceOf(
      InsufficientScope,
    );
    expect(failure({ ...active, scopes: ['photos'] }, { scopes: ['photos:read'] })).toBeInstanceOf(
      InsufficientScope,
    );
  });

  it('judges expiry before scope: an expired under-scoped token is 401, not 403', () => {
    expect(failure({ ...active, exp: NOW_S - 1 }, { scopes: ['admin'] })).toBeInstanceOf(InvalidToken);
  });

  it('judges audience before scope: wrong audience is 401 even with missing scopes', () => {
    const error = failure(active, { scopes: ['admin'], audience: 'https://other.example.com' });
    expect(error).toBeInstanceOf(InvalidToken);
  });
});

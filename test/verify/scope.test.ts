import { describe, expect, it } from 'vitest';
import { type GatewayError, InsufficientScope } from '../../src/errors.js';
import { parseScope, requireScopes } from '../../src/verify/scope.js';

/**
 * Route scope rules (issue 14): `scopes` = all of (Authlib `'a b'`), `anyScopes` = one of (Authlib
 * `['a', 'b']`), both = all of `scopes` AND one of `anyScopes`. The 403 names both lists.
 */

function judge(granted: string[], all: string[], any?: string[]): string {
  try {
    requireScopes('oauth2', granted, all, any);
    return 'pass';
  } catch (error) {
    expect(error).toBeInstanceOf(InsufficientScope);
    return `403 scope="${(error as GatewayError).scope}"`;
  }
}

describe('requireScopes', () => {
  it.each([
    // scopes only: every one required (a literal translation of Authlib's list would get this wrong)
    [['photos:read', 'admin'], ['photos:read', 'admin'], undefined, 'pass'],
    [['photos:read'], ['photos:read', 'admin'], undefined, '403 scope="photos:read admin"'],
    [[], [], undefined, 'pass'],
    // anyScopes only: one is enough, none is not
    [['photos:read'], [], ['photos:read', 'admin'], 'pass'],
    [['admin'], [], ['photos:read', 'admin'], 'pass'],
    [['photos:write'], [], ['photos:read', 'admin'], '403 scope="photos:read admin"'],
    [[], [], ['photos:read'], '403 scope="photos:read"'],
    // both: all of scopes AND one of anyScopes
    [['profile', 'photos:read'], ['profile'], ['photos:read', 'admin'], 'pass'],
    [['profile'], ['profile'], ['photos:read', 'admin'], '403 scope="profile photos:read admin"'],
    [['admin'], ['profile'], ['photos:read', 'admin'], '403 scope="profile photos:read admin"'],
    // a tab does not separate granted scopes (parseScope): "read<TAB>write" grants neither
    [['read\twrite'], ['read'], undefined, '403 scope="read"'],
  ])('granted %j, scopes %j, anyScopes %j → %s', (granted, all, any, expected) => {
    expect(judge(granted, all, any)).toBe(expected);
  });

  it('scope names are compared exactly (case-sensitive, no prefix match; RFC 6749 §3.3)', () => {
    expect(judge(['Photos:read', 'photos:readwrite'], [], ['photos:read'])).toBe('403 scope="photos:read"');
  });
});

describe('parseScope (RFC 6749 §3.3: scope-tokens separated by SP)', () => {
  it.each([
    [undefined, []],
    [null, []],
    ['', []],
    ['read', ['read']],
    ['read  write ', ['read', 'write']],
    [' photos:read photos:write', ['photos:read', 'photos:write']],
    // A tab is not a separator: one token, which no route scope (a valid scope-token) can equal.
    ['read\twrite', ['read\twrite']],
    ['read\t write', ['read\t', 'write']],
  ])('%j → %j', (scope, expected) => {
    expect(parseScope(scope)).toEqual(expected);
  });

  it('returns one shared, frozen list per scope string (cached tokens do not each carry a copy)', () => {
    const first = parseScope('photos:read photos:write');
    const second = parseScope(`photos:read ${'photos:write'}`);
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => (first as string[]).push('admin')).toThrow(TypeError);
  });
});

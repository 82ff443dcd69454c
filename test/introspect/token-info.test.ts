import { describe, expect, it } from 'vitest';
import { internClientId, parseScope } from '../../src/introspect/token-info.js';

describe('parseScope', () => {
  it.each([
    [undefined, []],
    [null, []],
    ['', []],
    ['read', ['read']],
    ['read  write ', ['read', 'write']],
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

describe('internClientId', () => {
  it('returns the first copy of equal client ids', () => {
    const a = internClientId(['client', 'x'].join('-'));
    const b = internClientId(['client', 'x'].join('-'));
    expect(a).toBe('client-x');
    expect(b).toBe(a);
    expect(internClientId(undefined)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import {
  MalformedIntrospectionResponse,
  parseIntrospectionResponse,
} from '../../../src/introspect/sources/introspection-response.js';
import { jwtClaimsToTokenInfo } from '../../../src/introspect/sources/jwt.js';
import { reviveTokenInfo } from '../../../src/introspect/token-info-codec.js';

/** RFC 9449 §6: the key a DPoP-bound token is bound to (`cnf.jkt`), from every token source. */
describe('cnf.jkt', () => {
  const jkt = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I';

  it('introspection: cnf.jkt is kept; a token without cnf is unbound; other cnf members are ignored', () => {
    expect(parseIntrospectionResponse({ active: true, cnf: { jkt } }).jkt).toBe(jkt);
    expect(parseIntrospectionResponse({ active: true }).jkt).toBeUndefined();
    expect(parseIntrospectionResponse({ active: true, cnf: { 'x5t#S256': 'abc' } }).jkt).toBeUndefined();
  });

  it('introspection: a cnf that cannot be read with certainty is a malformed answer (fail closed)', () => {
    for (const cnf of ['jkt', [jkt], { jkt: 42 }, { jkt: '' }]) {
      expect(() => parseIntrospectionResponse({ active: true, cnf })).toThrow(MalformedIntrospectionResponse);
    }
  });

  it('JWT access tokens: cnf.jkt from the claims', () => {
    expect(jwtClaimsToTokenInfo({ sub: 'u', cnf: { jkt } }).jkt).toBe(jkt);
    expect(jwtClaimsToTokenInfo({ sub: 'u' }).jkt).toBeUndefined();
  });

  it('the shared cache keeps the binding, and a malformed binding is a miss', () => {
    expect(reviveTokenInfo({ active: true, scopes: [], jkt })?.jkt).toBe(jkt);
    expect(reviveTokenInfo({ active: true, scopes: [], jkt: 7 })).toBeUndefined();
  });
});

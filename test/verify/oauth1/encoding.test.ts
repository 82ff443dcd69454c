import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formDecode, percentDecodeStrict, percentEncode } from '../../../src/verify/oauth1/encoding.js';

describe('percentEncode (RFC 5849 §3.6)', () => {
  it('escapes everything but unreserved, upper-case hex, UTF-8', () => {
    expect(percentEncode('AZaz09-._~!*\'() /?#[]@&=+$,;:%"')).toBe(
      'AZaz09-._~%21%2A%27%28%29%20%2F%3F%23%5B%5D%40%26%3D%2B%24%2C%3B%3A%25%22',
    );
    expect(percentEncode('\u0000\u007f\u0080\u07ff\uffff')).toBe('%00%7F%C2%80%DF%BF%EF%BF%BF');
  });

  it('round-trips any string through the strict decoder', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (value) => {
        expect(percentDecodeStrict(percentEncode(value))).toBe(value);
        expect(formDecode(percentEncode(value))).toBe(value);
        expect(percentEncode(value)).toMatch(/^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$/);
      }),
      { seed: 5849, numRuns: 1000 },
    );
  });
});

describe('percentDecodeStrict (Authorization header values)', () => {
  it.each([
    ['a%20b', 'a b'],
    ['a+b', 'a+b'],
    ['%2b%2B', '++'],
    ['%25', '%'],
    ['%2520', '%20'],
    ['%F0%9F%98%80', '😀'],
  ])('%j → %j', (input, expected) => {
    expect(percentDecodeStrict(input)).toBe(expected);
  });

  it.each(['%', '%2', '%2G', '%%20', '%C3', '%FF', '%ED%A0%80'])('%j is invalid', (input) => {
    expect(percentDecodeStrict(input)).toBeUndefined();
  });
});

describe('formDecode (query and form body)', () => {
  it.each([
    ['a+b', 'a b'],
    ['a%2Bb', 'a+b'],
    ['%7e%7E', '~~'],
    ['100%', '100%'],
    ['%zz', '%zz'],
    ['caf%C3%A9+%E2%9C%93', 'café ✓'],
    ['%C3', '\uFFFD'],
  ])('%j → %j', (input, expected) => {
    expect(formDecode(input)).toBe(expected);
  });
});

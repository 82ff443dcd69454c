import { describe, expect, it } from 'vitest';
import {
  buildBaseString,
  buildBaseStringUri,
  normaliseParameters,
} from '../../../src/verify/oauth1/base-string.js';

describe('buildBaseStringUri (RFC 5849 §3.4.1.2)', () => {
  it.each([
    ['http', 'Example.COM', '/a', 'http://example.com/a'],
    ['http', 'example.com:80', '/a', 'http://example.com/a'],
    ['https', 'example.com:443', '/a', 'https://example.com/a'],
    ['https', 'example.com:80', '/a', 'https://example.com:80/a'],
    ['http', 'example.com:443', '/a', 'http://example.com:443/a'],
    ['http', 'example.com:', '/a', 'http://example.com/a'],
    ['http', '[::1]', '/a', 'http://[::1]/a'],
    ['http', '[::1]:80', '/a', 'http://[::1]/a'],
    ['https', '[2001:DB8::1]:8443', '/a', 'https://[2001:db8::1]:8443/a'],
    ['http', 'h', '', 'http://h/'],
    ['http', 'h', '?q=1', 'http://h/'],
    // The path is exactly as sent: escapes and their case are kept, the query is dropped.
    ['http', 'h', '/A%7eB/%2f/~x/a;b=c/%20?q', 'http://h/A%7eB/%2f/~x/a;b=c/%20'],
    ['http', 'h', '/a/../b/./c//d', 'http://h/a/../b/./c//d'],
  ])('%s + %s + %s', (scheme, host, target, expected) => {
    expect(buildBaseStringUri(scheme, host, target)).toBe(expected);
  });
});

describe('normaliseParameters (§3.4.1.3.2)', () => {
  it('sorts by encoded name, then encoded value, in byte order', () => {
    const params = [
      ['a_b', '1'],
      ['a1', '1'],
      ['a-b', '1'],
      ['a', '2'],
      ['a', '10'],
      ['a', '1'],
      ['B', '1'],
      ['é', '1'],
    ] as const;
    expect(normaliseParameters(params)).toBe('%C3%A9=1&B=1&a=1&a=10&a=2&a-b=1&a1=1&a_b=1');
  });

  it('encodes names and values, keeps empty values', () => {
    expect(
      normaliseParameters([
        ['x y', 'a+b&c'],
        ['e', ''],
      ]),
    ).toBe('e=&x%20y=a%2Bb%26c');
  });
});

describe('buildBaseString (§3.4.1.1)', () => {
  it('upper-cases the method and encodes URI and parameters once more', () => {
    expect(
      buildBaseString({
        method: 'post',
        scheme: 'HTTPS',
        host: 'H:443',
        target: '/a b?x',
        params: [['q', 'a b']],
      }),
    ).toBe('POST&https%3A%2F%2Fh%2Fa%20b&q%3Da%2520b');
  });
});

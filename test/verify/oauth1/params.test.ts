import { describe, expect, it } from 'vitest';
import { InvalidRequest } from '../../../src/errors.js';
import {
  collectOAuthParams,
  isOAuthAuthorization,
  parseAuthorizationHeader,
  parseFormEncoded,
} from '../../../src/verify/oauth1/params.js';
import { isFormContentType, type RequestFacts } from '../../../src/verify/request-facts.js';

const REQUIRED =
  'oauth_consumer_key="k", oauth_signature_method="HMAC-SHA1", oauth_signature="s", oauth_timestamp="1", oauth_nonce="n"';

describe('parseAuthorizationHeader (RFC 5849 §3.5.1)', () => {
  it.each([
    ['OAuth a="1"', undefined, [['a', '1']]],
    ['oauth a="1"', undefined, [['a', '1']]],
    ['OAUTH\ta="1"', undefined, [['a', '1']]],
    [
      'OAuth a="1",b="2"',
      undefined,
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ],
    [
      'OAuth  a="1" ,\t b="2" ,',
      undefined,
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ],
    ['OAuth ,,a="1",,', undefined, [['a', '1']]],
    ['OAuth a=""', undefined, [['a', '']]],
    ['OAuth', undefined, []],
    // Values decoded exactly once; `+` is not a space in the header.
    ['OAuth cb="http%3A%2F%2Fx%2F%3Fq%3Da%2520b"', undefined, [['cb', 'http://x/?q=a%20b']]],
    ['OAuth a="x+y%2B"', undefined, [['a', 'x+y+']]],
    ['OAuth a="%C3%A9%e2%9c%93"', undefined, [['a', 'é✓']]],
    // Names are decoded too.
    ['OAuth oauth%5Fnonce="1"', undefined, [['oauth_nonce', '1']]],
    // realm: a quoted-string, neither decoded nor returned as a parameter.
    ['OAuth realm="Photos%20Album", a="1"', 'Photos%20Album', [['a', '1']]],
    ['OAuth a="1", realm="x \\"y\\" \\\\z"', 'x "y" \\z', [['a', '1']]],
    ['OAuth realm=""', '', []],
  ] as const)('%s', (header, realm, params) => {
    expect(parseAuthorizationHeader(header)).toEqual({ realm, params });
  });

  it.each([
    'Bearer a="1"',
    'OAuth2 a="1"',
    'OAutha="1"',
    'OAuth a=1',
    'OAuth a="1',
    'OAuth a="1" b="2"',
    'OAuth a="1"b="2"',
    'OAuth a ="1"',
    'OAuth a= "1"',
    'OAuth ="1"',
    'OAuth a',
    'OAuth a="1";b="2"',
    'OAuth a="%"',
    'OAuth a="%4"',
    'OAuth a="%GG"',
    'OAuth a="%C3"',
    'OAuth a%ZZ="1"',
    'OAuth a="\u0000"',
    'OAuth a="\u0100"',
    'OAuth a="1\\',
    'OAuth realm="a", realm="b"',
    'OAuth a(b)="1"',
  ])('rejects %j with parameter_rejected', (header) => {
    let caught: unknown;
    try {
      parseAuthorizationHeader(header);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidRequest);
    expect(caught).toMatchObject({ status: 400, oauthProblem: 'parameter_rejected' });
  });
});

describe('isOAuthAuthorization', () => {
  it.each([
    ['OAuth a="1"', true],
    ['oauth', true],
    ['OAUTH\t', true],
    ['OAuth2 x', false],
    ['Bearer x', false],
    ['OAut', false],
    ['', false],
    [undefined, false],
  ] as const)('%j → %s', (header, expected) => {
    expect(isOAuthAuthorization(header)).toBe(expected);
  });
});

describe('parseFormEncoded (§3.4.1.3.1)', () => {
  it.each([
    ['', []],
    ['a=1', [['a', '1']]],
    [
      'a=1&a=2',
      [
        ['a', '1'],
        ['a', '2'],
      ],
    ],
    ['a+b=c+d', [['a b', 'c d']]],
    ['a=%2B', [['a', '+']]],
    ['flag', [['flag', '']]],
    ['flag=', [['flag', '']]],
    ['=v', [['', 'v']]],
    [
      'a=1&&b=2&',
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ],
    ['a=b=c', [['a', 'b=c']]],
    ['a=%3D%253D', [['a', '=%3D']]],
    ['a=%e2%9c%93', [['a', '✓']]],
    // Malformed escapes stay literal, invalid UTF-8 becomes U+FFFD (WHATWG form decoding).
    [
      'a=%zz&b=%',
      [
        ['a', '%zz'],
        ['b', '%'],
      ],
    ],
    ['a=%FF', [['a', '\uFFFD']]],
  ] as const)('%j', (raw, expected) => {
    expect(parseFormEncoded(raw)).toEqual(expected);
  });
});

describe('isFormContentType', () => {
  it.each([
    ['application/x-www-form-urlencoded', true],
    ['Application/X-WWW-Form-URLEncoded', true],
    ['application/x-www-form-urlencoded; charset=UTF-8', true],
    [' application/x-www-form-urlencoded ;charset=utf-8', true],
    ['application/x-www-form-urlencodedx', false],
    ['multipart/form-data', false],
    ['text/plain', false],
    ['application/json', false],
    ['', false],
    [undefined, false],
  ] as const)('%j → %s', (contentType, expected) => {
    expect(isFormContentType(contentType)).toBe(expected);
  });
});

function facts(overrides: Partial<RequestFacts>): RequestFacts {
  return {
    method: 'POST',
    scheme: 'https',
    host: 'h',
    target: '/',
    authorization: undefined,
    contentType: undefined,
    body: undefined,
    ...overrides,
  };
}

describe('collectOAuthParams', () => {
  it('signs query + header (without realm) + form body, without oauth_signature', () => {
    const collected = collectOAuthParams(
      facts({
        target: '/p?q=1&q=2',
        authorization: `OAuth realm="r", ${REQUIRED}, x_extra="e"`,
        contentType: 'application/x-www-form-urlencoded',
        body: Buffer.from('b=3'),
      }),
    );
    expect(collected.source).toBe('header');
    expect(collected.formBody).toBe(true);
    expect(collected.signed).toEqual([
      ['q', '1'],
      ['q', '2'],
      ['oauth_consumer_key', 'k'],
      ['oauth_signature_method', 'HMAC-SHA1'],
      ['oauth_timestamp', '1'],
      ['oauth_nonce', 'n'],
      ['x_extra', 'e'],
      ['b', '3'],
    ]);
    expect(collected.protocol).toEqual({
      consumerKey: 'k',
      signatureMethod: 'HMAC-SHA1',
      signature: 's',
      timestamp: '1',
      nonce: 'n',
      token: undefined,
      version: undefined,
      bodyHash: undefined,
    });
  });

  it('reads the protocol parameters from the query', () => {
    const query =
      'oauth_consumer_key=k&oauth_signature_method=PLAINTEXT&oauth_signature=a%26b&oauth_timestamp=1&oauth_nonce=n&oauth_token=t';
    const collected = collectOAuthParams(facts({ target: `/p?${query}` }));
    expect(collected.source).toBe('query');
    expect(collected.protocol).toMatchObject({ signature: 'a&b', token: 't' });
  });

  it('reads the protocol parameters from a form body only when it is a form', () => {
    const body = Buffer.from(
      'oauth_consumer_key=k&oauth_signature_method=HMAC-SHA1&oauth_signature=s&oauth_timestamp=1&oauth_nonce=n',
    );
    expect(collectOAuthParams(facts({ contentType: 'application/x-www-form-urlencoded', body })).source).toBe(
      'body',
    );
    expect(() => collectOAuthParams(facts({ contentType: 'text/plain', body }))).toThrow(
      expect.objectContaining({ oauthProblem: 'parameter_absent' }),
    );
  });

  it('ignores a non-OAuth Authorization header and uses the query', () => {
    const query =
      'oauth_consumer_key=k&oauth_signature_method=HMAC-SHA1&oauth_signature=s&oauth_timestamp=1&oauth_nonce=n';
    expect(collectOAuthParams(facts({ target: `/?${query}`, authorization: 'Basic abc' })).source).toBe(
      'query',
    );
  });

  it('keeps an oauth_ name that only appears in a non-form body out of the picture', () => {
    const collected = collectOAuthParams(
      facts({
        authorization: `OAuth ${REQUIRED}`,
        contentType: 'application/json',
        body: Buffer.from('oauth_x=1'),
      }),
    );
    expect(collected.formBody).toBe(false);
    expect(collected.signed.some(([n]) => n === 'oauth_x')).toBe(false);
  });
});

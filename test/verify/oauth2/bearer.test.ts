import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError, InvalidRequest } from '../../../src/errors.js';
import {
  type BearerOptions,
  bearerBodyNeeded,
  extractBearerToken,
  hasBearerCredentials,
} from '../../../src/verify/oauth2/bearer.js';
import type { RequestFacts } from '../../../src/verify/request-facts.js';

const FORM = 'application/x-www-form-urlencoded';
const OFF: BearerOptions = { allowQueryToken: false, allowFormToken: false };
const ALL: BearerOptions = { allowQueryToken: true, allowFormToken: true };

function facts(overrides: Partial<RequestFacts> = {}): RequestFacts {
  return {
    method: 'GET',
    scheme: 'https',
    host: 'api.example.com',
    target: '/resource',
    authorization: undefined,
    contentType: undefined,
    body: undefined,
    ...overrides,
  };
}

function form(body: string, method = 'POST', contentType = FORM): Partial<RequestFacts> {
  return { method, contentType, body: Buffer.from(body) };
}

describe('extractBearerToken: Authorization header (RFC 6750 §2.1)', () => {
  it.each([
    ['Bearer mF_9.B5f-4.1JqM', 'mF_9.B5f-4.1JqM'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer   abc', 'abc'], // 1*SP
    ['Bearer a~b+c/d==', 'a~b+c/d=='],
    ['Bearer eyJ.eyJ.sig', 'eyJ.eyJ.sig'],
  ])('%s → token', (authorization, token) => {
    expect(extractBearerToken(facts({ authorization }), OFF)).toBe(token);
  });

  it.each([
    'Bearer',
    'Bearer ',
    'Bearer a b',
    'Bearer a=b',
    'Bearer a,b',
    'Bearer "abc"',
    'Bearer\tabc',
    'Bearer abc=def',
    'Bearer ab%20c',
    'Bearer é',
  ])('%j → 400 invalid_request', (authorization) => {
    const attempt = () => extractBearerToken(facts({ authorization }), OFF);
    expect(attempt).toThrow(InvalidRequest);
    try {
      attempt();
    } catch (error) {
      expect((error as GatewayError).status).toBe(400);
      expect((error as GatewayError).challenges).toEqual(['oauth2']);
      // The malformed value is never echoed.
      expect((error as GatewayError).description).not.toContain(authorization.slice(7) || '\u0000');
    }
  });

  it.each(['Basic dXNlcjpwYXNz', 'OAuth oauth_consumer_key="k"', 'Bearerabc', 'DPoP abc'])(
    '%s is not bearer credentials',
    (authorization) => {
      expect(extractBearerToken(facts({ authorization }), ALL)).toBeUndefined();
      expect(hasBearerCredentials(facts({ authorization }), ALL)).toBe(false);
    },
  );

  it('no credentials at all → undefined', () => {
    expect(extractBearerToken(facts(), ALL)).toBeUndefined();
    expect(hasBearerCredentials(facts(), ALL)).toBe(false);
  });
});

describe('extractBearerToken: query (RFC 6750 §2.3)', () => {
  it('disabled: access_token in the query does not authenticate and is not an error', () => {
    const request = facts({ target: '/resource?access_token=abc' });
    expect(extractBearerToken(request, OFF)).toBeUndefined();
    expect(hasBearerCredentials(request, OFF)).toBe(false);
  });

  it('disabled: the header token is used and the query one ignored (not "two methods")', () => {
    const request = facts({ target: '/r?access_token=other', authorization: 'Bearer abc' });
    expect(extractBearerToken(request, OFF)).toBe('abc');
  });

  it('enabled: the query token is used, percent-decoded', () => {
    const request = facts({ target: '/r?x=1&access_token=a%2Bb&y=2' });
    expect(extractBearerToken(request, { ...OFF, allowQueryToken: true })).toBe('a+b');
    expect(hasBearerCredentials(request, { ...OFF, allowQueryToken: true })).toBe(true);
  });

  it('enabled: an encoded parameter name counts too', () => {
    const request = facts({ target: '/r?access%5Ftoken=abc', authorization: 'Bearer abc' });
    expect(() => extractBearerToken(request, ALL)).toThrow(InvalidRequest);
  });

  it.each([
    ['header + query', { authorization: 'Bearer abc', target: '/r?access_token=abc' }],
    ['query repeated', { target: '/r?access_token=a&access_token=b' }],
    ['query empty', { target: '/r?access_token=' }],
    ['header + form', { authorization: 'Bearer abc', ...form('access_token=abc') }],
    ['query + form', { target: '/r?access_token=a', ...form('access_token=b') }],
    ['form repeated', form('access_token=a&access_token=a')],
  ])('%s → 400 invalid_request', (_name, overrides) => {
    expect(() => extractBearerToken(facts(overrides), ALL)).toThrow(InvalidRequest);
  });
});

describe('extractBearerToken: form body (RFC 6750 §2.2)', () => {
  const formOnly: BearerOptions = { allowQueryToken: false, allowFormToken: true };

  it('enabled, POST, form-encoded → token', () => {
    expect(extractBearerToken(facts(form('a=1&access_token=x%2Fy')), formOnly)).toBe('x/y');
    expect(
      extractBearerToken(
        facts(form('access_token=abc', 'PUT', 'Application/X-WWW-Form-Urlencoded; charset=UTF-8')),
        formOnly,
      ),
    ).toBe('abc');
  });

  it.each([
    ['disabled', form('access_token=abc'), OFF],
    ['GET is never allowed', form('access_token=abc', 'GET'), formOnly],
    ['not form-encoded', form('access_token=abc', 'POST', 'application/json'), formOnly],
    ['multipart', form('access_token=abc', 'POST', 'multipart/form-data; boundary=x'), formOnly],
    ['body not read', { method: 'POST', contentType: FORM }, formOnly],
  ] as const)('%s → no credentials', (_name, overrides, options) => {
    expect(extractBearerToken(facts(overrides), options)).toBeUndefined();
    expect(hasBearerCredentials(facts(overrides), options)).toBe(false);
  });

  it('bearerBodyNeeded only for enabled, non-GET, form-encoded requests', () => {
    expect(bearerBodyNeeded(facts({ method: 'POST', contentType: FORM }), formOnly)).toBe(true);
    expect(bearerBodyNeeded(facts({ method: 'POST', contentType: FORM }), OFF)).toBe(false);
    expect(bearerBodyNeeded(facts({ method: 'GET', contentType: FORM }), formOnly)).toBe(false);
    expect(bearerBodyNeeded(facts({ method: 'POST', contentType: 'text/plain' }), formOnly)).toBe(false);
  });
});

describe('hasBearerCredentials', () => {
  it('is true for a malformed Bearer header, so the verifier answers 400 rather than 401', () => {
    expect(hasBearerCredentials(facts({ authorization: 'Bearer a b' }), OFF)).toBe(true);
    expect(hasBearerCredentials(facts({ authorization: 'bearer' }), OFF)).toBe(true);
  });
});

describe('property: whatever the input, only GatewayErrors escape, and only 400s', () => {
  it('holds for arbitrary headers, targets and bodies', () => {
    fc.assert(
      fc.property(
        fc.option(
          fc.oneof(
            fc.string(),
            fc.string().map((s) => `Bearer ${s}`),
          ),
          { nil: undefined },
        ),
        fc.string().map((s) => `/p?${s}`),
        fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
        fc.boolean(),
        fc.boolean(),
        (authorization, target, body, allowQueryToken, allowFormToken) => {
          const request = facts({
            method: 'POST',
            authorization,
            target,
            contentType: FORM,
            body: body === undefined ? undefined : Buffer.from(body),
          });
          const options = { allowQueryToken, allowFormToken };
          try {
            const token = extractBearerToken(request, options);
            if (token !== undefined) {
              expect(token.length).toBeGreaterThan(0);
              expect(hasBearerCredentials(request, options)).toBe(true);
            }
          } catch (error) {
            expect(error).toBeInstanceOf(GatewayError);
            expect((error as GatewayError).status).toBe(400);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

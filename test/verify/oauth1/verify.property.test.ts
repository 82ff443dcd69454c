import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError, InvalidRequest } from '../../../src/errors.js';
import { formatAuthorizationHeader } from '../../../src/oauth1-client/sign.js';
import { percentEncode } from '../../../src/verify/oauth1/encoding.js';
import type { Param } from '../../../src/verify/oauth1/params.js';
import {
  computeBaseString,
  hasOAuth1Credentials,
  oauth1BodyNeeded,
  verifyOAuth1Request,
} from '../../../src/verify/oauth1/verify.js';
import type { RequestFacts } from '../../../src/verify/request-facts.js';
import { context, NOW_S } from './fixtures.js';
import { policy } from './support.js';

/**
 * Whatever a client sends, the verifier answers with a GatewayError of status 400 or 401 — never
 * another exception (which would become a 500) and never acceptance without a real signature.
 */

const RUNS = { seed: 0x5849, numRuns: 2000 } as const;

const PROTOCOL_NAMES = [
  'oauth_consumer_key',
  'oauth_token',
  'oauth_signature_method',
  'oauth_signature',
  'oauth_timestamp',
  'oauth_nonce',
  'oauth_version',
  'oauth_body_hash',
  'oauth_callback',
  'realm',
] as const;

/** Characters that matter to the parsers, plus anything at all. */
const tricky = fc.oneof(
  fc.constantFrom(
    '%',
    '+',
    '=',
    '&',
    '"',
    '\\',
    ',',
    ' ',
    '\t',
    ';',
    '%2',
    '%zz',
    '%C3',
    '%FF',
    '%25',
    'oauth_',
  ),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const trickyString = fc.array(tricky, { maxLength: 12 }).map((parts) => parts.join(''));

const paramName = fc.oneof(fc.constantFrom(...PROTOCOL_NAMES), trickyString);
const paramValue = fc.oneof(
  fc.constantFrom(
    'client-1',
    'token-1',
    'token-2',
    'HMAC-SHA1',
    'HMAC-SHA256',
    'RSA-SHA1',
    'PLAINTEXT',
    'HMAC-MD5',
    '1.0',
    String(NOW_S),
    'AAAA',
    '',
  ),
  trickyString,
);
const randomParams = fc.array(fc.tuple(paramName, paramValue), { maxLength: 10 });
/** Every required parameter with a plausible or random value, plus random extras: reaches deep stages. */
const nearlyValidParams = fc
  .tuple(
    fc.constantFrom('client-1', 'client-2', 'nobody'),
    fc.constantFrom('HMAC-SHA1', 'HMAC-SHA512', 'RSA-SHA256', 'PLAINTEXT', 'HMAC-MD5'),
    fc.constantFrom(String(NOW_S), String(NOW_S - 10_000), '17e8'),
    fc.option(fc.constantFrom('token-1', 'token-2', 'nope'), { nil: undefined }),
    fc.option(fc.constantFrom('1.0', '2.0'), { nil: undefined }),
    fc.string({ minLength: 1 }),
    paramValue,
    randomParams,
  )
  .map(([key, method, timestamp, token, version, nonce, signature, extras]): [string, string][] => [
    ['oauth_consumer_key', key],
    ['oauth_signature_method', method],
    ['oauth_timestamp', timestamp],
    ['oauth_nonce', nonce],
    ['oauth_signature', signature],
    ...(token === undefined ? [] : [['oauth_token', token] as [string, string]]),
    ...(version === undefined ? [] : [['oauth_version', version] as [string, string]]),
    ...extras,
  ]);
const paramList = fc.oneof(randomParams, nearlyValidParams);

function formEncode(params: readonly (readonly [string, string])[]): string {
  return params.map(([n, v]) => `${percentEncode(n)}=${percentEncode(v)}`).join('&');
}

const rawHeader = fc.oneof(
  fc.string({ unit: 'binary' }),
  trickyString.map((s) => `OAuth ${s}`),
  paramList.map((params) => formatAuthorizationHeader(params)),
  // Hand-made pairs with raw (unencoded) names and values, to hit the quoting rules.
  fc
    .array(fc.tuple(trickyString, trickyString, fc.constantFrom(', ', ',', ' ', '')), { maxLength: 8 })
    .map((pairs) => `OAuth ${pairs.map(([n, v, sep]) => `${n}="${v}"${sep}`).join('')}`),
);

const rawQuery = fc.oneof(trickyString, paramList.map(formEncode));

const factsArbitrary: fc.Arbitrary<RequestFacts> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'put', ''),
  scheme: fc.constantFrom('http', 'https'),
  host: fc.oneof(fc.constantFrom('api.example.com', 'API.example.com:443', '[::1]:8080', ''), trickyString),
  target: fc.tuple(fc.constantFrom('/p', '/', '', '/a%2Fb'), rawQuery).map(([path, q]) => `${path}?${q}`),
  authorization: fc.option(rawHeader, { nil: undefined }),
  contentType: fc.constantFrom(
    undefined,
    'application/x-www-form-urlencoded',
    'application/json',
    'text/plain',
  ),
  body: fc.option(
    fc.oneof(rawQuery, fc.string({ unit: 'binary' })).map((s) => Buffer.from(s)),
    { nil: undefined },
  ),
});

async function expectClientError(facts: RequestFacts, ctx = context()): Promise<GatewayError> {
  let outcome: unknown;
  try {
    await verifyOAuth1Request(facts, ctx);
    outcome = 'accepted';
  } catch (error) {
    outcome = error;
  }
  expect(outcome).toBeInstanceOf(GatewayError);
  const error = outcome as GatewayError;
  expect([400, 401]).toContain(error.status);
  return error;
}

describe('verifyOAuth1Request on arbitrary input', () => {
  it('rejects with 400/401 and never throws anything else', async () => {
    await fc.assert(
      fc.asyncProperty(factsArbitrary, async (facts) => {
        await expectClientError(facts);
      }),
      RUNS,
    );
  });

  it('helpers never throw, and computeBaseString throws only InvalidRequest', () => {
    fc.assert(
      fc.property(factsArbitrary, (facts) => {
        expect(typeof hasOAuth1Credentials(facts)).toBe('boolean');
        for (const bodyHash of ['off', 'optional', 'required'] as const) {
          expect(typeof oauth1BodyNeeded(facts, policy({ bodyHash }))).toBe('boolean');
        }
        try {
          expect(typeof computeBaseString(facts)).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidRequest);
        }
      }),
      RUNS,
    );
  });
});

describe('well-formed requests with a random signature', () => {
  const method = fc.constantFrom(
    'HMAC-SHA1',
    'HMAC-SHA256',
    'HMAC-SHA512',
    'RSA-SHA1',
    'RSA-SHA256',
    'PLAINTEXT',
  );
  const placement = fc.constantFrom('header', 'query', 'body');
  const signature = fc.oneof(
    fc.string({ unit: 'binary', minLength: 1 }),
    fc.uint8Array({ minLength: 1, maxLength: 256 }).map((bytes) => Buffer.from(bytes).toString('base64')),
    // Near misses of the real PLAINTEXT keys: unencoded, another token's secret, one byte more.
    fc.constantFrom(
      'secret-1 &+é&',
      'secret-1%20%26%2B%C3%A9&token-secret-2',
      'secret-1%20%26%2B%C3%A9&token-secret-1x',
    ),
  );
  const extra = fc.array(fc.tuple(trickyString, trickyString), { maxLength: 4 });

  it('are never accepted', async () => {
    await fc.assert(
      fc.asyncProperty(
        method,
        placement,
        signature,
        fc.boolean(),
        fc.string({ minLength: 1 }),
        extra,
        async (signatureMethod, where, sig, withToken, nonce, extraParams) => {
          const protocol: Param[] = [
            ['oauth_consumer_key', 'client-1'],
            ...(withToken ? [['oauth_token', 'token-1'] as const] : []),
            ['oauth_signature_method', signatureMethod],
            ['oauth_timestamp', String(NOW_S)],
            ['oauth_nonce', nonce],
            ['oauth_signature', sig],
          ];
          const other = extraParams.filter(([name]) => !name.startsWith('oauth_') && name !== 'realm');
          const base: RequestFacts = {
            method: 'POST',
            scheme: 'https',
            host: 'api.example.com',
            target: `/p?${formEncode(other)}`,
            authorization: undefined,
            contentType: 'application/x-www-form-urlencoded',
            body: Buffer.from(formEncode(other)),
          };
          const facts: RequestFacts =
            where === 'header'
              ? { ...base, authorization: formatAuthorizationHeader(protocol) }
              : where === 'query'
                ? { ...base, target: `${base.target}&${formEncode(protocol)}` }
                : { ...base, body: Buffer.from(`${base.body!.toString()}&${formEncode(protocol)}`) };
          const error = await expectClientError(facts);
          expect(error.code).toBe('invalid_signature');
        },
      ),
      RUNS,
    );
  });
});

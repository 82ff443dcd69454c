import { describe, expect, it } from 'vitest';
import {
  type GatewayError,
  InvalidClient,
  InvalidNonce,
  InvalidRequest,
  InvalidSignature,
  InvalidTimestamp,
  InvalidToken,
  type OAuth1Problem,
  TemporarilyUnavailable,
} from '../../../src/errors.js';
import { MemoryNonceStore } from '../../../src/store/memory.js';
import type { NonceClaim, NonceStore, NonceVerdict } from '../../../src/store/types.js';
import { computeBodyHash } from '../../../src/verify/oauth1/body-hash.js';
import {
  computeBaseString,
  hasOAuth1Credentials,
  type OAuth1VerifyContext,
  oauth1BodyNeeded,
  verifyOAuth1Request,
} from '../../../src/verify/oauth1/verify.js';
import type { RequestFacts } from '../../../src/verify/request-facts.js';
import {
  CLIENT,
  context,
  credentials,
  formEncode,
  NOW_MS,
  NOW_S,
  OTHER_TOKEN,
  rsa,
  setParam,
  signedRequest,
  TOKEN,
  withHeaderParams,
} from './fixtures.js';
import { policy } from './support.js';

/** What client-1 signing with token-1 (alice's) authenticates as: the exact identity, not just "some". */
const ALICE = {
  method: 'oauth1',
  clientId: CLIENT.clientId,
  user: TOKEN.userId,
  scopes: TOKEN.scopes,
} as const;

type ErrorClass = new (...args: never[]) => GatewayError;

interface Expected {
  readonly cls: ErrorClass;
  readonly code: string;
  readonly status: number;
  readonly problem: OAuth1Problem;
}

const REJECTED: Expected = {
  cls: InvalidRequest,
  code: 'invalid_request',
  status: 400,
  problem: 'parameter_rejected',
};
const ABSENT: Expected = { ...REJECTED, problem: 'parameter_absent' };
const METHOD_REJECTED: Expected = { ...REJECTED, problem: 'signature_method_rejected' };
const VERSION_REJECTED: Expected = { ...REJECTED, problem: 'version_rejected' };
const BAD_SIGNATURE: Expected = {
  cls: InvalidSignature,
  code: 'invalid_signature',
  status: 401,
  problem: 'signature_invalid',
};
const BAD_CLIENT: Expected = {
  cls: InvalidClient,
  code: 'invalid_client',
  status: 401,
  problem: 'consumer_key_unknown',
};
const BAD_TOKEN: Expected = {
  cls: InvalidToken,
  code: 'invalid_token',
  status: 401,
  problem: 'token_rejected',
};
const BAD_TIMESTAMP: Expected = {
  cls: InvalidTimestamp,
  code: 'invalid_timestamp',
  status: 401,
  problem: 'timestamp_refused',
};

async function expectRejection(promise: Promise<unknown>, expected: Expected): Promise<GatewayError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the request to be rejected');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(expected.cls);
  const gatewayError = error as GatewayError;
  expect(gatewayError.code).toBe(expected.code);
  expect(gatewayError.status).toBe(expected.status);
  expect(gatewayError.oauthProblem).toBe(expected.problem);
  expect(gatewayError.challenges).toEqual(['oauth1']);
  return gatewayError;
}

const jsonBody = '{"title":"Summer"}';

interface Case {
  readonly name: string;
  readonly facts: () => RequestFacts;
  readonly ctx?: () => OAuth1VerifyContext;
  readonly expected: Expected;
}

const cases: Case[] = [
  // ── tampering: anything signed changes → bad signature
  {
    name: 'method changed',
    facts: () => ({ ...signedRequest().facts, method: 'DELETE' }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'host changed',
    facts: () => ({ ...signedRequest().facts, host: 'evil.example.com' }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'port changed',
    facts: () => ({ ...signedRequest().facts, host: 'api.example.com:8443' }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'scheme changed',
    facts: () => ({ ...signedRequest().facts, scheme: 'http' }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'path changed',
    facts: () => ({ ...signedRequest().facts, target: '/photoz?size=large' }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'path escape changed (%7E vs ~)',
    facts: () => {
      const { facts } = signedRequest({ url: 'https://api.example.com/%7Euser' });
      return { ...facts, target: '/~user' };
    },
    expected: BAD_SIGNATURE,
  },
  {
    name: 'query value changed',
    facts: () => ({ ...signedRequest().facts, target: '/photos?size=small' }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'query parameter added',
    facts: () => ({ ...signedRequest().facts, target: '/photos?size=large&admin=1' }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'query parameter removed',
    facts: () => ({ ...signedRequest().facts, target: '/photos' }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'form body changed',
    facts: () => {
      const { facts } = signedRequest({
        method: 'POST',
        body: 'a=1&b=2',
        contentType: 'application/x-www-form-urlencoded',
      });
      return { ...facts, body: Buffer.from('a=1&b=3') };
    },
    expected: BAD_SIGNATURE,
  },
  {
    name: 'form content type dropped (body no longer signed)',
    facts: () => {
      const { facts } = signedRequest({
        method: 'POST',
        body: 'a=1',
        contentType: 'application/x-www-form-urlencoded',
      });
      return { ...facts, contentType: 'text/plain' };
    },
    ctx: () => context({ policy: { bodyHash: 'off' } }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'wrong consumer secret',
    facts: () => signedRequest({ consumerSecret: 'guess' }).facts,
    expected: BAD_SIGNATURE,
  },
  {
    name: 'wrong token secret',
    facts: () => signedRequest({ tokenSecret: 'guess' }).facts,
    expected: BAD_SIGNATURE,
  },
  {
    name: 'token secret omitted',
    facts: () => signedRequest({ tokenSecret: '' }).facts,
    expected: BAD_SIGNATURE,
  },
  {
    name: 'random signature',
    facts: () => {
      const { facts, params } = signedRequest();
      return withHeaderParams(facts, setParam(params, 'oauth_signature', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='));
    },
    expected: BAD_SIGNATURE,
  },
  {
    name: 'signature of another method (HMAC-SHA256 value labelled HMAC-SHA1)',
    facts: () => {
      const good = signedRequest({ signatureMethod: 'HMAC-SHA256' });
      const sig = good.params.find(([n]) => n === 'oauth_signature')![1];
      const { facts, params } = signedRequest({ nonce: good.params.find(([n]) => n === 'oauth_nonce')![1] });
      return withHeaderParams(facts, setParam(params, 'oauth_signature', sig));
    },
    expected: BAD_SIGNATURE,
  },
  {
    name: 'RSA signature checked against another key',
    facts: () => signedRequest({ signatureMethod: 'RSA-SHA256', rsaPrivateKey: rsa.privateKey }).facts,
    ctx: () => context({ credentials: credentials().addClient({ ...CLIENT, rsaPublicKey: undefined }) }),
    expected: BAD_SIGNATURE,
  },
  {
    name: 'RSA signature that is not base64',
    facts: () => {
      const { facts, params } = signedRequest({ signatureMethod: 'RSA-SHA1', rsaPrivateKey: rsa.privateKey });
      return withHeaderParams(facts, setParam(params, 'oauth_signature', '!!!not base64!!!'));
    },
    expected: BAD_SIGNATURE,
  },
  {
    name: 'PLAINTEXT with the wrong key',
    facts: () => {
      const { facts, params } = signedRequest({ signatureMethod: 'PLAINTEXT' });
      return withHeaderParams(facts, setParam(params, 'oauth_signature', 'secret-1&token-secret-1'));
    },
    expected: BAD_SIGNATURE,
  },
  // ── credentials
  {
    name: 'unknown client',
    facts: () => signedRequest({ consumerKey: 'nobody' }).facts,
    expected: BAD_CLIENT,
  },
  { name: 'unknown token', facts: () => signedRequest({ token: 'stolen' }).facts, expected: BAD_TOKEN },
  {
    name: "another client's token",
    facts: () => signedRequest({ token: OTHER_TOKEN.token, tokenSecret: OTHER_TOKEN.tokenSecret }).facts,
    expected: BAD_TOKEN,
  },
  // ── timestamp
  {
    name: 'timestamp too old',
    facts: () => signedRequest({ timestamp: NOW_S - 301 }).facts,
    expected: BAD_TIMESTAMP,
  },
  {
    name: 'timestamp in the future',
    facts: () => signedRequest({ timestamp: NOW_S + 301 }).facts,
    expected: BAD_TIMESTAMP,
  },
  { name: 'timestamp 0', facts: () => signedRequest({ timestamp: 0 }).facts, expected: BAD_TIMESTAMP },
  {
    name: 'timestamp with 400 digits',
    facts: () => {
      const { facts, params } = signedRequest();
      return withHeaderParams(facts, setParam(params, 'oauth_timestamp', '9'.repeat(400)));
    },
    expected: BAD_TIMESTAMP,
  },
  ...['17e8', '-1700000000', '1700000000.5', ' 1700000000', '0x65', '１７'].map((ts) => ({
    name: `non-digit timestamp ${JSON.stringify(ts)}`,
    facts: () => {
      const { facts, params } = signedRequest();
      return withHeaderParams(facts, setParam(params, 'oauth_timestamp', ts));
    },
    expected: REJECTED,
  })),
  // ── parameters
  {
    name: 'duplicated protocol parameter in the header',
    facts: () => {
      const { facts, params } = signedRequest();
      return withHeaderParams(facts, [['oauth_nonce', 'other'], ...params]);
    },
    expected: REJECTED,
  },
  {
    name: 'duplicated oauth_signature in the header',
    facts: () => {
      const { facts, params } = signedRequest();
      return withHeaderParams(facts, [...params, params.at(-1)!]);
    },
    expected: REJECTED,
  },
  {
    name: 'duplicated protocol parameter in the query',
    facts: () => {
      const { facts } = signedRequest({ placement: 'query' });
      return { ...facts, target: `${facts.target}&oauth_nonce=again` };
    },
    expected: REJECTED,
  },
  {
    name: 'same protocol parameter in header and query',
    facts: () => {
      const { facts } = signedRequest();
      return { ...facts, target: `${facts.target}&oauth_consumer_key=client-1` };
    },
    expected: REJECTED,
  },
  {
    name: 'protocol parameters split across header and query',
    facts: () => {
      const { facts, params } = signedRequest();
      const nonce = params.find(([n]) => n === 'oauth_nonce')!;
      return {
        ...withHeaderParams(facts, setParam(params, 'oauth_nonce', undefined)),
        target: `${facts.target}&${formEncode([nonce])}`,
      };
    },
    expected: REJECTED,
  },
  {
    name: 'protocol parameters in both query and form body',
    facts: () => {
      const { facts } = signedRequest({
        placement: 'query',
        method: 'POST',
        body: 'x=1',
        contentType: 'application/x-www-form-urlencoded',
      });
      return { ...facts, body: Buffer.from('x=1&oauth_callback=oob') };
    },
    expected: REJECTED,
  },
  {
    name: 'unknown oauth_ parameter in the query while the header carries the rest',
    facts: () => {
      const { facts } = signedRequest();
      return { ...facts, target: `${facts.target}&oauth_extra=1` };
    },
    expected: REJECTED,
  },
  ...[
    'oauth_consumer_key',
    'oauth_signature_method',
    'oauth_signature',
    'oauth_timestamp',
    'oauth_nonce',
  ].flatMap((name) => [
    {
      name: `missing ${name}`,
      facts: () => {
        const { facts, params } = signedRequest();
        return withHeaderParams(facts, setParam(params, name, undefined));
      },
      expected: ABSENT,
    },
    {
      name: `empty ${name}`,
      facts: () => {
        const { facts, params } = signedRequest();
        return withHeaderParams(facts, setParam(params, name, ''));
      },
      expected: ABSENT,
    },
  ]),
  {
    name: 'PLAINTEXT without timestamp and nonce (oauthlib requires them)',
    facts: () => {
      const { facts, params } = signedRequest({ signatureMethod: 'PLAINTEXT' });
      return withHeaderParams(
        facts,
        setParam(setParam(params, 'oauth_nonce', undefined), 'oauth_timestamp', undefined),
      );
    },
    expected: ABSENT,
  },
  {
    name: 'OAuth header with no parameters',
    facts: () => ({ ...signedRequest().facts, authorization: 'OAuth' }),
    expected: ABSENT,
  },
  {
    name: 'OAuth header with only a realm',
    facts: () => ({ ...signedRequest().facts, authorization: 'OAuth realm="x"' }),
    expected: ABSENT,
  },
  {
    name: 'no credentials anywhere',
    facts: () => ({ ...signedRequest().facts, authorization: 'Bearer abc' }),
    expected: ABSENT,
  },
  ...[
    'OAuth oauth_nonce=abc',
    'OAuth oauth_nonce="abc',
    'OAuth oauth_nonce="a%zz"',
    'OAuth oauth_nonce="a" oauth_token="b"',
    'OAuth ="x"',
    'OAuth oauth_nonce = "x"',
    'OAuth realm="a", realm="b"',
    'OAuth oauth_nonce="%FF"',
    'OAuth a="\u0001"',
  ].map((authorization) => ({
    name: `malformed header ${JSON.stringify(authorization)}`,
    facts: () => ({ ...signedRequest().facts, authorization }),
    expected: REJECTED,
  })),
  // ── version and method
  ...['2.0', '1.0a', '1', ''].map((version) => ({
    name: `oauth_version ${JSON.stringify(version)}`,
    facts: () => signedRequest({ includeVersion: false, extraParams: { oauth_version: version } }).facts,
    expected: VERSION_REJECTED,
  })),
  {
    name: 'unsupported signature method',
    facts: () => {
      const { facts, params } = signedRequest();
      return withHeaderParams(facts, setParam(params, 'oauth_signature_method', 'HMAC-MD5'));
    },
    expected: METHOD_REJECTED,
  },
  {
    name: 'signature method names are case-sensitive',
    facts: () => {
      const { facts, params } = signedRequest();
      return withHeaderParams(facts, setParam(params, 'oauth_signature_method', 'hmac-sha1'));
    },
    expected: METHOD_REJECTED,
  },
  {
    name: 'signature method not in the policy',
    facts: () => signedRequest({ signatureMethod: 'RSA-SHA1', rsaPrivateKey: rsa.privateKey }).facts,
    ctx: () => context({ policy: { signatureMethods: new Set(['HMAC-SHA1', 'HMAC-SHA256']) } }),
    expected: METHOD_REJECTED,
  },
  {
    name: 'PLAINTEXT over http',
    facts: () => signedRequest({ signatureMethod: 'PLAINTEXT', url: 'http://api.example.com/photos' }).facts,
    expected: METHOD_REJECTED,
  },
  // ── body hash
  {
    name: 'body hash does not match the body',
    facts: () => {
      const { facts } = signedRequest({ method: 'PUT', body: jsonBody, contentType: 'application/json' });
      return { ...facts, body: Buffer.from('{"title":"Winter"}') };
    },
    expected: BAD_SIGNATURE,
  },
  {
    name: 'body hash sent but body empty',
    facts: () => {
      const { facts } = signedRequest({ method: 'PUT', body: jsonBody, contentType: 'application/json' });
      return { ...facts, body: undefined };
    },
    expected: BAD_SIGNATURE,
  },
  {
    name: 'body hash required but absent',
    facts: () =>
      signedRequest({ method: 'PUT', body: jsonBody, contentType: 'application/json', bodyHash: false })
        .facts,
    ctx: () => context({ policy: { bodyHash: 'required' } }),
    expected: ABSENT,
  },
  {
    name: 'body hash on a form body',
    facts: () =>
      signedRequest({
        method: 'POST',
        body: 'a=1',
        contentType: 'application/x-www-form-urlencoded',
        extraParams: { oauth_body_hash: computeBodyHash('a=1') },
      }).facts,
    expected: REJECTED,
  },
];

describe('verifyOAuth1Request rejects', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const nonces = new MemoryNonceStore({ maxEntries: 1000 });
    const ctx = c.ctx?.() ?? context({ nonces });
    const error = await expectRejection(verifyOAuth1Request(c.facts(), ctx), c.expected);
    // Secrets never appear in what the client is told.
    for (const secret of [CLIENT.clientSecret, TOKEN.tokenSecret])
      expect(error.description).not.toContain(secret);
  });
});

describe('verifyOAuth1Request accepts', () => {
  it('three-legged: identity of the token', async () => {
    await expect(verifyOAuth1Request(signedRequest().facts, context())).resolves.toEqual({
      method: 'oauth1',
      clientId: 'client-1',
      user: 'alice',
      scopes: ['photos:read', 'photos:write'],
    });
  });

  it('two-legged: no user, no scopes', async () => {
    const identity = await verifyOAuth1Request(
      signedRequest({ token: undefined, tokenSecret: undefined }).facts,
      context(),
    );
    expect(identity).toEqual({ method: 'oauth1', clientId: 'client-1', scopes: [] });
    expect(identity).not.toHaveProperty('user');
  });

  it('an empty oauth_token as two-legged', async () => {
    const identity = await verifyOAuth1Request(
      signedRequest({ token: '', tokenSecret: '' }).facts,
      context(),
    );
    expect(identity).toEqual({ method: 'oauth1', clientId: 'client-1', scopes: [] });
  });

  it.each([-300, 300])('a timestamp exactly at the window edge (%ds)', async (offset) => {
    await expect(
      verifyOAuth1Request(signedRequest({ timestamp: NOW_S + offset }).facts, context()),
    ).resolves.toEqual(ALICE);
  });

  it('the method in any case (§3.4.1.1 upper-cases it)', async () => {
    const { facts } = signedRequest();
    await expect(verifyOAuth1Request({ ...facts, method: 'get' }, context())).resolves.toEqual(ALICE);
  });

  it('without oauth_version', async () => {
    await expect(
      verifyOAuth1Request(signedRequest({ includeVersion: false }).facts, context()),
    ).resolves.toEqual(ALICE);
  });

  it('a lower-case scheme name and tabs in the header', async () => {
    const { facts } = signedRequest();
    const authorization = facts.authorization!.replace(/^OAuth /, 'oauth \t').replaceAll(', ', ' ,\t');
    await expect(verifyOAuth1Request({ ...facts, authorization }, context())).resolves.toEqual(ALICE);
  });

  it('a body hash when the policy is off is only a signed parameter', async () => {
    const { facts } = signedRequest({ method: 'PUT', body: jsonBody, contentType: 'application/json' });
    const ctx = context({ policy: { bodyHash: 'off' } });
    await expect(verifyOAuth1Request({ ...facts, body: Buffer.from('other') }, ctx)).resolves.toEqual(ALICE);
  });

  it('a matching body hash when required, including for an empty body', async () => {
    const ctx = context({ policy: { bodyHash: 'required' } });
    const put = signedRequest({ method: 'PUT', body: jsonBody, contentType: 'application/json' });
    await expect(verifyOAuth1Request(put.facts, ctx)).resolves.toEqual(ALICE);
    const get = signedRequest({ body: '' });
    await expect(verifyOAuth1Request({ ...get.facts, body: undefined }, ctx)).resolves.toEqual(ALICE);
  });

  it('a form body without a body hash even when required (form bodies are signed directly)', async () => {
    const ctx = context({ policy: { bodyHash: 'required' } });
    const { facts } = signedRequest({
      method: 'POST',
      body: 'a=1',
      contentType: 'application/x-www-form-urlencoded',
    });
    await expect(verifyOAuth1Request(facts, ctx)).resolves.toEqual(ALICE);
  });
});

/** A NonceStore that records what it was asked, around the real memory store. */
class RecordingNonces implements NonceStore {
  readonly claims: NonceClaim[] = [];
  readonly inner = new MemoryNonceStore({ maxEntries: 1000 });
  async claim(claim: NonceClaim): Promise<NonceVerdict> {
    this.claims.push(claim);
    return this.inner.claim(claim);
  }
  async close(): Promise<void> {}
}

describe('nonces (RFC 5849 §3.3)', () => {
  it('a replayed request is rejected', async () => {
    const ctx = context();
    const { facts } = signedRequest();
    await verifyOAuth1Request(facts, ctx);
    await expectRejection(verifyOAuth1Request(facts, ctx), {
      cls: InvalidNonce,
      code: 'invalid_nonce',
      status: 401,
      problem: 'nonce_used',
    });
  });

  it('a replay in another placement is still a replay', async () => {
    const ctx = context();
    const header = signedRequest({ nonce: 'same' });
    const query = signedRequest({ nonce: 'same', placement: 'query' });
    await verifyOAuth1Request(header.facts, ctx);
    await expect(verifyOAuth1Request(query.facts, ctx)).rejects.toBeInstanceOf(InvalidNonce);
  });

  it('a bad signature does not consume the nonce', async () => {
    const nonces = new RecordingNonces();
    const ctx = context({ nonces });
    const bad = signedRequest({ nonce: 'n-1', tokenSecret: 'wrong' });
    const good = signedRequest({ nonce: 'n-1' });
    await expect(verifyOAuth1Request(bad.facts, ctx)).rejects.toBeInstanceOf(InvalidSignature);
    expect(nonces.claims).toEqual([]);
    await expect(verifyOAuth1Request(good.facts, ctx)).resolves.toMatchObject({ user: 'alice' });
  });

  it('failures before the signature do not touch the nonce store', async () => {
    const nonces = new RecordingNonces();
    const ctx = context({ nonces });
    await expect(verifyOAuth1Request(signedRequest({ consumerKey: 'nobody' }).facts, ctx)).rejects.toThrow();
    await expect(verifyOAuth1Request(signedRequest({ timestamp: 1 }).facts, ctx)).rejects.toThrow();
    await expect(verifyOAuth1Request(signedRequest({ token: 'nope' }).facts, ctx)).rejects.toThrow();
    expect(nonces.claims).toEqual([]);
  });

  it('the claim carries the key client:token:timestamp:nonce, the timestamp, the window and the clock', async () => {
    const nonces = new RecordingNonces();
    await verifyOAuth1Request(signedRequest({ nonce: 'abc' }).facts, context({ nonces }));
    await verifyOAuth1Request(
      signedRequest({ nonce: 'abc', token: undefined, tokenSecret: undefined }).facts,
      context({ nonces }),
    );
    expect(nonces.claims).toEqual([
      { key: `client-1:token-1:${NOW_S}:abc`, timestamp: NOW_S, windowMs: 300_000, now: NOW_MS },
      { key: `client-1::${NOW_S}:abc`, timestamp: NOW_S, windowMs: 300_000, now: NOW_MS },
    ]);
  });

  it('the same nonce with another timestamp or token is a different request', async () => {
    const ctx = context();
    await verifyOAuth1Request(signedRequest({ nonce: 'x' }).facts, ctx);
    await verifyOAuth1Request(signedRequest({ nonce: 'x', timestamp: NOW_S + 1 }).facts, ctx);
    await verifyOAuth1Request(
      signedRequest({ nonce: 'x', token: undefined, tokenSecret: undefined }).facts,
      ctx,
    );
  });

  it('separators inside values cannot make two nonce keys collide', async () => {
    const nonces = new RecordingNonces();
    await verifyOAuth1Request(signedRequest({ nonce: 'a:b' }).facts, context({ nonces }));
    expect(nonces.claims[0]!.key).toBe(`client-1:token-1:${NOW_S}:a%3Ab`);
  });

  it('store failures propagate unchanged (fail closed with 503)', async () => {
    const failing: NonceStore = {
      claim: async () => {
        throw new TemporarilyUnavailable();
      },
      close: async () => {},
    };
    await expect(
      verifyOAuth1Request(signedRequest().facts, context({ nonces: failing })),
    ).rejects.toBeInstanceOf(TemporarilyUnavailable);
    const creds = credentials();
    creds.getClient = async () => {
      throw new TemporarilyUnavailable();
    };
    await expect(
      verifyOAuth1Request(signedRequest().facts, context({ credentials: creds })),
    ).rejects.toBeInstanceOf(TemporarilyUnavailable);
  });
});

describe('computeBaseString', () => {
  it('excludes realm and oauth_signature and includes the query', () => {
    const { facts } = signedRequest({ realm: 'Photos', nonce: 'n', timestamp: 1 });
    const base = computeBaseString(facts);
    expect(base).toMatch(/^GET&https%3A%2F%2Fapi\.example\.com%2Fphotos&/);
    expect(base).toContain('size%3Dlarge');
    expect(base).not.toContain('realm');
    expect(base).not.toContain('oauth_signature%3D');
  });

  it('rejects malformed input with InvalidRequest', () => {
    expect(() => computeBaseString({ ...signedRequest().facts, authorization: 'OAuth x' })).toThrow(
      InvalidRequest,
    );
  });
});

describe('oauth1BodyNeeded', () => {
  const base = {
    method: 'POST',
    scheme: 'https',
    host: 'h',
    target: '/',
    authorization: undefined,
    contentType: undefined,
  } as const;
  const p = (bodyHash: 'off' | 'optional' | 'required') => policy({ bodyHash });

  it.each([
    ['form body', { contentType: 'Application/X-WWW-Form-Urlencoded; charset=utf-8' }, 'off', true],
    [
      'json, policy off',
      { contentType: 'application/json', authorization: 'OAuth oauth_body_hash="x"' },
      'off',
      false,
    ],
    ['json, policy required', { contentType: 'application/json' }, 'required', true],
    [
      'json, optional, hash in header',
      { contentType: 'application/json', authorization: 'OAuth oauth_body_hash="x"' },
      'optional',
      true,
    ],
    [
      'json, optional, hash in query',
      { contentType: 'application/json', target: '/a?oauth_body_hash=x' },
      'optional',
      true,
    ],
    [
      'json, optional, no hash',
      { contentType: 'application/json', authorization: 'OAuth oauth_nonce="x"' },
      'optional',
      false,
    ],
    ['hash named in a bearer header', { authorization: 'Bearer oauth_body_hash' }, 'optional', false],
    ['form-like content type', { contentType: 'application/x-www-form-urlencoded-ish' }, 'off', false],
  ] as const)('%s', (_name, overrides, mode, expected) => {
    expect(oauth1BodyNeeded({ ...base, ...overrides }, p(mode))).toBe(expected);
  });
});

describe('hasOAuth1Credentials', () => {
  const base = {
    method: 'GET',
    scheme: 'https',
    host: 'h',
    target: '/',
    authorization: undefined,
    contentType: undefined,
  } as const;
  it.each([
    ['OAuth header', { authorization: 'OAuth oauth_consumer_key="k"' }, true],
    ['bare OAuth header', { authorization: 'oauth' }, true],
    ['Bearer header', { authorization: 'Bearer abc' }, false],
    ['OAuth2 is not OAuth', { authorization: 'OAuth2 abc' }, false],
    ['consumer key in query', { target: '/p?a=1&oauth_consumer_key=k' }, true],
    ['signature in query', { target: '/p?oauth_signature=s' }, true],
    ['encoded name in query', { target: '/p?oauth%5Fsignature=s' }, true],
    ['other oauth_ param in query', { target: '/p?oauth_callback=x' }, false],
    ['nothing', {}, false],
    [
      'form body',
      { contentType: 'application/x-www-form-urlencoded', body: Buffer.from('oauth_consumer_key=k') },
      true,
    ],
    ['non-form body', { contentType: 'text/plain', body: Buffer.from('oauth_consumer_key=k') }, false],
  ] as const)('%s', (_name, overrides, expected) => {
    expect(hasOAuth1Credentials({ ...base, ...overrides })).toBe(expected);
  });
});

describe('clock', () => {
  it('uses the injected clock, not the system clock', async () => {
    const { facts } = signedRequest({ timestamp: 1_000 });
    await expect(verifyOAuth1Request(facts, context({ now: 1_000_000 }))).resolves.toEqual(ALICE);
    await expectRejection(
      verifyOAuth1Request(signedRequest({ timestamp: 1_000 }).facts, context({ now: NOW_MS })),
      BAD_TIMESTAMP,
    );
  });
});

import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import OAuth10a from 'oauth-1.0a';
import { describe, expect, it } from 'vitest';
import { InvalidSignature } from '../../src/errors.js';
import { signOAuth1Params, signOAuth1Request, splitUrl } from '../../src/oauth1-client/sign.js';
import { parseAuthorizationHeader } from '../../src/verify/oauth1/params.js';
import type { SignatureMethodName } from '../../src/verify/oauth1/signature-methods.js';
import { computeBaseString, verifyOAuth1Request } from '../../src/verify/oauth1/verify.js';
import type { RequestFacts } from '../../src/verify/request-facts.js';
import { CLIENT, context, NOW_S, rsa, signedRequest, TOKEN, toFacts } from '../verify/oauth1/fixtures.js';

/** What client-1 signing with token-1 (alice's) authenticates as: the exact identity, not just "some". */
const ALICE = {
  method: 'oauth1',
  clientId: CLIENT.clientId,
  user: TOKEN.userId,
  scopes: TOKEN.scopes,
} as const;

const METHODS: readonly SignatureMethodName[] = [
  'HMAC-SHA1',
  'HMAC-SHA256',
  'HMAC-SHA512',
  'RSA-SHA1',
  'RSA-SHA256',
  'PLAINTEXT',
];
const FORM = 'application/x-www-form-urlencoded';

describe('signOAuth1Request → verifyOAuth1Request round trip', () => {
  describe.each(METHODS)('%s', (signatureMethod) => {
    it.each(['header', 'query', 'body'] as const)('with parameters in the %s', async (placement) => {
      const { facts } = signedRequest({
        signatureMethod,
        rsaPrivateKey: rsa.privateKey,
        placement,
        method: 'POST',
        url: 'https://api.example.com/photos?album=2024&tag=a+b',
        body: 'title=Summer%20Trip&title=2&empty=',
        contentType: FORM,
      });
      await expect(verifyOAuth1Request(facts, context())).resolves.toMatchObject({
        clientId: 'client-1',
        user: 'alice',
      });
    });

    it('two-legged', async () => {
      const { facts } = signedRequest({
        signatureMethod,
        rsaPrivateKey: rsa.privateKey,
        token: undefined,
        tokenSecret: undefined,
      });
      await expect(verifyOAuth1Request(facts, context())).resolves.toEqual({
        method: 'oauth1',
        clientId: 'client-1',
        scopes: [],
      });
    });
  });

  it('RSA accepts a PEM string as the private key', async () => {
    const pem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const { facts } = signedRequest({ signatureMethod: 'RSA-SHA256', rsaPrivateKey: pem });
    await expect(verifyOAuth1Request(facts, context())).resolves.toEqual(ALICE);
  });

  it('RSA without a private key is a usage error on the signing side', () => {
    expect(() => signedRequest({ signatureMethod: 'RSA-SHA1', rsaPrivateKey: undefined })).toThrow(TypeError);
  });

  it('header placement with a realm that needs quoting', async () => {
    const realm = 'Photos "Album" \\ 1';
    const { facts } = signedRequest({ realm });
    expect(facts.authorization).toMatch(
      /^OAuth realm="Photos \\"Album\\" \\\\ 1", oauth_consumer_key="client-1", /,
    );
    expect(parseAuthorizationHeader(facts.authorization!).realm).toBe(realm);
    await expect(verifyOAuth1Request(facts, context())).resolves.toEqual(ALICE);
    // The realm is not signed: another realm still verifies.
    const other = facts.authorization!.replace(/realm="(?:[^"\\]|\\.)*"/, 'realm="elsewhere"');
    expect(other).not.toBe(facts.authorization);
    await expect(verifyOAuth1Request({ ...facts, authorization: other }, context())).resolves.toEqual(ALICE);
  });

  it.each([
    [
      'unicode in path, query and body',
      'https://api.example.com/caf%C3%A9?q=%E2%9C%93%20ok&na%C3%AFve=%F0%9F%98%80',
      'msg=%E6%97%A5%E6%9C%AC&%C3%A9=%C3%A8',
    ],
    [
      'reserved characters',
      "https://api.example.com/a;b=c/d:e@f!$'()*,~?x=%21%2A%27%28%29&y=%26%3D%2B%23&z=+",
      'k=%2F%3F%23%5B%5D%40&p=a+b%2Bc',
    ],
    ['repeated names', 'https://api.example.com/list?a=2&a=10&a=1&a=&a', 'a=3&a=1&a=x%20y'],
    ['empty values and bare names', 'https://api.example.com/search?q=&flag&x=1', 'e=&f'],
    ['lower-case escapes in the path', 'https://api.example.com/%7euser/%2f', ''],
    ['a non-default port and upper-case host', 'https://API.Example.com:8443/p?x=1', 'y=2'],
  ])('%s', async (_name, url, body) => {
    const consumerSecret = "sec ret&+=é!*'()";
    const tokenSecret = 'tok/sec%ret';
    const credentials = context().credentials;
    const ctx = {
      ...context(),
      credentials: {
        getClient: async (id: string) =>
          id === 'client-1'
            ? { ...(await credentials.getClient(id))!, clientSecret: consumerSecret }
            : undefined,
        getToken: async (t: string) =>
          t === 'token-1' ? { ...(await credentials.getToken(t))!, tokenSecret } : undefined,
      },
    };
    for (const placement of ['header', 'query', 'body'] as const) {
      const { facts } = signedRequest({
        method: 'POST',
        url,
        body,
        contentType: FORM,
        consumerSecret,
        tokenSecret,
        placement,
      });
      await expect(verifyOAuth1Request(facts, ctx)).resolves.toMatchObject({ user: 'alice' });
    }
  });

  it('a non-form body gets oauth_body_hash and is verified against it', async () => {
    const body = '{"a":"b=c&d"}';
    const { facts, params } = signedRequest({ method: 'PUT', body, contentType: 'application/json' });
    expect(params.map(([n]) => n)).toContain('oauth_body_hash');
    const ctx = context({ policy: { bodyHash: 'required' } });
    await expect(verifyOAuth1Request(facts, ctx)).resolves.toEqual(ALICE);
    await expect(
      verifyOAuth1Request({ ...facts, body: Buffer.from(`${body} `) }, context()),
    ).rejects.toBeInstanceOf(InvalidSignature);
  });

  it('extra protocol parameters (oauth_callback with its own escapes) are signed', async () => {
    const { facts, params } = signedRequest({
      extraParams: { oauth_callback: 'https://c.example/cb?x=a%20b&y=1' },
    });
    expect(params).toContainEqual(['oauth_callback', 'https://c.example/cb?x=a%20b&y=1']);
    expect(computeBaseString(facts)).toContain(
      'oauth_callback%3Dhttps%253A%252F%252Fc.example%252Fcb%253Fx%253Da%252520b',
    );
    await expect(verifyOAuth1Request(facts, context())).resolves.toEqual(ALICE);
  });
});

describe('signOAuth1Request output', () => {
  it('is an OAuth header with encoded values, realm first and the signature last', () => {
    const header = signOAuth1Request({
      method: 'GET',
      url: 'https://api.example.com/p',
      consumerKey: 'key with space',
      consumerSecret: 's',
      realm: 'R',
      timestamp: 1,
      nonce: 'n/1',
    });
    expect(header).toMatch(
      /^OAuth realm="R", oauth_consumer_key="key%20with%20space", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1", oauth_nonce="n%2F1", oauth_version="1.0", oauth_signature="[A-Za-z0-9%]+"$/,
    );
  });

  it('defaults the timestamp to now and the nonce to something random', () => {
    const input = { method: 'GET', url: 'https://h/', consumerKey: 'k', consumerSecret: 's' };
    const first = new Map(signOAuth1Params(input));
    const second = new Map(signOAuth1Params(input));
    expect(Math.abs(Number(first.get('oauth_timestamp')) - Date.now() / 1000)).toBeLessThan(5);
    expect(first.get('oauth_nonce')).toMatch(/^[0-9a-f]{32}$/);
    expect(first.get('oauth_nonce')).not.toBe(second.get('oauth_nonce'));
  });
});

describe('splitUrl', () => {
  it.each([
    ['https://h/p?q', { scheme: 'https', host: 'h', target: '/p?q' }],
    ['HTTP://User:pw@H:8080', { scheme: 'http', host: 'H:8080', target: '/' }],
    ['http://h?x=1', { scheme: 'http', host: 'h', target: '/?x=1' }],
    ['http://h/a%7eb/%2F?x=%20#frag', { scheme: 'http', host: 'h', target: '/a%7eb/%2F?x=%20' }],
    ['http://[::1]:80/a', { scheme: 'http', host: '[::1]:80', target: '/a' }],
  ])('%s', (url, expected) => {
    expect(splitUrl(url)).toEqual(expected);
  });

  it('refuses something that is not an absolute URL', () => {
    expect(() => splitUrl('/relative')).toThrow(TypeError);
  });
});

describe('interoperability with other OAuth 1.0a clients', () => {
  const liveContext = () => ({ ...context(), now: () => Date.now() });

  it('accepts a request signed by the oauth-1.0a package (HMAC-SHA1, query + form body)', async () => {
    const client = new OAuth10a({
      consumer: { key: CLIENT.clientId, secret: CLIENT.clientSecret },
      signature_method: 'HMAC-SHA1',
      hash_function: (base, key) => createHmac('sha1', key).update(base).digest('base64'),
      realm: 'Example',
    });
    const request = {
      url: 'https://api.example.com/photos?size=large&tag=sun',
      method: 'POST',
      data: { title: 'Summer Trip!', note: "it's (*) ok" },
    };
    // Serialise the body first: authorize() merges the query into request.data.
    const body = new URLSearchParams(request.data).toString();
    const header = client.toHeader(
      client.authorize(request, { key: TOKEN.token, secret: TOKEN.tokenSecret }),
    );
    const facts: RequestFacts = {
      method: 'POST',
      scheme: 'https',
      host: 'api.example.com',
      target: '/photos?size=large&tag=sun',
      authorization: header.Authorization,
      contentType: FORM,
      body: Buffer.from(body),
    };
    await expect(verifyOAuth1Request(facts, liveContext())).resolves.toMatchObject({ user: 'alice' });
  });

  it('accepts a request signed by the oauth (node-oauth) package', async () => {
    const require = createRequire(import.meta.url);
    const { OAuth } = require('oauth') as {
      OAuth: new (
        ...args: [string, string, string, string, string, null, string]
      ) => { authHeader(url: string, token: string, secret: string, method: string): string };
    };
    const client = new OAuth('', '', CLIENT.clientId, CLIENT.clientSecret, '1.0', null, 'HMAC-SHA1');
    const url = 'http://api.example.com:8080/photos?file=vacation.jpg&size=original';
    const authorization = client.authHeader(url, TOKEN.token, TOKEN.tokenSecret, 'GET');
    const facts: RequestFacts = {
      method: 'GET',
      scheme: 'http',
      host: 'api.example.com:8080',
      target: '/photos?file=vacation.jpg&size=original',
      authorization,
      contentType: undefined,
      body: undefined,
    };
    await expect(verifyOAuth1Request(facts, liveContext())).resolves.toMatchObject({ user: 'alice' });
  });

  it('the oauth-1.0a package accepts our signature (same base string and key)', () => {
    const client = new OAuth10a({
      consumer: { key: CLIENT.clientId, secret: CLIENT.clientSecret },
      signature_method: 'HMAC-SHA1',
      hash_function: (base, key) => createHmac('sha1', key).update(base).digest('base64'),
    });
    const input = {
      method: 'GET',
      url: 'https://api.example.com/p?b=2&a=1',
      consumerKey: CLIENT.clientId,
      consumerSecret: CLIENT.clientSecret,
      token: TOKEN.token,
      tokenSecret: TOKEN.tokenSecret,
      timestamp: NOW_S,
      nonce: 'interop',
    };
    const ours = new Map(signOAuth1Params(input));
    const oauthData = {
      oauth_consumer_key: CLIENT.clientId,
      oauth_nonce: 'interop',
      oauth_signature_method: 'HMAC-SHA1',
      oauth_timestamp: NOW_S,
      oauth_version: '1.0',
      oauth_token: TOKEN.token,
    };
    const theirs = client.getSignature({ url: input.url, method: 'GET' }, TOKEN.tokenSecret, oauthData);
    expect(ours.get('oauth_signature')).toBe(theirs);
    expect(toFacts(input, [...ours], 'header').authorization).toContain(
      `oauth_signature="${encodeURIComponent(theirs)}"`,
    );
  });
});

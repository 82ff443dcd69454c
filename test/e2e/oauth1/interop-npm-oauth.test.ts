import { stringify } from 'node:querystring';
import { OAuth, type OAuthCallback } from 'oauth';
import { describe, expect, test } from 'vitest';
import { receivedHeader } from '../../helpers/upstream.js';
import {
  ALICE,
  CLIENT,
  CLIENT_ONLY,
  expectIdentity,
  expectRejected,
  type Reply,
  RSA_CLIENT,
  RSA_KEYS,
  RSA_TOKEN,
  TOKEN,
  UNICODE_CLIENT,
  UNICODE_TOKEN,
  useWorld,
} from './world.js';

/**
 * npm `oauth` (the OAuth class used by passport-oauth1 and most Node OAuth1 consumers) signing
 * real requests that go through the running gateway. Every accepted request must reach the
 * upstream with exactly the path, query and body the client sent, and with the identity headers.
 */

/** The lib reports non-2xx as `{ statusCode, data }` errors; only socket errors reject here. */
function call(run: (callback: OAuthCallback) => void): Promise<Reply> {
  return new Promise((resolve, reject) => {
    run((error, data, response) => {
      if (error instanceof Error) reject(error);
      else
        resolve({
          status: error?.statusCode ?? response?.statusCode ?? 0,
          headers: response?.headers ?? {},
          text: data ?? '',
        });
    });
  });
}

function client(
  consumer: { clientId: string; clientSecret: string },
  method: 'HMAC-SHA1' | 'HMAC-SHA256' = 'HMAC-SHA1',
  headers?: Record<string, string>,
): OAuth {
  return new OAuth(
    null,
    null,
    consumer.clientId,
    consumer.clientSecret,
    '1.0',
    null,
    method,
    undefined,
    headers,
  );
}

/** What the lib puts on the wire for a form body (querystring + its own `!'()*` escaping). */
function libFormBody(params: Record<string, string | string[]>): string {
  return stringify(params)
    .replace(/!/g, '%21')
    .replace(/'/g, '%27')
    .replace(/\(/g, '%28')
    .replace(/\)/g, '%29')
    .replace(/\*/g, '%2A');
}

const interop = useWorld();
const { expectAccepted, expectNextForwarded } = interop;

describe('npm oauth: signature methods, header placement', () => {
  test.each(['HMAC-SHA1', 'HMAC-SHA256'] as const)('%s GET with token credentials', async (method) => {
    const target = '/photos?file=vacation.jpg&size=original';
    const reply = await call((cb) =>
      client(CLIENT, method).get(`${interop.world.origin}${target}`, TOKEN.token, TOKEN.tokenSecret, cb),
    );
    expectAccepted(reply, ALICE, 'GET', target);
  });

  test('RSA-SHA1 with the private key passed as the consumer secret', async () => {
    const oa = new OAuth(null, null, RSA_CLIENT.clientId, RSA_KEYS.privateKey, '1.0', null, 'RSA-SHA1');
    const target = '/photos/rsa?size=small';
    const reply = await call((cb) =>
      oa.get(`${interop.world.origin}${target}`, RSA_TOKEN.token, RSA_TOKEN.tokenSecret, cb),
    );
    expectAccepted(
      reply,
      { user: 'carol', clientId: RSA_CLIENT.clientId, scope: 'photos:read' },
      'GET',
      target,
    );
  });

  test('RSA-SHA1 signed with a different private key is rejected', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const stranger = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const oa = new OAuth(null, null, RSA_CLIENT.clientId, stranger.privateKey, '1.0', null, 'RSA-SHA1');
    const before = interop.world.upstream.requests.length;
    const reply = await call((cb) =>
      oa.get(`${interop.world.origin}/photos`, RSA_TOKEN.token, RSA_TOKEN.tokenSecret, cb),
    );
    expectRejected(reply, 401, 'invalid_signature', 'signature_invalid');
    expect(interop.world.upstream.requests).toHaveLength(before);
  }, 20_000);

  test('getProtectedResource and delete use the method they are given', async () => {
    const target = '/photos/42';
    const deleted = await call((cb) =>
      client(CLIENT).delete(`${interop.world.origin}${target}`, TOKEN.token, TOKEN.tokenSecret, cb),
    );
    expectAccepted(deleted, ALICE, 'DELETE', target);
    const got = await call((cb) =>
      client(CLIENT, 'HMAC-SHA256').getProtectedResource(
        `${interop.world.origin}${target}`,
        'GET',
        TOKEN.token,
        TOKEN.tokenSecret,
        cb,
      ),
    );
    expectAccepted(got, ALICE, 'GET', target);
  });

  test('realm in the Authorization header is accepted and not signed (§3.5.1)', async () => {
    const url = `${interop.world.origin}/photos?size=large`;
    const header = client(CLIENT).authHeader(url, TOKEN.token, TOKEN.tokenSecret, 'GET');
    expect(header.startsWith('OAuth ')).toBe(true);
    const withRealm = header.replace(/^OAuth /, 'OAuth realm="Photos \\"Example\\" API",');
    const reply = await interop.world.send('/photos?size=large', { headers: { authorization: withRealm } });
    const record = expectNextForwarded(reply);
    expect(record.url).toBe('/photos?size=large');
    expectIdentity(record, ALICE);
  });

  test('two-legged (no oauth_token): client identity only, no X-OAuth-User', async () => {
    const target = '/photos?two=legged';
    const reply = await call((cb) => client(CLIENT).get(`${interop.world.origin}${target}`, null, null, cb));
    const record = expectAccepted(reply, CLIENT_ONLY, 'GET', target);
    expect(receivedHeader(record, 'x-oauth-user')).toEqual([]);
    expect(receivedHeader(record, 'x-oauth-client-id')).toEqual([CLIENT.clientId]);
  });

  test('identity headers sent by the client are replaced, never forwarded', async () => {
    const oa = client(CLIENT, 'HMAC-SHA1', {
      'X-OAuth-User': 'mallory',
      X_OAuth_Client_Id: 'evil-app',
      'x-oauth-scope': 'photos:admin',
      'X-OAuth-Method': 'none',
    });
    const reply = await call((cb) =>
      oa.get(`${interop.world.origin}/photos/spoof`, TOKEN.token, TOKEN.tokenSecret, cb),
    );
    const record = expectAccepted(reply, ALICE, 'GET', '/photos/spoof');
    expect(receivedHeader(record, 'x_oauth_client_id')).toEqual([]);
  });
});

describe('npm oauth: query parameters, unicode and reserved characters', () => {
  test.each([
    ['é (UTF-8 percent-encoded)', '/photos?title=caf%C3%A9'],
    ['emoji', '/photos?mood=%F0%9F%98%80'],
    ['reserved characters, encoded', '/photos?r=%21%2A%27%28%29'],
    ['reserved characters, raw !*()', '/photos?r=!*()'],
    ['space as %20', '/photos?q=hello%20world'],
    ['space as + (form decoding)', '/photos?q=hello+world'],
    ['literal plus as %2B', '/photos?sum=1%2B1'],
    ['percent sign', '/photos?pct=100%25'],
    ['empty value', '/photos?empty=&size=large'],
    ['name without =', '/photos?flag&size=large'],
    ['encoded name', '/photos?caf%C3%A9=%C3%A9t%C3%A9'],
    ['unicode path', '/photos/caf%C3%A9/%F0%9F%98%80'],
    ['unicode path and query', '/albums/%C3%A9t%C3%A9?tag=%F0%9F%8C%9E&tag2=na%C3%AFve'],
  ])('%s: %s', async (_label, target) => {
    const reply = await call((cb) =>
      client(CLIENT).get(`${interop.world.origin}${target}`, TOKEN.token, TOKEN.tokenSecret, cb),
    );
    expectAccepted(reply, ALICE, 'GET', target);
  });

  test.each(['HMAC-SHA1', 'HMAC-SHA256'] as const)(
    '%s with secrets full of reserved and non-ASCII characters',
    async (method) => {
      const target = '/photos?who=%C3%A9%20%2B%20%F0%9F%98%80';
      const reply = await call((cb) =>
        client(UNICODE_CLIENT, method).get(
          `${interop.world.origin}${target}`,
          UNICODE_TOKEN.token,
          UNICODE_TOKEN.tokenSecret,
          cb,
        ),
      );
      expectAccepted(
        reply,
        { user: 'bob', clientId: UNICODE_CLIENT.clientId, scope: 'photos:read' },
        'GET',
        target,
      );
    },
  );

  test('repeated query names: the lib signs them as a[0], a[1] (a client bug) and is refused', async () => {
    // lib/oauth.js _prepareParameters turns querystring arrays into `key[index]` names for the
    // signature while sending `a=1&a=2`; an RFC 5849 server must reject that signature.
    const before = interop.world.upstream.requests.length;
    const reply = await call((cb) =>
      client(CLIENT).get(`${interop.world.origin}/photos?a=1&a=2`, TOKEN.token, TOKEN.tokenSecret, cb),
    );
    expectRejected(reply, 401, 'invalid_signature', 'signature_invalid');
    expect(interop.world.upstream.requests).toHaveLength(before);
  });
});

describe('npm oauth: form POST bodies (signed parameter by parameter, §3.4.1.3.1)', () => {
  test.each([
    ['simple', { status: 'hello' }],
    ['spaces and reserved characters', { status: "hi there !*'() & = + %" }],
    ['unicode and emoji', { title: 'café', mood: '😀', clé: 'été' }],
    ['repeated names', { tag: ['b', 'a', 'a'], other: 'x' }],
    ['empty values', { empty: '', also: ['', 'x'] }],
  ] as const)('%s', async (_label, params) => {
    const body = libFormBody(params as Record<string, string | string[]>);
    const target = '/photos/upload?album=summer';
    const reply = await call((cb) =>
      client(CLIENT).post(
        `${interop.world.origin}${target}`,
        TOKEN.token,
        TOKEN.tokenSecret,
        { ...(params as Record<string, string | string[]>) },
        null,
        cb,
      ),
    );
    const record = expectAccepted(reply, ALICE, 'POST', target);
    expect(record.body.toString('utf8')).toBe(body);
    expect(record.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  test('HMAC-SHA256 form PUT', async () => {
    const params = { caption: 'sunset at the beach', rating: '5' };
    const reply = await call((cb) =>
      client(CLIENT, 'HMAC-SHA256').put(
        `${interop.world.origin}/photos/7`,
        TOKEN.token,
        TOKEN.tokenSecret,
        { ...params },
        null,
        cb,
      ),
    );
    const record = expectAccepted(reply, ALICE, 'PUT', '/photos/7');
    expect(record.body.toString('utf8')).toBe(libFormBody(params));
  });

  test('a non-form body is passed through byte for byte (not signed, no body hash sent)', async () => {
    const json = JSON.stringify({ caption: 'café 😀' });
    const reply = await call((cb) =>
      client(CLIENT).post(
        `${interop.world.origin}/photos/json`,
        TOKEN.token,
        TOKEN.tokenSecret,
        json,
        'application/json',
        cb,
      ),
    );
    const record = expectAccepted(reply, ALICE, 'POST', '/photos/json');
    expect(record.body.toString('utf8')).toBe(json);
    expect(record.headers['content-type']).toBe('application/json');
  });
});

import { createHash, createHmac, sign as rsaSign } from 'node:crypto';
import OAuth from 'oauth-1.0a';
import { request as undiciRequest } from 'undici';
import { describe, expect, test } from 'vitest';
import {
  ALICE,
  CLIENT,
  CLIENT_ONLY,
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
 * npm `oauth-1.0a` (a signer only: the caller supplies `hash_function` and sends the request
 * itself) against the running gateway, with WHATWG fetch and undici.request as transports, and
 * the protocol parameters in the header, the query and the form body.
 */

type Method = 'HMAC-SHA1' | 'HMAC-SHA256' | 'RSA-SHA1';

const HASH: Record<Method, OAuth.HashFunction> = {
  'HMAC-SHA1': (base, key) => createHmac('sha1', key).update(base).digest('base64'),
  'HMAC-SHA256': (base, key) => createHmac('sha256', key).update(base).digest('base64'),
  // The signing key string is irrelevant for RSA: the consumer's private key signs.
  'RSA-SHA1': (base) => rsaSign('sha1', Buffer.from(base), RSA_KEYS.privateKey).toString('base64'),
};

function signer(
  consumer: { clientId: string; clientSecret: string },
  method: Method = 'HMAC-SHA1',
  extra: Partial<OAuth.Options> = {},
): OAuth {
  return new OAuth({
    consumer: { key: consumer.clientId, secret: consumer.clientSecret },
    signature_method: method,
    hash_function: HASH[method],
    // draft-eaton-oauth-bodyhash: base64(SHA-1(body)), not an HMAC.
    body_hash_function: (body) => createHash('sha1').update(body).digest('base64'),
    ...extra,
  });
}

const ALICE_TOKEN: OAuth.Token = { key: TOKEN.token, secret: TOKEN.tokenSecret };

/** application/x-www-form-urlencoded with §3.6 encoding, repeated names kept in order. */
function formEncode(oauth: OAuth, data: Record<string, string | number | readonly string[]>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(data)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      parts.push(`${oauth.percentEncode(name)}=${oauth.percentEncode(String(item))}`);
    }
  }
  return parts.join('&');
}

/**
 * authorize() merges the URL's query and `request.data` into the object it returns (mergeObject
 * mutates its first argument); only the oauth_* members are protocol parameters.
 */
function protocolOnly(data: OAuth.Authorization): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(data)) if (name.startsWith('oauth_')) out[name] = String(value);
  return out;
}

/** What WHATWG fetch puts on the wire for `url` (it escapes `'` in a query, for one). */
function wireTarget(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}

async function viaFetch(url: string, init: RequestInit): Promise<Reply> {
  const res = await fetch(url, init);
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
}

const interop = useWorld();
const { expectAccepted } = interop;

describe('oauth-1.0a: Authorization header (toHeader(authorize(request, token)))', () => {
  test.each([
    ['HMAC-SHA1', '/photos?file=vacation.jpg&size=original'],
    ['HMAC-SHA256', '/photos?file=vacation.jpg&size=original'],
    ['HMAC-SHA1', '/photos?title=caf%C3%A9&mood=%F0%9F%98%80'],
    ['HMAC-SHA256', "/photos?r=!*'()&enc=%21%2A%27%28%29"],
    ['HMAC-SHA1', '/photos?q=hello%20world&sum=1%2B1&pct=100%25'],
    ['HMAC-SHA1', '/photos?tag=b&tag=a&tag=c'],
    ['HMAC-SHA256', '/photos?empty=&size=large'],
    ['HMAC-SHA1', '/albums/%C3%A9t%C3%A9/%F0%9F%8C%9E?n=1'],
  ] as const)('%s with fetch: %s', async (method, target) => {
    const oauth = signer(CLIENT, method);
    const url = `${interop.world.origin}${target}`;
    const { Authorization } = oauth.toHeader(oauth.authorize({ url, method: 'GET' }, ALICE_TOKEN));
    const reply = await viaFetch(url, { headers: { Authorization } });
    expectAccepted(reply, ALICE, 'GET', wireTarget(url));
  });

  test('RSA-SHA1 through a custom hash_function, sent with undici.request', async () => {
    const oauth = signer(RSA_CLIENT, 'RSA-SHA1');
    const url = `${interop.world.origin}/photos/rsa?size=small`;
    const { Authorization } = oauth.toHeader(
      oauth.authorize({ url, method: 'GET' }, { key: RSA_TOKEN.token, secret: RSA_TOKEN.tokenSecret }),
    );
    const res = await undiciRequest(url, { headers: { authorization: Authorization } });
    const reply: Reply = { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    expectAccepted(
      reply,
      { user: 'carol', clientId: RSA_CLIENT.clientId, scope: 'photos:read' },
      'GET',
      '/photos/rsa?size=small',
    );
  });

  test('realm option: sent in the header, ignored by the signature', async () => {
    const oauth = signer(CLIENT, 'HMAC-SHA256', { realm: 'http://photos.example.net/' });
    const url = `${interop.world.origin}/photos?size=large`;
    const { Authorization } = oauth.toHeader(oauth.authorize({ url, method: 'GET' }, ALICE_TOKEN));
    expect(Authorization).toMatch(/^OAuth realm="http:\/\/photos\.example\.net\/", oauth_/);
    expectAccepted(await viaFetch(url, { headers: { Authorization } }), ALICE, 'GET', '/photos?size=large');
  });

  test('secrets with reserved and non-ASCII characters', async () => {
    const oauth = signer(UNICODE_CLIENT, 'HMAC-SHA1');
    const url = `${interop.world.origin}/photos?who=%C3%A9`;
    const { Authorization } = oauth.toHeader(
      oauth.authorize(
        { url, method: 'GET' },
        { key: UNICODE_TOKEN.token, secret: UNICODE_TOKEN.tokenSecret },
      ),
    );
    expectAccepted(
      await viaFetch(url, { headers: { Authorization } }),
      { user: 'bob', clientId: UNICODE_CLIENT.clientId, scope: 'photos:read' },
      'GET',
      '/photos?who=%C3%A9',
    );
  });

  test('two-legged: no token, so no oauth_token and no X-OAuth-User', async () => {
    const oauth = signer(CLIENT, 'HMAC-SHA1');
    const url = `${interop.world.origin}/photos/public`;
    const data = oauth.authorize({ url, method: 'GET' });
    expect(data.oauth_token).toBeUndefined();
    expectAccepted(
      await viaFetch(url, { headers: { ...oauth.toHeader(data) } }),
      CLIENT_ONLY,
      'GET',
      '/photos/public',
    );
  });

  test.each([
    ['simple', { status: 'hello' }],
    ['reserved, unicode, emoji', { status: "hi !*'() & = + % café 😀", clé: 'été' }],
    ['repeated names', { tag: ['b', 'a'], other: 'x' }],
    ['empty value', { empty: '', status: 'x' }],
  ] as const)('form POST body, parameters signed (§3.4.1.3.1): %s', async (_label, data) => {
    const oauth = signer(CLIENT, 'HMAC-SHA1');
    const url = `${interop.world.origin}/photos/upload`;
    const body = formEncode(oauth, data);
    const { Authorization } = oauth.toHeader(
      oauth.authorize({ url, method: 'POST', data: structuredClone(data) }, ALICE_TOKEN),
    );
    const reply = await viaFetch(url, {
      method: 'POST',
      headers: { Authorization, 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
    });
    const record = expectAccepted(reply, ALICE, 'POST', '/photos/upload');
    expect(record.body.toString('utf8')).toBe(body);
  });

  test('JSON body with oauth_body_hash (includeBodyHash): accepted; a changed body is refused', async () => {
    const oauth = signer(CLIENT, 'HMAC-SHA256');
    const url = `${interop.world.origin}/photos/meta`;
    const json = JSON.stringify({ caption: 'café 😀', rating: 5 });
    const data = oauth.authorize({ url, method: 'PUT', data: json, includeBodyHash: true }, ALICE_TOKEN);
    expect(data.oauth_body_hash).toBe(createHash('sha1').update(json).digest('base64'));
    const headers = { ...oauth.toHeader(data), 'Content-Type': 'application/json' };
    const record = expectAccepted(
      await viaFetch(url, { method: 'PUT', headers, body: json }),
      ALICE,
      'PUT',
      '/photos/meta',
    );
    expect(record.body.toString('utf8')).toBe(json);

    const again = oauth.authorize({ url, method: 'PUT', data: json, includeBodyHash: true }, ALICE_TOKEN);
    const tampered = await viaFetch(url, {
      method: 'PUT',
      headers: { ...oauth.toHeader(again), 'Content-Type': 'application/json' },
      body: json.replace('5', '1'),
    });
    expectRejected(tampered, 401, 'invalid_signature', 'signature_invalid');
    expect(interop.world.upstream.requests).toHaveLength(interop.forwarded);
  });
});

describe('oauth-1.0a: protocol parameters in the query (§3.5.3)', () => {
  test.each([
    ['HMAC-SHA1', '/photos?size=large'],
    ['HMAC-SHA256', '/photos?title=caf%C3%A9&tag=a&tag=b&empty='],
    ['HMAC-SHA1', '/photos'],
  ] as const)('%s %s', async (method, base) => {
    const oauth = signer(CLIENT, method);
    const data = oauth.authorize({ url: `${interop.world.origin}${base}`, method: 'GET' }, ALICE_TOKEN);
    const target = `${base}${base.includes('?') ? '&' : '?'}${formEncode(oauth, protocolOnly(data))}`;
    const reply = await interop.world.send(target);
    const record = expectAccepted(reply, ALICE, 'GET', target);
    // The upstream sees the query as sent, protocol parameters included.
    expect(record.url).toContain('oauth_signature=');
  });
});

describe('oauth-1.0a: protocol parameters in the form body (§3.5.2)', () => {
  test.each(['HMAC-SHA1', 'HMAC-SHA256'] as const)('%s', async (method) => {
    const oauth = signer(CLIENT, method);
    const url = `${interop.world.origin}/photos/comments?photo=7`;
    const fields = { comment: 'nice shot! é 😀', tag: ['x', 'y'] };
    const data = oauth.authorize({ url, method: 'POST', data: structuredClone(fields) }, ALICE_TOKEN);
    const body = formEncode(oauth, { ...fields, ...protocolOnly(data) });
    const reply = await viaFetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
    });
    const record = expectAccepted(reply, ALICE, 'POST', '/photos/comments?photo=7');
    expect(record.body.toString('utf8')).toBe(body);
  });
});

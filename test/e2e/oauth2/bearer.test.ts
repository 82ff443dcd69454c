import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signOAuth1Request } from '../../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import {
  bearer,
  challenges,
  expectBareBearerChallenge,
  expectBearerError,
  receivedIdentity,
  send,
} from './support.js';

/**
 * OAuth 2.0 bearer tokens from the file credential store (Authlib OAuth2Token-shaped records),
 * through the real gateway to a recording upstream: RFC 6750 §2 (where a token may travel), §3
 * (challenges and status codes) and the identity the upstream receives.
 */

const OAUTH1_REALM = 'oauth1-realm';
const REALM = 'bearer-realm';
const NOW = Math.floor(Date.now() / 1000);

const ACTIVE = {
  accessToken: 'active-alice-token',
  clientId: 'demo-client',
  userId: 'alice',
  scope: 'photos:read photos:write',
  revoked: false,
  issuedAt: NOW - 60,
  expiresIn: 3600,
};
/** client_credentials-like: no resource owner, so no user header upstream. */
const SERVICE = {
  accessToken: 'service-token',
  clientId: 'service-client',
  scope: 'reports:read',
  revoked: false,
  issuedAt: NOW - 60,
  expiresIn: 3600,
};
const REVOKED = { ...ACTIVE, accessToken: 'revoked-token', revoked: true };
const EXPIRED = { ...ACTIVE, accessToken: 'expired-token', issuedAt: NOW - 7200, expiresIn: 3600 };

const OAUTH1_CLIENT = { clientId: 'oauth1-consumer', clientSecret: 'consumer-secret' };
const OAUTH1_TOKEN = {
  token: 'oauth1-token',
  tokenSecret: 'oauth1-token-secret',
  clientId: OAUTH1_CLIENT.clientId,
  userId: 'bob',
  scope: 'photos:read',
};

function gatewayConfig(upstream: string, oauth2: Record<string, unknown> = {}): Record<string, unknown> {
  const route = (name: string, pathPrefix: string, extra: Record<string, unknown> = {}) => ({
    name,
    match: { pathPrefix },
    upstream,
    auth: 'oauth2',
    ...extra,
  });
  return {
    oauth1: { realm: OAUTH1_REALM },
    oauth2: { realm: REALM, tokenSources: ['store'], ...oauth2 },
    routes: [
      route('api', '/api'),
      route('photos', '/photos', { scopes: ['photos:read'] }),
      route('admin', '/admin', { scopes: ['photos:read', 'photos:admin'] }),
      route('any', '/any', { auth: 'any' }),
      route('pass', '/pass', { passAuthorization: true }),
    ],
  };
}

const credentials = {
  clients: [OAUTH1_CLIENT],
  tokens: [OAUTH1_TOKEN],
  bearerTokens: [ACTIVE, SERVICE, REVOKED, EXPIRED],
};

describe('bearer tokens from the file store, end to end', () => {
  let upstream: TestUpstream;
  /** Query and form tokens disabled (the default). */
  let strict: TestGateway;
  /** allowQueryToken and allowFormToken on. */
  let lenient: TestGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    strict = await startTestGateway({ config: gatewayConfig(upstream.url), credentials });
    lenient = await startTestGateway({
      config: gatewayConfig(upstream.url, { allowQueryToken: true, allowFormToken: true }),
      credentials,
    });
  });
  afterAll(async () => {
    await strict?.stop();
    await lenient?.stop();
    await upstream?.close();
  });

  /** Sends and returns the reply plus what the upstream got from this one request (if anything). */
  async function through(gw: TestGateway, target: string, init: Parameters<typeof send>[2] = {}) {
    const before = upstream.requests.length;
    const reply = await send(gw.url, target, init);
    const received = upstream.requests.slice(before);
    expect(received.length).toBeLessThanOrEqual(1);
    return { reply, received: received[0] };
  }

  describe('Authorization: Bearer (RFC 6750 §2.1)', () => {
    it('an active token passes with the user, client, scope and method headers; Authorization is stripped', async () => {
      const { reply, received } = await through(strict, '/api/items?x=1', {
        headers: { ...bearer(ACTIVE.accessToken), 'x-oauth-user': 'mallory', 'X-OAuth-Scope': 'admin' },
      });
      expect(reply.status).toBe(200);
      expect(received?.url).toBe('/api/items?x=1');
      expect(receivedIdentity(received!)).toEqual({
        user: ['alice'],
        client: ['demo-client'],
        scope: ['photos:read photos:write'],
        method: ['oauth2'],
        authorization: [],
      });
    });

    it('the scheme name is case-insensitive', async () => {
      const { reply } = await through(strict, '/api/x', {
        headers: { authorization: `bEaReR ${ACTIVE.accessToken}` },
      });
      expect(reply.status).toBe(200);
    });

    it('a token without a user (client_credentials) sends no user header, even a spoofed one', async () => {
      const { reply, received } = await through(strict, '/api/x', {
        headers: { ...bearer(SERVICE.accessToken), 'x-oauth-user': 'mallory', 'x-oauth-client-id': 'evil' },
      });
      expect(reply.status).toBe(200);
      expect(receivedIdentity(received!)).toEqual({
        user: [],
        client: ['service-client'],
        scope: ['reports:read'],
        method: ['oauth2'],
        authorization: [],
      });
    });

    it.each([
      ['revoked', REVOKED.accessToken],
      ['expired', EXPIRED.accessToken],
      ['unknown', 'never-issued-token'],
    ])(
      '%s token → 401 invalid_token with an error challenge; the upstream receives nothing',
      async (_name, token) => {
        const { reply, received } = await through(strict, '/api/x', { headers: bearer(token) });
        expectBearerError(reply, 401, 'invalid_token', REALM);
        expect(reply.text).not.toContain(token);
        expect(received).toBeUndefined();
      },
    );

    it('no credentials → 401 with the bare challenge (no error attribute, RFC 6750 §3.1)', async () => {
      const { reply, received } = await through(strict, '/api/x');
      expectBareBearerChallenge(reply, REALM);
      expect(received).toBeUndefined();
    });

    it('a malformed Bearer value → 400 invalid_request', async () => {
      const { reply, received } = await through(strict, '/api/x', {
        headers: { authorization: 'Bearer a b' },
      });
      expectBearerError(reply, 400, 'invalid_request', REALM);
      expect(received).toBeUndefined();
    });
  });

  describe('route scopes (RFC 6750 §3.1 insufficient_scope)', () => {
    it('a token holding the scope passes', async () => {
      const { reply, received } = await through(strict, '/photos/1', { headers: bearer(ACTIVE.accessToken) });
      expect(reply.status).toBe(200);
      expect(received).toBeDefined();
    });

    it('a valid token without the scope → 403 with scope="…" naming every required scope', async () => {
      const service = await through(strict, '/photos/1', { headers: bearer(SERVICE.accessToken) });
      const challenge = expectBearerError(service.reply, 403, 'insufficient_scope', REALM);
      expect(challenge).toMatch(/, scope="photos:read"$/);
      expect(service.received).toBeUndefined();

      // Holds one of the two: all are required.
      const partial = await through(strict, '/admin/1', { headers: bearer(ACTIVE.accessToken) });
      const both = expectBearerError(partial.reply, 403, 'insufficient_scope', REALM);
      expect(both).toMatch(/, scope="photos:read photos:admin"$/);
      expect(partial.received).toBeUndefined();
    });
  });

  describe('query and form tokens (RFC 6750 §2.2, §2.3)', () => {
    it('a query token is refused when disabled: treated as no credentials, nothing reaches the upstream', async () => {
      const { reply, received } = await through(strict, `/api/x?access_token=${ACTIVE.accessToken}`);
      expectBareBearerChallenge(reply, REALM);
      expect(received).toBeUndefined();
    });

    it('a query token is accepted with allowQueryToken: true', async () => {
      const { reply, received } = await through(lenient, `/api/x?access_token=${ACTIVE.accessToken}`);
      expect(reply.status).toBe(200);
      expect(receivedIdentity(received!).user).toEqual(['alice']);
    });

    it('a form-body token is refused when disabled and accepted with allowFormToken: true (body replayed)', async () => {
      const body = `access_token=${ACTIVE.accessToken}&caption=hello`;
      const init = {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      };
      const refused = await through(strict, '/api/upload', init);
      expectBareBearerChallenge(refused.reply, REALM);
      expect(refused.received).toBeUndefined();

      const accepted = await through(lenient, '/api/upload', init);
      expect(accepted.reply.status).toBe(200);
      expect(receivedIdentity(accepted.received!).client).toEqual(['demo-client']);
      await accepted.received!.settled;
      expect(accepted.received!.body.toString()).toBe(body);
    });

    it('a form token on GET is not a form token (RFC 6750 §2.2)', async () => {
      const { reply, received } = await through(lenient, '/api/x', {
        method: 'GET',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `access_token=${ACTIVE.accessToken}`,
      });
      expectBareBearerChallenge(reply, REALM);
      expect(received).toBeUndefined();
    });

    it.each([
      ['header + query', `/api/x?access_token=${ACTIVE.accessToken}`, bearer(ACTIVE.accessToken), undefined],
      [
        'query twice',
        `/api/x?access_token=${ACTIVE.accessToken}&access_token=${ACTIVE.accessToken}`,
        {},
        undefined,
      ],
      [
        'header + form',
        '/api/x',
        { ...bearer(ACTIVE.accessToken), 'content-type': 'application/x-www-form-urlencoded' },
        `access_token=${ACTIVE.accessToken}`,
      ],
    ])('%s → 400 invalid_request', async (_name, target, headers, body) => {
      const { reply, received } = await through(lenient, target, {
        method: body === undefined ? 'GET' : 'POST',
        headers,
        ...(body === undefined ? {} : { body }),
      });
      expectBearerError(reply, 400, 'invalid_request', REALM);
      expect(received).toBeUndefined();
    });
  });

  describe('auth: any', () => {
    it('no credentials → 401 answering with both challenges, no error codes', async () => {
      const before = upstream.requests.length;
      // Raw, to see each WWW-Authenticate header line as sent.
      const res = await rawRequest(
        strict.port,
        'GET /any/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      );
      expect(res.status).toBe(401);
      const lines = res.headerList.filter(([name]) => name === 'www-authenticate').map(([, value]) => value);
      expect(lines).toEqual([`OAuth realm="${OAUTH1_REALM}"`, `Bearer realm="${REALM}"`]);
      expect(upstream.requests.length).toBe(before);
    });

    it('accepts a bearer token', async () => {
      const { reply, received } = await through(strict, '/any/x', { headers: bearer(ACTIVE.accessToken) });
      expect(reply.status).toBe(200);
      expect(receivedIdentity(received!)).toMatchObject({ user: ['alice'], method: ['oauth2'] });
    });

    it('accepts an OAuth1 signed request', async () => {
      const authorization = signOAuth1Request({
        method: 'GET',
        url: `${strict.url}/any/x`,
        consumerKey: OAUTH1_CLIENT.clientId,
        consumerSecret: OAUTH1_CLIENT.clientSecret,
        token: OAUTH1_TOKEN.token,
        tokenSecret: OAUTH1_TOKEN.tokenSecret,
      });
      const { reply, received } = await through(strict, '/any/x', { headers: { authorization } });
      expect(reply.status).toBe(200);
      expect(receivedIdentity(received!)).toEqual({
        user: ['bob'],
        client: [OAUTH1_CLIENT.clientId],
        scope: ['photos:read'],
        method: ['oauth1'],
        authorization: [],
      });
    });

    it('a bad bearer token is still judged as a bearer token (401 invalid_token)', async () => {
      const { reply, received } = await through(strict, '/any/x', { headers: bearer(REVOKED.accessToken) });
      expectBearerError(reply, 401, 'invalid_token', REALM);
      expect(received).toBeUndefined();
    });
  });

  describe('passAuthorization', () => {
    it('true forwards the Authorization header as sent; the default strips it', async () => {
      const passed = await through(strict, '/pass/x', { headers: bearer(ACTIVE.accessToken) });
      expect(passed.reply.status).toBe(200);
      expect(receivedIdentity(passed.received!).authorization).toEqual([`Bearer ${ACTIVE.accessToken}`]);

      const stripped = await through(strict, '/api/x', { headers: bearer(ACTIVE.accessToken) });
      expect(stripped.reply.status).toBe(200);
      expect(receivedIdentity(stripped.received!).authorization).toEqual([]);
    });
  });

  it('401/403 bodies are JSON and never echo the token', async () => {
    const reply = await send(strict.url, '/admin/x', { headers: bearer(ACTIVE.accessToken) });
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.text).not.toContain(ACTIVE.accessToken);
    expect(challenges(reply).join()).not.toContain(ACTIVE.accessToken);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signOAuth1Request } from '../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { bearer, challenges, send } from './oauth2/support.js';

/**
 * Route `anyScopes` through the real gateway (issue 14): Authlib's `@require_oauth(['photos:read',
 * 'admin'])` lets in a token holding either scope; `anyScopes: [photos:read, admin]` is its
 * translation, while `scopes: [photos:read, admin]` (all required) is `@require_oauth('photos:read
 * admin')`. Same rule for OAuth1 token credentials; the 403 challenge names the scopes (RFC 6750 §3).
 */

const NOW = Math.floor(Date.now() / 1000);
const bearerToken = (accessToken: string, scope: string) => ({
  accessToken,
  clientId: 'app',
  userId: 'alice',
  scope,
  issuedAt: NOW - 10,
  expiresIn: 3600,
});

describe('anyScopes: at least one of the listed scopes', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    const base = { upstream: upstream.url, auth: 'any' };
    gw = await startTestGateway({
      config: {
        oauth1: { realm: 'photos' },
        oauth2: { realm: 'photos' },
        routes: [
          { ...base, name: 'either', match: { pathPrefix: '/either' }, anyScopes: ['photos:read', 'admin'] },
          { ...base, name: 'both', match: { pathPrefix: '/both' }, scopes: ['photos:read', 'admin'] },
          {
            ...base,
            name: 'mixed',
            match: { pathPrefix: '/mixed' },
            scopes: ['profile'],
            anyScopes: ['photos:read', 'admin'],
          },
        ],
      },
      credentials: {
        clients: [{ clientId: 'consumer', clientSecret: 'consumer-secret' }],
        tokens: [
          {
            token: 'o1-reader',
            tokenSecret: 's1',
            clientId: 'consumer',
            userId: 'alice',
            scope: 'photos:read',
          },
          {
            token: 'o1-writer',
            tokenSecret: 's2',
            clientId: 'consumer',
            userId: 'alice',
            scope: 'photos:write',
          },
        ],
        bearerTokens: [
          bearerToken('reader', 'photos:read'),
          bearerToken('admin', 'admin'),
          bearerToken('writer', 'photos:write'),
          bearerToken('profile-reader', 'profile photos:read'),
        ],
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  const status = async (path: string, token: string) =>
    (await send(gw.url, path, { headers: bearer(token) })).status;

  it('OAuth2: either scope opens an anyScopes route; scopes (all of) needs both', async () => {
    expect(await status('/either/x', 'reader')).toBe(200);
    expect(await status('/either/x', 'admin')).toBe(200);
    expect(await status('/both/x', 'reader')).toBe(403);
    expect(await status('/both/x', 'admin')).toBe(403);
  });

  it('OAuth2: neither scope → 403 insufficient_scope with scope="photos:read admin"', async () => {
    const reply = await send(gw.url, '/either/x', { headers: bearer('writer') });
    expect(reply.status).toBe(403);
    expect(JSON.parse(reply.text)).toMatchObject({ error: 'insufficient_scope' });
    expect(challenges(reply)[0]).toMatch(
      /^Bearer realm="photos", error="insufficient_scope", .*scope="photos:read admin"$/,
    );
  });

  it('both lists: every one of scopes AND one of anyScopes', async () => {
    expect(await status('/mixed/x', 'profile-reader')).toBe(200);
    expect(await status('/mixed/x', 'reader')).toBe(403); // no profile
    const reply = await send(gw.url, '/mixed/x', { headers: bearer('reader') });
    expect(challenges(reply)[0]).toContain('scope="profile photos:read admin"');
  });

  it('OAuth1 token credentials are judged by the same rule', async () => {
    const signed = (token: string, secret: string) => ({
      authorization: signOAuth1Request({
        method: 'GET',
        url: `${gw.url}/either/x`,
        consumerKey: 'consumer',
        consumerSecret: 'consumer-secret',
        token,
        tokenSecret: secret,
      }),
    });
    expect((await send(gw.url, '/either/x', { headers: signed('o1-reader', 's1') })).status).toBe(200);
    const refused = await send(gw.url, '/either/x', { headers: signed('o1-writer', 's2') });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toMatchObject({ error: 'insufficient_scope' });
  });
});

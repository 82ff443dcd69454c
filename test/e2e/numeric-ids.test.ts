import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signOAuth1Request } from '../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { bearer, receivedIdentity, send } from './oauth2/support.js';

/**
 * Issue 14: Authlib's example models keep `user_id` (and often `client_id`) as Integer columns, so
 * a credentials.yaml exported from them says `userId: 42`. The gateway reads it as the user "42"
 * and the upstream sees `X-OAuth-User: 42`, for OAuth 2.0 bearer tokens and OAuth1 tokens alike.
 * (Introspection answers and JWT claims: test/introspect/sources/*.test.ts; Redis records are
 * strings already and are walked in test/e2e/authlib/.)
 */

const NOW = Math.floor(Date.now() / 1000);

describe('integer ids in credentials.yaml', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      config: {
        routes: [{ name: 'api', match: { pathPrefix: '/' }, upstream: upstream.url, auth: 'any' }],
      },
      credentials: {
        clients: [{ clientId: 1001, clientSecret: 'consumer-secret' }],
        tokens: [{ token: 'oauth1-token', tokenSecret: 'token-secret', clientId: 1001, userId: 42 }],
        bearerTokens: [
          {
            accessToken: 'numeric-user-token',
            clientId: 7,
            userId: 42,
            scope: 'photos:read',
            issuedAt: NOW - 10,
            expiresIn: 3600,
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  it('a bearer token with userId: 42 and clientId: 7 → X-OAuth-User: 42, X-OAuth-Client-Id: 7', async () => {
    const reply = await send(gw.url, '/photos', { headers: bearer('numeric-user-token') });
    expect(reply.status).toBe(200);
    expect(receivedIdentity(upstream.requests.at(-1)!)).toMatchObject({
      user: ['42'],
      client: ['7'],
      method: ['oauth2'],
    });
  });

  it('an OAuth1 token with userId: 42 under the consumer 1001 → X-OAuth-User: 42', async () => {
    const authorization = signOAuth1Request({
      method: 'GET',
      url: `${gw.url}/photos`,
      consumerKey: '1001',
      consumerSecret: 'consumer-secret',
      token: 'oauth1-token',
      tokenSecret: 'token-secret',
    });
    const reply = await send(gw.url, '/photos', { headers: { authorization } });
    expect(reply.status).toBe(200);
    expect(receivedIdentity(upstream.requests.at(-1)!)).toMatchObject({
      user: ['42'],
      client: ['1001'],
      method: ['oauth1'],
    });
  });
});

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signOAuth1Request } from '../../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { bearer, challenges, type Reply, send, sha256Hex, sleep } from '../oauth2/support.js';
import {
  type AuthlibEnv,
  type AuthlibProcess,
  asPost,
  DOCS_DIR,
  guideSnippet,
  issueToken,
  newDatabasePath,
  requireAuthlib,
  startAuthlib,
} from './authlib-process.js';

/**
 * Issue 14: docs/migration-authlib.md, walked in order against a REAL Authlib 1.2 deployment
 * (python/authlib_app.py: Flask + flask_sqlalchemy, OAuth2TokenMixin models, alice is user 42,
 * password and client_credentials grants, IntrospectionEndpoint, RevocationEndpoint) and the
 * unchanged `@require_oauth` app being migrated. The gateway configs are the guide's `# guide:`
 * YAML blocks and the Authlib code is the guide's `# guide:` Python blocks, so each assertion
 * checks a promise the guide makes. Test-only changes to a block are named where they are made.
 */

const GATEWAY_SECRET = randomBytes(24).toString('hex'); // letters and digits, as the guide says
const PHOTO_APP = ['photo-app', 'photoappsecret'] as const;
const JWT_APP = ['jwt-app', 'jwtappsecret'] as const;
const ALICE = ['alice', 'wonderland'] as const;
const REALM = 'oauth-gateway';

type Json = Record<string, unknown>;
const body = (reply: Reply): Json => JSON.parse(reply.text) as Json;
const get = (gw: TestGateway, token?: string) =>
  send(gw.url, '/api/photos', token === undefined ? {} : { headers: bearer(token) });

describe('docs/migration-authlib.md against Authlib 1.2', () => {
  let env: AuthlibEnv;
  let db: ReturnType<typeof newDatabasePath>;
  let as: AuthlibProcess;
  let app: AuthlibProcess;
  let gw: TestGateway;
  /** alice's tokens by scope. */
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    requireAuthlib();
    db = newDatabasePath();
    env = {
      dbPath: db.path,
      gatewaySecret: GATEWAY_SECRET,
      redisUrl: inject('redisUrl'),
      keyPrefix: `authlib-e2e-${randomBytes(4).toString('hex')}:`,
    };
    // In parallel: the resource app touches the database only when asked, after the AS seeded it.
    [as, app] = await Promise.all([
      startAuthlib('as', env),
      startAuthlib('resource', env, { PROTECT_IN_APP: '1' }),
    ]);
    for (const scope of ['photos:read', 'admin', 'profile']) {
      tokens[scope] = await issueToken(as, PHOTO_APP, scope, ALICE);
    }
    gw = await startTestGateway({
      config: guideSnippet('migration-authlib.md', 'rollout-1'),
      env: { APP_URL: app.url, AUTHLIB_URL: as.url, INTROSPECTION_SECRET: GATEWAY_SECRET },
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    await app?.stop();
    await as?.stop();
    db?.remove();
  });

  async function configure(config: Json): Promise<void> {
    await gw.writeFiles({ config });
    expect(await gw.reload()).toBe(true);
  }

  it('before: the Authlib app protects itself (@require_oauth with any-of scopes, user 42)', async () => {
    const direct = await send(app.url, '/api/photos', { headers: bearer(tokens['photos:read']!) });
    expect(direct.status).toBe(200);
    expect(body(direct)).toMatchObject({ user: '42' });
    const missing = await send(app.url, '/api/photos');
    expect(missing.status).toBe(401);
    expect(body(missing)).toMatchObject({ error: 'missing_authorization' });
  });

  it('step 1 (rollout-1): auth none + passAuthorization: the unchanged app keeps working', async () => {
    const reply = await get(gw, tokens['photos:read']);
    expect(reply.status).toBe(200);
    expect(body(reply)).toMatchObject({ user: '42' });
    expect(reply.headers['x-saw-authorization']).toBe('yes');

    // Why the guide insists: without passAuthorization the decorator never sees the token.
    const withoutPass = structuredClone(guideSnippet('migration-authlib.md', 'rollout-1'));
    delete (withoutPass['routes'] as Json[])[0]!['passAuthorization'];
    await configure(withoutPass);
    const broken = await get(gw, tokens['photos:read']);
    expect(broken.status).toBe(401);
    expect(body(broken)).toMatchObject({ error: 'missing_authorization' });
    await configure(guideSnippet('migration-authlib.md', 'rollout-1'));
  });

  it('step 2 (rollout-2): the gateway introspects at Authlib and checks anyScopes; the decorators still run', async () => {
    const config = guideSnippet('migration-authlib.md', 'rollout-2');
    // Test-only: a 2 s cache so the revocation step below does not wait out the 5 min default.
    ((config['oauth2'] as Json)['introspection'] as Json)['cache'] = { maxTtl: '2s' };
    await configure(config);

    for (const scope of ['photos:read', 'admin']) {
      const reply = await get(gw, tokens[scope]);
      expect(reply.status, scope).toBe(200);
      expect(body(reply)).toMatchObject({ user: '42' });
      expect(reply.headers['x-saw-authorization']).toBe('yes');
    }
    // Neither scope: the gateway's 403 names both alternatives; the app is never asked.
    const refused = await get(gw, tokens['profile']);
    expect(refused.status).toBe(403);
    expect(body(refused)).toMatchObject({ error: 'insufficient_scope' });
    expect(challenges(refused)[0]).toContain('scope="photos:read admin"');
    expect(refused.headers['x-saw-authorization']).toBeUndefined();
    // An unknown token is the gateway's 401 invalid_token, as Authlib's would be.
    const unknown = await get(gw, 'not-a-token-authlib-issued');
    expect(unknown.status).toBe(401);
    expect(body(unknown)).toMatchObject({ error: 'invalid_token' });
    // No credentials: RFC 6750 §3.1's bare challenge, not Authlib's missing_authorization (section 5).
    const bare = await get(gw);
    expect(bare.status).toBe(401);
    expect(challenges(bare)).toEqual([`Bearer realm="${REALM}"`]);
    expect(body(bare)['error']).toBeUndefined();
  });

  it('step 3 (app-after + final): decorators removed, the app reads X-OAuth-User = "42", no token forwarded', async () => {
    // Redeploy the app without @require_oauth, on the same address.
    const port = String(app.port);
    await app.stop();
    app = await startAuthlib('resource', env, { PROTECT_IN_APP: '0', PORT: port });
    const config = guideSnippet('migration-authlib.md', 'final');
    const rollout = guideSnippet('migration-authlib.md', 'rollout-2');
    // The final block shows only the route; the oauth2 section stays as in step 2 (2 s cache).
    config['oauth2'] = rollout['oauth2'];
    ((config['oauth2'] as Json)['introspection'] as Json)['cache'] = { maxTtl: '2s' };
    await configure(config);

    const reply = await get(gw, tokens['photos:read']);
    expect(reply.status).toBe(200);
    expect(body(reply)).toMatchObject({ user: '42' });
    expect(reply.headers['x-saw-authorization']).toBe('no');
    expect((await get(gw, tokens['admin'])).status).toBe(200);
    expect((await get(gw, tokens['profile'])).status).toBe(403);
    // A client_credentials token has no user: the header is absent (Authlib answers sub: null).
    const service = await get(gw, await issueToken(as, PHOTO_APP, 'photos:read'));
    expect(service.status).toBe(200);
    expect(body(service)['user']).toBeNull();
    // And a client cannot smuggle an identity in.
    const spoofed = await send(gw.url, '/api/photos', {
      headers: { ...bearer(tokens['admin']!), 'x-oauth-user': '1' },
    });
    expect(body(spoofed)).toMatchObject({ user: '42' });
  });

  it('revocation at Authlib is visible at the gateway within introspection.cache.maxTtl (2 s here)', async () => {
    const token = await issueToken(as, PHOTO_APP, 'photos:read', ALICE);
    expect((await get(gw, token)).status).toBe(200); // now cached
    const { status } = await asPost(as, '/oauth/revoke', PHOTO_APP, {
      token,
      token_type_hint: 'access_token',
    });
    expect(status).toBe(200);
    const revokedAt = Date.now();
    let last = 200;
    while (last === 200 && Date.now() - revokedAt < 6_000) {
      last = (await get(gw, token)).status;
      if (last === 200) await sleep(100);
    }
    const elapsed = Date.now() - revokedAt;
    console.log('authlib revocation: refused %d ms after revoking (maxTtl 2000)', elapsed);
    expect(last).toBe(401);
    expect(elapsed).toBeLessThan(2_000 + 1_500); // maxTtl, plus scheduling slack on a loaded machine
  });

  describe('docs/redis.md: records written by the guide snippet', () => {
    let redisGw: TestGateway;
    beforeAll(async () => {
      redisGw = await startTestGateway({
        config: {
          redis: { url: env.redisUrl, keyPrefix: env.keyPrefix },
          credentials: { type: 'redis', cacheTtl: '1s' },
          oauth2: { tokenSources: ['store'] },
          routes: [
            ...(guideSnippet('migration-authlib.md', 'final')['routes'] as Json[]),
            {
              name: 'signed',
              match: { pathPrefix: '/oauth1' },
              upstream: app.url,
              stripPrefix: true,
              auth: 'oauth1',
            },
          ],
        },
        env: { APP_URL: app.url },
      });
    });
    afterAll(async () => {
      await redisGw?.stop();
    });

    it('a token saved by Authlib is accepted with user 42; revoking it at Authlib deletes it within cacheTtl', async () => {
      const token = await issueToken(as, PHOTO_APP, 'admin', ALICE);
      const reply = await get(redisGw, token);
      expect(reply.status).toBe(200);
      expect(body(reply)).toMatchObject({ user: '42' });
      await asPost(as, '/oauth/revoke', PHOTO_APP, { token, token_type_hint: 'access_token' });
      const revokedAt = Date.now();
      let last = 200;
      while (last === 200 && Date.now() - revokedAt < 5_000) {
        last = (await get(redisGw, token)).status;
        if (last === 200) await sleep(100);
      }
      expect(last).toBe(401);
      expect(Date.now() - revokedAt).toBeLessThan(1_000 + 1_500);
    });

    it('OAuth1 records written by save_oauth1_client / save_oauth1_token verify a signed request', async () => {
      const records = {
        clientId: 'o1-consumer',
        clientSecret: 'o1-secret',
        token: 'o1-token',
        tokenSecret: 'o1-ts',
      };
      const seeded = await fetch(`${as.url}/test/oauth1-records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(records),
      });
      expect(seeded.status).toBe(200);
      const authorization = signOAuth1Request({
        method: 'GET',
        url: `${redisGw.url}/oauth1/api/photos`,
        consumerKey: records.clientId,
        consumerSecret: records.clientSecret,
        token: records.token,
        tokenSecret: records.tokenSecret,
      });
      const reply = await send(redisGw.url, '/oauth1/api/photos', { headers: { authorization } });
      expect(reply.status).toBe(200);
      expect(body(reply)).toMatchObject({ user: '42' });
    });
  });

  describe('section 6: at+jwt tokens signed by Authlib (authlib.jose, typ overridden)', () => {
    let jwtGw: TestGateway;
    beforeAll(async () => {
      const config = guideSnippet('migration-authlib.md', 'jwt');
      jwtGw = await startTestGateway({
        config: { ...config, routes: guideSnippet('migration-authlib.md', 'final')['routes'] },
        env: { APP_URL: app.url, AUTHLIB_URL: as.url },
      });
    });
    afterAll(async () => {
      await jwtGw?.stop();
    });

    it('a JWT from the guide generator is accepted with user 42; a rotated key works within ~2 s', async () => {
      const first = await issueToken(as, JWT_APP, 'photos:read', ALICE);
      expect(JSON.parse(Buffer.from(first.split('.')[0]!, 'base64url').toString())).toMatchObject({
        typ: 'at+jwt',
      });
      const reply = await get(jwtGw, first);
      expect(reply.status).toBe(200);
      expect(body(reply)).toMatchObject({ user: '42' });

      // Rotate at the AS and sign with the new key at once (the harshest case).
      const rotated = (await (await fetch(`${as.url}/test/rotate-key`, { method: 'POST' })).json()) as {
        kid: string;
      };
      const rotatedAt = Date.now();
      const next = await issueToken(as, JWT_APP, 'photos:read', ALICE);
      expect(JSON.parse(Buffer.from(next.split('.')[0]!, 'base64url').toString()).kid).toBe(rotated.kid);
      let status = 0;
      while (status !== 200 && Date.now() - rotatedAt < 10_000) {
        status = (await get(jwtGw, next)).status;
        if (status !== 200) {
          expect(status).toBe(401); // refused until the refetch, never 5xx
          await sleep(100);
        }
      }
      const elapsed = Date.now() - rotatedAt;
      console.log('authlib key rotation: new kid accepted %d ms after the rotation', elapsed);
      expect(status).toBe(200);
      expect(elapsed).toBeLessThan(3_000);
      expect((await get(jwtGw, first)).status).toBe(200); // the old key is still published
    });
  });

  describe('section 7: every 503 is logged at warn and counted, by cause', () => {
    async function failureGateway(introspection: Json): Promise<TestGateway> {
      return startTestGateway({
        config: {
          oauth2: {
            tokenSources: ['introspection'],
            introspection: { clientId: 'gateway', ...introspection },
          },
          routes: guideSnippet('migration-authlib.md', 'final')['routes'],
        },
        env: { APP_URL: app.url },
      });
    }
    async function expect503(failing: TestGateway, token: string, cause: string): Promise<Json> {
      const reply = await get(failing, token);
      expect(reply.status).toBe(503);
      expect(body(reply)).toMatchObject({ error: 'temporarily_unavailable' });
      const line = failing
        .logEntries()
        .find((entry) => entry['level'] === 'warn' && entry['cause'] === cause);
      expect(line, `warn line for ${cause}`).toBeDefined();
      expect(line).toMatchObject({ source: 'introspection', tokenHash: sha256Hex(token).slice(0, 8) });
      const metrics = await (await fetch(`${failing.adminUrl}/metrics`)).text();
      expect(metrics).toContain(
        `oauth_gateway_auth_backend_failures_total{source="introspection",cause="${cause}"} 1`,
      );
      expect(failing.logs.join('\n')).not.toContain(token);
      return line!;
    }

    it('Authlib refuses the client auth (a secret with + / =, which Authlib 1.2 does not form-decode)', async () => {
      const failing = await failureGateway({
        url: `${as.url}/oauth/introspect`,
        clientId: 'gateway-plus',
        clientSecret: 'gw+se/cret=',
      });
      try {
        const line = await expect503(failing, tokens['photos:read']!, 'client_auth_refused');
        expect(line['status']).toBe(401);
        // The line section 7 shows is this line (its token hash aside).
        const shown = /```json\n(\{.*\})\n```/.exec(
          readFileSync(join(DOCS_DIR, 'migration-authlib.md'), 'utf8'),
        );
        const { tokenHash, ...documented } = JSON.parse(shown![1]!) as Json;
        expect(tokenHash).toMatch(/^[0-9a-f]{8}$/);
        expect(line).toMatchObject(documented);
        expect(failing.logs.join('\n')).not.toContain('gw+se/cret=');
      } finally {
        await failing.stop();
      }
    });

    it("section 1's workaround: the same secret works over client_secret_post when the endpoint allows it", async () => {
      const gateway = await failureGateway({
        url: `${as.url}/oauth/introspect-post`,
        clientId: 'gateway-plus',
        clientSecret: 'gw+se/cret=',
        authMethod: 'client_secret_post',
      });
      try {
        const reply = await get(gateway, tokens['photos:read']);
        expect(reply.status).toBe(200);
        expect(body(reply)).toMatchObject({ user: '42' });
      } finally {
        await gateway.stop();
      }
    });

    it('a malformed answer (an introspection handler returning exp as a datetime)', async () => {
      const failing = await failureGateway({
        url: `${as.url}/oauth/introspect-date-exp`,
        clientSecret: GATEWAY_SECRET,
      });
      try {
        const line = await expect503(failing, tokens['photos:read']!, 'malformed_response');
        expect(line).toMatchObject({ status: 200, field: 'exp' });
      } finally {
        await failing.stop();
      }
    });

    it('Authlib is down', async () => {
      const failing = await failureGateway({
        url: `${as.url}/oauth/introspect`,
        clientSecret: GATEWAY_SECRET,
      });
      try {
        await as.stop();
        const line = await expect503(failing, tokens['admin']!, 'unreachable');
        expect(line['code']).toBe('ECONNREFUSED');
      } finally {
        await failing.stop();
      }
    });
  });
});

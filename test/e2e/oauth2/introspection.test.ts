import { createHmac, createPublicKey } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import {
  type AuthorizationServer,
  GATEWAY_CLIENT,
  RESOURCES,
  SERVICE_CLIENT,
  startAuthorizationServer,
} from '../../introspect/helpers/authorization-server.js';
import {
  type AsGate,
  bearer,
  errorCode,
  expectBearerError,
  histogram,
  receivedIdentity,
  send,
  sleep,
  startAsGate,
  until,
} from './support.js';

/**
 * Bearer tokens issued by a real authorization server (oidc-provider, in-process) and judged by the
 * real gateway: RFC 7662 introspection of opaque tokens, RFC 9068 JWT access tokens via the JWKS,
 * audience and forgery checks, coalescing of concurrent misses, the AS going down, key rotation.
 */

const REALM = 'api';
const INTROSPECT_PATH = '/token/introspection';

function routes(upstream: string): Record<string, unknown>[] {
  const route = (name: string, pathPrefix: string, extra: Record<string, unknown> = {}) => ({
    name,
    match: { pathPrefix },
    upstream,
    auth: 'oauth2',
    ...extra,
  });
  return [
    route('api', '/api'),
    route('opaque-only', '/opaque', { audience: RESOURCES.opaque }),
    route('jwt-only', '/jwt', { audience: RESOURCES.jwt }),
    route('writers', '/write', { scopes: ['write'] }),
  ];
}

function introspectionBlock(url: string, cache: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url,
    clientId: GATEWAY_CLIENT.clientId,
    clientSecret: GATEWAY_CLIENT.clientSecret,
    timeout: '2s',
    cache,
  };
}

function introspectionGateway(upstream: string, url: string, cache: Record<string, unknown> = {}) {
  return startTestGateway({
    config: {
      oauth2: {
        realm: REALM,
        tokenSources: ['introspection'],
        introspection: introspectionBlock(url, cache),
      },
      routes: routes(upstream),
    },
  });
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('oauth2 against oidc-provider, end to end', () => {
  let as: AuthorizationServer;
  let upstream: TestUpstream;
  let introspecting: TestGateway;
  let verifying: TestGateway;
  /** When `verifying` first fetched the JWKS (logged with the rotation timing). */
  let jwksFetchedAt = 0;

  beforeAll(async () => {
    as = await startAuthorizationServer();
    upstream = await startUpstream();
    introspecting = await introspectionGateway(upstream.url, as.introspectionUrl);
    verifying = await startTestGateway({
      config: {
        oauth2: {
          realm: REALM,
          tokenSources: ['jwt'],
          jwt: {
            jwksUri: as.jwksUri,
            issuer: as.issuer,
            audience: RESOURCES.jwt,
            algorithms: ['RS256'],
            // jwksCooldown stays at its 30 s default: an unknown kid refetches after the 1 s floor.
          },
          // Only for its cache settings (the cache sits in front of every source), at their
          // defaults (negativeTtl 10 s): an unknown-kid refusal is cached only until the next
          // allowed refetch, so the key-rotation test needs no shortened TTL.
          introspection: introspectionBlock(as.introspectionUrl),
        },
        routes: routes(upstream.url),
      },
    });
  });
  afterAll(async () => {
    await introspecting?.stop();
    await verifying?.stop();
    await upstream?.close();
    await as?.close();
  });

  async function through(gw: TestGateway, target: string, token: string) {
    const before = upstream.requests.length;
    const reply = await send(gw.url, target, { headers: bearer(token) });
    return { reply, received: upstream.requests[before] };
  }

  describe('RFC 9068 JWT access tokens (tokenSources: [jwt])', () => {
    it('a JWT access token for the configured resource → 200, client id, no user (client_credentials)', async () => {
      const introspectionsBefore = as.requests(INTROSPECT_PATH);
      const token = await as.getToken({ resource: 'jwt', scope: 'read write' });
      jwksFetchedAt = Date.now();
      const { reply, received } = await through(verifying, '/jwt/items', token);
      expect(reply.status).toBe(200);
      expect(receivedIdentity(received!)).toEqual({
        user: [],
        client: [SERVICE_CLIENT.clientId],
        scope: ['read write'],
        method: ['oauth2'],
        authorization: [],
      });
      // Verified locally: the AS was asked for its keys, never about the token.
      expect(as.requests('/jwks')).toBeGreaterThanOrEqual(1);
      expect(as.requests(INTROSPECT_PATH)).toBe(introspectionsBefore);
    });

    it('a user token (sub ≠ client_id) sends the user header', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await as.sign({
        iss: as.issuer,
        aud: RESOURCES.jwt,
        sub: 'alice',
        client_id: 'web-app',
        scope: 'read',
        iat: now,
        exp: now + 60,
        jti: 'user-token',
      });
      const { reply, received } = await through(verifying, '/api/x', token);
      expect(reply.status).toBe(200);
      expect(receivedIdentity(received!)).toMatchObject({ user: ['alice'], client: ['web-app'] });
    });

    describe('forgeries and wrong claims → 401 invalid_token', () => {
      const claims = (overrides: Record<string, unknown> = {}) => {
        const now = Math.floor(Date.now() / 1000);
        return {
          iss: as.issuer,
          aud: RESOURCES.jwt,
          sub: 'mallory',
          client_id: 'mallory-app',
          scope: 'read write admin',
          iat: now,
          exp: now + 60,
          ...overrides,
        };
      };

      it('control: the same claims genuinely signed pass', async () => {
        expect((await through(verifying, '/api/x', await as.sign(claims()))).reply.status).toBe(200);
      });

      it('alg: none (with and without the real kid)', async () => {
        for (const header of [
          { alg: 'none', typ: 'at+jwt' },
          { alg: 'none', typ: 'at+jwt', kid: as.kid },
        ]) {
          const { reply, received } = await through(
            verifying,
            '/api/x',
            `${b64url(header)}.${b64url(claims())}.`,
          );
          expectBearerError(reply, 401, 'invalid_token', REALM);
          expect(received).toBeUndefined();
        }
      });

      it('HS256 keyed with the published public key (PEM, DER, JWK)', async () => {
        const jwk = as.publicJwk();
        const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
        const secrets: (string | Buffer)[] = [
          publicKey.export({ type: 'spki', format: 'pem' }) as string,
          publicKey.export({ type: 'spki', format: 'der' }) as Buffer,
          JSON.stringify(jwk),
        ];
        for (const secret of secrets) {
          const input = `${b64url({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid })}.${b64url(claims())}`;
          const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
          const { reply, received } = await through(verifying, '/api/x', forged);
          expectBearerError(reply, 401, 'invalid_token', REALM);
          expect(received).toBeUndefined();
        }
      });

      it.each([
        ['wrong issuer', { iss: 'https://evil.example' }, {}],
        ['wrong audience', { aud: 'https://api.example.test/other' }, {}],
        ['expired', { exp: Math.floor(Date.now() / 1000) - 60 }, {}],
        ['an ID-token-like typ: JWT', {}, { typ: 'JWT' }],
      ])('%s', async (_name, overrides, header) => {
        const token = await as.sign(claims(overrides), header);
        const { reply, received } = await through(verifying, '/api/x', token);
        expectBearerError(reply, 401, 'invalid_token', REALM);
        expect(received).toBeUndefined();
      });

      it('a cached token is never served past its exp (cache maxTtl 5 m, jose clockTolerance 5 s)', async () => {
        const exp = Math.floor(Date.now() / 1000) + 2;
        const token = await as.sign(claims({ exp, jti: 'short-lived' }));
        // `start`/`at`: when a request was sent / answered; each rule uses the conservative one.
        const timeline: { start: number; at: number; status: number }[] = [];
        while (Date.now() < exp * 1000 + 600) {
          const start = Date.now();
          const { status } = (await through(verifying, '/api/x', token)).reply;
          timeline.push({ start, at: Date.now(), status });
          await sleep(50);
        }
        console.log(
          'exp: %d×200 until %d ms before exp, then %j',
          timeline.filter((entry) => entry.status === 200).length,
          exp * 1000 - Math.max(...timeline.filter((e) => e.status === 200).map((e) => e.at)),
          histogram(timeline.filter((entry) => entry.status !== 200).map((entry) => entry.status)),
        );
        for (const entry of timeline) {
          if (entry.at < exp * 1000 - 100) expect(entry.status).toBe(200);
          if (entry.start >= exp * 1000 + 50) expect(entry.status).toBe(401);
        }
        expect(timeline.filter((entry) => entry.start >= exp * 1000 + 50).length).toBeGreaterThan(3);
      });

      it('a signature that does not match the payload (payload swapped after signing)', async () => {
        const [header, , signature] = (await as.sign(claims())).split('.');
        const tampered = `${header}.${b64url(claims({ scope: 'read write admin superuser' }))}.${signature}`;
        expectBearerError((await through(verifying, '/api/x', tampered)).reply, 401, 'invalid_token', REALM);
      });
    });
  });

  describe('RFC 7662 introspection (tokenSources: [introspection])', () => {
    it('an opaque client_credentials token → 200 with client id and scope, no user', async () => {
      const token = await as.getToken({ resource: 'opaque', scope: 'read write' });
      const { reply, received } = await through(introspecting, '/api/items', token);
      expect(reply.status).toBe(200);
      expect(receivedIdentity(received!)).toEqual({
        user: [],
        client: [SERVICE_CLIENT.clientId],
        scope: ['read write'],
        method: ['oauth2'],
        authorization: [],
      });
    });

    it('route audience: a token for another resource → 401; for this one → 200; with no audience → 401', async () => {
      const opaque = await as.getToken({ resource: 'opaque', scope: 'read' });
      expect((await through(introspecting, '/opaque/x', opaque)).reply.status).toBe(200);
      const wrong = await through(introspecting, '/jwt/x', opaque);
      expectBearerError(wrong.reply, 401, 'invalid_token', REALM);
      expect(wrong.received).toBeUndefined();

      // No resource indicator: oidc-provider issues it without `aud`; a route that names one refuses it.
      const unbound = await as.getToken();
      expect((await through(introspecting, '/api/x', unbound)).reply.status).toBe(200);
      expectBearerError(
        (await through(introspecting, '/opaque/x', unbound)).reply,
        401,
        'invalid_token',
        REALM,
      );
    });

    it('route scopes: 403 insufficient_scope when the token lacks one', async () => {
      const reader = await as.getToken({ resource: 'opaque', scope: 'read' });
      const reply = (await through(introspecting, '/write/x', reader)).reply;
      expect(expectBearerError(reply, 403, 'insufficient_scope', REALM)).toMatch(/, scope="write"$/);
      const writer = await as.getToken({ resource: 'opaque', scope: 'write' });
      expect((await through(introspecting, '/write/x', writer)).reply.status).toBe(200);
    });

    it('revoked and unknown tokens → 401 invalid_token', async () => {
      const token = await as.getToken({ resource: 'opaque', scope: 'read' });
      await as.revoke(token);
      for (const bad of [token, 'never-issued-by-the-as']) {
        const { reply, received } = await through(introspecting, '/api/x', bad);
        expectBearerError(reply, 401, 'invalid_token', REALM);
        expect(received).toBeUndefined();
      }
    });

    it('1000 concurrent requests with one uncached token → exactly 1 introspection call at the AS', async () => {
      const gate: AsGate = await startAsGate(as.issuer);
      const gw = await introspectionGateway(upstream.url, `${gate.url}${INTROSPECT_PATH}`);
      try {
        const token = await as.getToken({ resource: 'opaque', scope: 'read' });
        const atAsBefore = as.requests(INTROSPECT_PATH);
        const upstreamBefore = upstream.requests.length;
        const N = 1000;

        // Hold introspection so every request is in flight at the gateway before the AS answers.
        gate.hold(INTROSPECT_PATH);
        const replies = Array.from({ length: N }, (_, i) =>
          send(gw.url, `/api/burst/${i}`, { headers: bearer(token), timeoutMs: 20_000 }),
        );
        await until(
          () => gw.gateway.proxy.inFlight >= N,
          15_000,
          'all requests to be in flight at the gateway',
        );
        await sleep(100); // every request has reached the cache; any extra call would be waiting at the gate
        const heldAtRelease = gate.held();
        gate.release();
        const statuses = (await Promise.all(replies)).map((reply) => reply.status);

        console.log(
          'burst: statuses=%j introspection calls at gate=%d (held at release=%d) at AS=%d cache=%j',
          histogram(statuses),
          gate.count(INTROSPECT_PATH),
          heldAtRelease,
          as.requests(INTROSPECT_PATH) - atAsBefore,
          gw.gateway.runtime.tokens.stats(),
        );
        expect(histogram(statuses)).toEqual({ 200: N });
        expect(heldAtRelease).toBe(1);
        expect(gate.count(INTROSPECT_PATH)).toBe(1);
        expect(as.requests(INTROSPECT_PATH) - atAsBefore).toBe(1);
        expect(upstream.requests.length - upstreamBefore).toBe(N);

        // And once cached, more requests cost nothing at the AS.
        expect((await through(gw, '/api/again', token)).reply.status).toBe(200);
        expect(gate.count(INTROSPECT_PATH)).toBe(1);
      } finally {
        gate.release();
        await gw.stop();
        await gate.close();
      }
    });
  });

  describe('authorization server outage', () => {
    it('uncached tokens → 503 temporarily_unavailable (never 200); a cached token → 200 until its TTL; JWTs keep verifying', async () => {
      const MAX_TTL = 2_000;
      const gw = await introspectionGateway(upstream.url, as.introspectionUrl, { maxTtl: '2s' });
      let asDown = false;
      try {
        const cached = await as.getToken({ resource: 'opaque', scope: 'read' });
        const uncached = await as.getToken({ resource: 'opaque', scope: 'read' });
        const jwt = await as.getToken({ resource: 'jwt', scope: 'read' });

        const sentAt = Date.now();
        expect((await through(gw, '/api/warm', cached)).reply.status).toBe(200);
        const answeredAt = Date.now();

        await as.stop();
        asDown = true;

        const upstreamBefore = upstream.requests.length;
        for (let i = 0; i < 5; i++) {
          const reply = (await through(gw, '/api/x', uncached)).reply;
          expect(reply.status).toBe(503);
          expect(errorCode(reply)).toBe('temporarily_unavailable');
          expect(reply.headers['www-authenticate']).toBeUndefined();
        }
        expect(upstream.requests.length).toBe(upstreamBefore);

        // The JWKS was fetched before the outage; verification is local.
        expect((await through(verifying, '/api/x', jwt)).reply.status).toBe(200);

        // The cached token: 200 while its entry lives (≤ maxTtl from when the AS answered), then 503.
        const timeline: { start: number; at: number; status: number }[] = [];
        while (Date.now() < answeredAt + MAX_TTL + 1_000) {
          const start = Date.now();
          const reply = (await through(gw, '/api/x', cached)).reply;
          timeline.push({ start, at: Date.now(), status: reply.status });
          await sleep(50);
        }
        const firstNot200 = timeline.find((entry) => entry.status !== 200);
        console.log(
          'outage: cached token %d×200 then %d×503; switched %d ms after the AS answered (maxTtl %d)',
          timeline.filter((entry) => entry.status === 200).length,
          timeline.filter((entry) => entry.status === 503).length,
          firstNot200 === undefined ? -1 : firstNot200.at - answeredAt,
          MAX_TTL,
        );
        for (const entry of timeline) {
          if (entry.at < sentAt + MAX_TTL - 100) expect(entry.status).toBe(200);
          else if (entry.start > answeredAt + MAX_TTL + 100) expect(entry.status).toBe(503);
          else expect([200, 503]).toContain(entry.status);
        }
        expect(firstNot200).toBeDefined();

        await as.start();
        asDown = false;
        expect((await through(gw, '/api/x', uncached)).reply.status).toBe(200);
        expect((await through(gw, '/api/x', cached)).reply.status).toBe(200);
      } finally {
        if (asDown) await as.start();
        await gw.stop();
      }
    });
  });

  describe('JWKS key rotation', () => {
    it('a token signed with a new key is accepted once the JWKS is refetched; old-key tokens keep working', async () => {
      const oldKeyToken = await as.getToken({ resource: 'jwt', scope: 'read' });
      const { kid } = await as.rotateKeys();
      const newKeyToken = await as.getToken({ resource: 'jwt', scope: 'read' });
      expect(decodeProtectedHeader(newKeyToken).kid).toBe(kid);
      expect(decodeProtectedHeader(oldKeyToken).kid).not.toBe(kid);
      const jwksBefore = as.requests('/jwks');
      const rotatedAt = Date.now();

      // Unknown kid → refetch at once when the last fetch is over the 1 s floor (issue 14), however
      // long jwksCooldown is; before that the token is refused, never 5xx, and that refusal is not
      // cached past the floor.
      const statuses: number[] = [];
      for (;;) {
        const status = (await through(verifying, '/jwt/x', newKeyToken)).reply.status;
        statuses.push(status);
        if (status === 200 || Date.now() - rotatedAt > 10_000) break;
        await sleep(100);
      }
      console.log(
        'rotation: accepted %d ms after rotation (%d ms after the first JWKS fetch); before that %j; JWKS fetches %d',
        Date.now() - rotatedAt,
        Date.now() - jwksFetchedAt,
        histogram(statuses.slice(0, -1)),
        as.requests('/jwks') - jwksBefore,
      );
      expect(statuses.at(-1)).toBe(200);
      expect(statuses.slice(0, -1).every((status) => status === 401)).toBe(true);
      // The new key came from a refetch, bounded: not one fetch per rejected request.
      expect(as.requests('/jwks') - jwksBefore).toBeGreaterThanOrEqual(1);
      expect(as.requests('/jwks') - jwksBefore).toBeLessThanOrEqual(2);
      // The JWKS still publishes the old key: tokens it signed keep working.
      expect((await through(verifying, '/jwt/x', oldKeyToken)).reply.status).toBe(200);
      // Accepted after the floor, not after the 30 s cooldown or the 10 s negative TTL: bounded by
      // the polling itself (100 ms steps), so the bound holds on a loaded machine too.
      expect(statuses.length).toBeLessThanOrEqual(40);
    }, 30_000);
  });
});

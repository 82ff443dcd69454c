import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { type RawResponse, rawRequest } from '../../helpers/raw-http.js';
import {
  type RecordedRequest,
  receivedHeader,
  startUpstream,
  type TestUpstream,
} from '../../helpers/upstream.js';
import {
  ADMIN_BEARER,
  BEARER,
  CONSUMER,
  credentials,
  gatewayConfig,
  MACHINE_BEARER,
  type Ports,
  rawGet,
  signedHeader,
  signedQuery,
  TOKEN,
} from './support.js';

/**
 * One suite, run through each real front proxy (nginx auth_request, Caddy forward_auth) started
 * from the example config in examples/forward-auth/, in front of the recording test upstream, with
 * the gateway's authorize listener as the authorization service. Every assertion is about what
 * the CLIENT got back and what the APP actually received.
 */

export interface RunningFront {
  readonly port: number;
  stop(): Promise<void>;
  /** The front's own log, shown when a test fails. */
  diagnostics(): Promise<string>;
}

export interface FrontSpec {
  readonly name: string;
  /** Start the front listening on a port of its choice, asking `authorize`, forwarding to `app`. */
  start(ports: Omit<Ports, 'listen'>): Promise<RunningFront>;
  /** The JSON `error` a client sees for a denial: nginx rebuilds it from X-OAuth-Error. */
  readonly denialBody: 'gateway' | 'error-code-only';
}

const IDENTITY = ['x-oauth-user', 'x-oauth-client-id', 'x-oauth-scope', 'x-oauth-method', 'x-oauth-jkt'];

/** Every header spelling a client could use to smuggle an identity (DESIGN.md, upstream contract). */
const SPOOFED: readonly (readonly [string, string])[] = [
  ['X-OAuth-User', 'mallory'],
  ['x-oauth-user', 'mallory2'],
  ['X_OAuth_User', 'mallory3'],
  ['X-OAuth_User', 'mallory4'],
  ['X-OAUTH-CLIENT-ID', 'evil-client'],
  ['X_OAuth_Client_Id', 'evil-client2'],
  ['X-OAuth-Scope', 'admin'],
  ['x_oauth_scope', 'admin2'],
  ['X-OAuth-Method', 'oauth2'],
  ['X-OAuth-Jkt', 'attacker-key-thumbprint'],
  ['x_oauth_jkt', 'attacker-key-thumbprint2'],
];

/** Identity-like headers the app received, any spelling (`_` read as `-`, as CGI/WSGI do). */
function identitySeen(record: RecordedRequest): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < record.rawHeaders.length; i += 2) {
    const name = record.rawHeaders[i]!.toLowerCase().replaceAll('_', '-');
    if (IDENTITY.includes(name)) out.push([name, record.rawHeaders[i + 1]!]);
  }
  return out.sort();
}

export function forwardAuthSuite(spec: FrontSpec): void {
  describe(`${spec.name} in front of the app, gateway as authorization service`, () => {
    let app: TestUpstream;
    let gw: TestGateway;
    let front: RunningFront;
    let host: string;
    let base: string;

    beforeAll(async () => {
      app = await startUpstream();
      gw = await startTestGateway({ config: gatewayConfig(), credentials: credentials() });
      front = await spec.start({ authorize: gw.authorizePort!, app: app.port });
      host = `127.0.0.1:${front.port}`;
      base = `http://${host}`;
    });

    afterAll(async () => {
      await front?.stop();
      await gw?.stop();
      await app?.close();
    });

    let seenBefore = 0;
    beforeEach(() => {
      seenBefore = app.requests.length;
    });
    /** Requests the app received during this test (the readiness probe excluded). */
    const received = () => app.requests.slice(seenBefore);

    async function send(target: string, headers: readonly (readonly [string, string])[] = []) {
      const reply = await rawRequest(front.port, rawGet(target, host, headers));
      if (reply.status === 0) throw new Error(`${spec.name} gave no answer: ${await front.diagnostics()}`);
      return reply;
    }

    function expectDenied(reply: RawResponse, status: number, error: string | undefined, challenge: RegExp) {
      expect(reply.status, reply.raw).toBe(status);
      expect(reply.headers['www-authenticate'], reply.raw).toMatch(challenge);
      // Exactly one challenge list: a front must not add a second copy of the gateway's.
      expect(reply.headerList.filter(([n]) => n === 'www-authenticate')).toHaveLength(
        reply.headers['www-authenticate']!.split(/, (?=OAuth |Bearer )/).length,
      );
      const body = JSON.parse(reply.body) as Record<string, unknown>;
      expect(body['error']).toBe(error);
      if (spec.denialBody === 'gateway') expect(body['error_description']).toEqual(expect.any(String));
      expect(received()).toHaveLength(0);
    }

    describe('allowed requests reach the app with the gateway identity and nothing the client claimed', () => {
      it('OAuth1 HMAC-SHA1, Authorization header, signed for the URL the client used at the front', async () => {
        const target = '/photos/1?size=big&tag=a%20b';
        const reply = await send(target, [
          ['Authorization', signedHeader('GET', `${base}${target}`)],
          ['X-Request-Id', 'fa-oauth1-header'],
          ...SPOOFED,
        ]);
        expect(reply.status, reply.raw).toBe(200);
        const [seen] = received();
        expect(seen!.url).toBe(target);
        expect(identitySeen(seen!)).toEqual([
          ['x-oauth-client-id', CONSUMER.clientId],
          ['x-oauth-method', 'oauth1'],
          ['x-oauth-scope', TOKEN.scope],
          ['x-oauth-user', TOKEN.userId],
        ]);
        // The credentials stay between client, front and gateway (proxy mode's passAuthorization: false).
        expect(receivedHeader(seen!, 'authorization')).toEqual([]);
      });

      it('OAuth1 HMAC-SHA1, query parameters', async () => {
        const signed = signedQuery('GET', `${base}/photos/2?a=1`);
        const target = signed.slice(base.length);
        const reply = await send(target, SPOOFED);
        expect(reply.status, reply.raw).toBe(200);
        const [seen] = received();
        expect(seen!.url).toBe(target);
        expect(identitySeen(seen!)).toEqual([
          ['x-oauth-client-id', CONSUMER.clientId],
          ['x-oauth-method', 'oauth1'],
          ['x-oauth-scope', TOKEN.scope],
          ['x-oauth-user', TOKEN.userId],
        ]);
      });

      it('bearer', async () => {
        const reply = await send('/feed/latest', [
          ['Authorization', `Bearer ${BEARER.accessToken}`],
          ...SPOOFED,
        ]);
        expect(reply.status, reply.raw).toBe(200);
        const [seen] = received();
        expect(seen!.url).toBe('/feed/latest');
        expect(identitySeen(seen!)).toEqual([
          ['x-oauth-client-id', BEARER.clientId],
          ['x-oauth-method', 'oauth2'],
          ['x-oauth-scope', BEARER.scope],
          ['x-oauth-user', BEARER.userId],
        ]);
      });

      it('client_credentials bearer (no user): the spoofed X-OAuth-User is removed, not kept', async () => {
        const reply = await send('/machine/jobs', [
          ['Authorization', `Bearer ${MACHINE_BEARER.accessToken}`],
          ...SPOOFED,
        ]);
        expect(reply.status, reply.raw).toBe(200);
        expect(identitySeen(received()[0]!)).toEqual([
          ['x-oauth-client-id', MACHINE_BEARER.clientId],
          ['x-oauth-method', 'oauth2'],
          ['x-oauth-scope', MACHINE_BEARER.scope],
        ]);
      });

      it('two-legged OAuth1 (no token, no user): the spoofed X-OAuth-User is removed, not kept', async () => {
        const reply = await send('/machine/run', [
          ['Authorization', signedHeader('GET', `${base}/machine/run`, { twoLegged: true })],
          ...SPOOFED,
        ]);
        expect(reply.status, reply.raw).toBe(200);
        // No scope: the gateway answers `X-OAuth-Scope: ` (empty); nginx sends no empty header.
        expect(identitySeen(received()[0]!).filter(([, v]) => v !== '')).toEqual([
          ['x-oauth-client-id', CONSUMER.clientId],
          ['x-oauth-method', 'oauth1'],
        ]);
      });

      it('an auth: none route: the app gets no identity headers at all', async () => {
        const reply = await send('/public/page', SPOOFED);
        expect(reply.status, reply.raw).toBe(200);
        expect(identitySeen(received()[0]!)).toEqual([]);
      });
    });

    describe('denials reach the client with the status and WWW-Authenticate, and nothing reaches the app', () => {
      it('bad signature → 401 invalid_signature', async () => {
        // Signed for another path than the one requested.
        const reply = await send('/photos/3', [['Authorization', signedHeader('GET', `${base}/photos/4`)]]);
        expectDenied(
          reply,
          401,
          'invalid_signature',
          /^OAuth realm="[^"]*", oauth_problem="signature_invalid"$/,
        );
      });

      it('replay → 401 invalid_nonce', async () => {
        const authorization = signedHeader('GET', `${base}/photos/5`);
        const first = await send('/photos/5', [['Authorization', authorization]]);
        expect(first.status, first.raw).toBe(200);
        seenBefore = app.requests.length;
        const replay = await send('/photos/5', [['Authorization', authorization]]);
        expectDenied(replay, 401, 'invalid_nonce', /^OAuth realm="[^"]*", oauth_problem="nonce_used"$/);
      });

      it('unknown bearer token → 401 invalid_token', async () => {
        const reply = await send('/feed/latest', [['Authorization', 'Bearer not-a-known-token']]);
        expectDenied(reply, 401, 'invalid_token', /^Bearer realm="[^"]*", error="invalid_token"/);
      });

      it('missing scope → 403 insufficient_scope with the scope challenge', async () => {
        const reply = await send('/admin/users', [['Authorization', `Bearer ${BEARER.accessToken}`]]);
        expectDenied(
          reply,
          403,
          'insufficient_scope',
          /^Bearer realm="[^"]*", error="insufficient_scope".*, scope="admin"$/,
        );
      });

      it('no credentials → 401 with a bare challenge (RFC 6750 §3.1)', async () => {
        const reply = await send('/feed/latest');
        expectDenied(reply, 401, undefined, /^Bearer realm="[^"]*"$/);
      });

      it('a form POST signed over its body parameters: the front sends no body, so 401, and the app sees nothing', async () => {
        const body = 'title=sunset';
        const authorization = signedHeader('POST', `${base}/photos/upload`, { form: { title: 'sunset' } });
        const request =
          `POST /photos/upload HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${authorization}\r\n` +
          `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n` +
          `Connection: close\r\n\r\n${body}`;
        const reply = await rawRequest(front.port, request);
        expectDenied(
          reply,
          401,
          'invalid_signature',
          /^OAuth realm="[^"]*", oauth_problem="signature_invalid"$/,
        );
        if (spec.denialBody === 'gateway')
          expect(JSON.parse(reply.body).error_description).toMatch(/form body parameters/);
      });

      it('malformed OAuth1 (unsupported signature method) → 400 invalid_request, not a 500', async () => {
        const authorization = signedHeader('GET', `${base}/photos/6`).replace('HMAC-SHA1', 'HMAC-MD5');
        const reply = await send('/photos/6', [['Authorization', authorization]]);
        expect(reply.status, reply.raw).toBe(400);
        expect(reply.headers['www-authenticate']).toMatch(
          /^OAuth realm="[^"]*", oauth_problem="signature_method_rejected"$/,
        );
        expect(JSON.parse(reply.body).error).toBe('invalid_request');
        expect(received()).toHaveLength(0);
      });
    });

    describe('spoofing the description of the request', () => {
      // The front replaces its own convention's headers and passes the other convention's through
      // to the check: the gateway must believe neither copy from the client.
      for (const spoof of [
        ['X-Original-URI', '/public/x'],
        ['X-Original-Method', 'OPTIONS'],
        ['X-Forwarded-Uri', '/public/x'],
        ['X-Forwarded-Method', 'OPTIONS'],
        ['X-Forwarded-Host', 'elsewhere.test'],
      ] as const) {
        it(`client-sent ${spoof[0]}: ${spoof[1]} does not open /admin`, async () => {
          const reply = await send('/admin/users', [spoof]);
          expect([400, 401], reply.raw).toContain(reply.status);
          expect(received()).toHaveLength(0);
        });
      }
    });

    describe('route bypass shapes never reach a protected path without auth', () => {
      // Each names /admin (oauth2, scope admin) by way of the public route.
      for (const target of BYPASS_SHAPES) {
        it(target, async () => {
          const reply = await send(target);
          expect(reply.status, reply.raw).toBeGreaterThanOrEqual(400);
          expect(reply.status, reply.raw).toBeLessThan(500);
          expect(received()).toHaveLength(0);
        });
      }

      it('an authorised dot-segment request: the app receives the bytes the gateway judged', async () => {
        // The gateway judged /public/x (auth none) after normalising; the app resolves the same.
        const reply = await send('/admin/../public/x');
        expect(reply.status, reply.raw).toBe(200);
        const urls = received().map((r) => r.url);
        expect(urls).toHaveLength(1);
        expect(['/admin/../public/x', '/public/x']).toContain(urls[0]);
      });

      it('with an admin token, the app receives exactly the request-target the gateway judged', async () => {
        // Either the front refuses the shape itself (400) or it forwards the client's bytes
        // unchanged: the gateway judged X-Original-URI/X-Forwarded-Uri, the app reads the same.
        const seen: string[] = [];
        for (const target of BYPASS_SHAPES) {
          seenBefore = app.requests.length;
          const reply = await send(target, [['Authorization', `Bearer ${ADMIN_BEARER.accessToken}`]]);
          const urls = received().map((r) => r.url);
          seen.push(`${target} → ${reply.status} ${urls.join(' ') || '(app not asked)'}`);
          if (reply.status === 200) {
            expect(urls, target).toEqual([target]);
            expect(identitySeen(received()[0]!).find(([n]) => n === 'x-oauth-user')?.[1]).toBe(
              ADMIN_BEARER.userId,
            );
          } else {
            expect([400, 404], `${target}: ${reply.raw}`).toContain(reply.status);
            expect(urls, target).toEqual([]);
          }
        }
        if (process.env['SHOW_BYPASS'] !== undefined)
          process.stderr.write(`${spec.name}\n${seen.join('\n')}\n`);
      });
    });
  });
}

const BYPASS_SHAPES = [
  '/public/../admin/users',
  '/public/%2e%2e/admin/users',
  '/public/%2E%2E/admin/users',
  '/public/.%2e/admin/users',
  '//admin/users',
  '/public//../admin/users',
  '/admin;public/users',
  '/admin/;/users',
  '/public/..;/admin/users',
  '/public/%2e%2e%2fadmin/users',
  '/%61dmin/users',
];

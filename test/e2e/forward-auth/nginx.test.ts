import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { type NginxInstance, startNginx } from '../../helpers/nginx.js';
import { freePort } from '../../helpers/ports.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import { forwardAuthSuite } from './suite.js';
import { BEARER, credentials, ROUTES, rawGet, readExample, templateNginx } from './support.js';

/** Debian's nginx (auth_request built in) running examples/forward-auth/nginx.conf. */
async function startExampleNginx(authorize: number, app: number): Promise<NginxInstance> {
  const example = await readExample('nginx.conf');
  return startNginx(
    (dir, listen) => `  access_log ${dir}/access.log;\n${templateNginx(example, { listen, authorize, app })}`,
  );
}

forwardAuthSuite({
  name: 'nginx auth_request',
  denialBody: 'error-code-only',
  async start({ authorize, app }) {
    const nginx = await startExampleNginx(authorize, app);
    return { port: nginx.port, stop: () => nginx.stop(), diagnostics: () => nginx.errorLog() };
  },
});

/**
 * auth_request turns every check status but 2xx/401/403 into a 500; the example's @oauth_denied
 * gives the client the gateway's status back. These are the statuses docs/forward-auth.md lists.
 */
describe('nginx auth_request: the gateway status reaches the client, not a blanket 500', () => {
  let app: TestUpstream;
  let gw: TestGateway;
  let nginx: NginxInstance;

  beforeAll(async () => {
    app = await startUpstream();
    const closed = await freePort();
    gw = await startTestGateway({
      config: {
        authorize: { listen: { host: '127.0.0.1', port: 0 } },
        oauth2: {
          tokenSources: ['introspection'],
          // Nothing listens there: the introspection backend is down and nothing is cached.
          introspection: { url: `http://127.0.0.1:${closed}/introspect`, clientId: 'gw', clientSecret: 's' },
        },
        routes: [{ name: 'feed', match: { pathPrefix: '/feed' }, auth: 'oauth2' }],
      },
    });
    nginx = await startExampleNginx(gw.authorizePort!, app.port);
  });

  afterAll(async () => {
    await nginx?.stop();
    await gw?.stop();
    await app?.close();
  });

  const send = (target: string, headers: [string, string][] = []) =>
    rawRequest(nginx.port, rawGet(target, `127.0.0.1:${nginx.port}`, headers));

  it('no route → 404 not_found', async () => {
    const reply = await send('/elsewhere');
    expect(reply.status, reply.raw).toBe(404);
    expect(JSON.parse(reply.body)).toEqual({ error: 'not_found' });
  });

  it('auth backend down → 503 temporarily_unavailable', async () => {
    const reply = await send('/feed/x', [['Authorization', 'Bearer some-token']]);
    expect(reply.status, reply.raw).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({ error: 'temporarily_unavailable' });
  });

  it('a malformed bearer request → 400 with the gateway challenge', async () => {
    const reply = await send('/feed/x', [['Authorization', 'Bearer a b c']]);
    expect(reply.status, reply.raw).toBe(400);
    expect(reply.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]*", error="invalid_request"/);
    expect(JSON.parse(reply.body)).toEqual({ error: 'invalid_request' });
  });

  it('the gateway unreachable → 500 server_error, and the app is never asked (fails closed)', async () => {
    const down = await startExampleNginx(await freePort(), app.port);
    try {
      const reply = await rawRequest(down.port, rawGet('/feed/x', `127.0.0.1:${down.port}`));
      expect(reply.status, reply.raw).toBe(500);
      expect(JSON.parse(reply.body)).toEqual({ error: 'server_error' });
    } finally {
      await down.stop();
    }
    expect(app.requests.filter((r) => r.url !== '/__ready')).toHaveLength(0);
  });
});

/**
 * The listener on a non-loopback address believes only `trustedProxies`: a front that is not listed
 * is refused for every check (403 untrusted_peer reaches the client), valid credentials or not.
 */
describe('nginx auth_request asking a gateway that does not trust it', () => {
  for (const [trustedProxies, status] of [
    [[], 403],
    [['127.0.0.1/32'], 200],
  ] as const) {
    it(`trustedProxies ${JSON.stringify(trustedProxies)} → ${status}`, async () => {
      const app = await startUpstream();
      const gw = await startTestGateway({
        config: {
          trustedProxies: [...trustedProxies],
          authorize: { listen: { host: '0.0.0.0', port: 0 } },
          routes: ROUTES,
        },
        credentials: credentials(),
      });
      const nginx = await startExampleNginx(gw.authorizePort!, app.port);
      try {
        const reply = await rawRequest(
          nginx.port,
          rawGet('/feed/latest', `127.0.0.1:${nginx.port}`, [
            ['Authorization', `Bearer ${BEARER.accessToken}`],
          ]),
        );
        expect(reply.status, reply.raw).toBe(status);
        const reached = app.requests.filter((r) => r.url === '/feed/latest');
        expect(reached).toHaveLength(status === 200 ? 1 : 0);
        if (status === 403) expect(JSON.parse(reply.body)).toEqual({ error: 'untrusted_peer' });
      } finally {
        await nginx.stop();
        await gw.stop();
        await app.close();
      }
    });
  }
});

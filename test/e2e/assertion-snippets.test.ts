import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAssertionKey } from '../helpers/assertion.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { receivedHeader, startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { BEARER, credentialsFile } from '../security/helpers/credentials.js';

/**
 * The verification snippets of docs/upstream-integration.md, run as written: the Flask app
 * (Authlib) and the Django middleware (PyJWT) on /usr/bin/python3, the Express middleware (jose)
 * behind a minimal Express-shaped adapter (express is not a dependency). Each app sits behind a
 * real gateway and fetches the JWKS from its admin port. Through the gateway it sees the caller;
 * sent straight to it, a forged X-OAuth-User, no assertion, or a real assertion captured for
 * another request are all refused.
 */

const PYTHON = '/usr/bin/python3';
const root = fileURLToPath(new URL('../..', import.meta.url));
const ISSUER = 'https://gateway.snippets.test';

async function snippet(name: string): Promise<string> {
  const doc = await readFile(join(root, 'docs/upstream-integration.md'), 'utf8');
  const at = doc.indexOf(`<!-- snippet: ${name}`);
  if (at === -1) throw new Error(`docs/upstream-integration.md has no snippet ${name}`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(doc.slice(at));
  if (match === null) throw new Error(`snippet ${name} has no code block`);
  return match[1]!;
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await fetch(url).then(
      () => true,
      () => false,
    );
    if (up) return;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`app did not start: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface App {
  readonly url: string;
  stop(): Promise<void>;
}

async function startPython(args: string[], env: Record<string, string>, port: number): Promise<App> {
  const child = spawn(PYTHON, args, {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  // Any answer (the apps refuse an unauthenticated probe with 401) means it is listening.
  await waitForHttp(`${url}/photos/0`, child, () => output);
  return {
    url,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
      child.kill('SIGKILL');
    },
  };
}

interface ExpressRequest extends IncomingMessage {
  get(name: string): string | undefined;
  originalUrl: string | undefined;
  identity?: unknown;
}
interface ExpressResponse extends ServerResponse {
  status(code: number): ExpressResponse;
}
type Middleware = (req: ExpressRequest, res: ExpressResponse, next: () => void) => Promise<void>;

/** Just the Express surface the snippet uses: req.get, req.originalUrl, res.status(). */
async function startExpressShaped(middleware: Middleware, port: number): Promise<App> {
  const server: Server = createServer((req, res) => {
    const request: ExpressRequest = Object.assign(req, {
      get: (name: string) => req.headers[name.toLowerCase()] as string | undefined,
      originalUrl: req.url,
    });
    const response: ExpressResponse = Object.assign(res, {
      status(code: number) {
        res.statusCode = code;
        return response;
      },
    });
    void middleware(request, response, () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, identity: request.identity }));
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('docs/upstream-integration.md snippets verify the assertion', () => {
  let dir: string;
  let key: string;
  let echo: TestUpstream;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-snippets-'));
    key = await writeAssertionKey(dir, 'assertion.pem', 'ed25519');
    echo = await startUpstream();
  });
  afterAll(async () => {
    await echo?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** A gateway in front of `app`, plus a `capture` route whose assertions carry the same aud. */
  async function gatewayFor(appUrl: string): Promise<TestGateway> {
    return startTestGateway({
      config: {
        identity: { assertion: { keys: [{ path: key }], issuer: ISSUER } },
        routes: [
          { name: 'photos', match: { pathPrefix: '/photos' }, upstream: appUrl, auth: 'oauth2' },
          {
            name: 'capture',
            match: { pathPrefix: '/capture' },
            upstream: echo.url,
            auth: 'oauth2',
            assertionAudience: 'photos',
          },
        ],
      },
      credentials: credentialsFile(),
    });
  }

  async function exercise(gw: TestGateway, app: App, expectBody: (body: unknown) => void): Promise<void> {
    const bearer = { authorization: `Bearer ${BEARER.accessToken}` };
    const through = await fetch(`${gw.url}/photos/7`, { headers: bearer });
    expect(through.status).toBe(200);
    expectBody(await through.json());

    // Straight to the app, as if a Service or port-forward exposed it.
    const forged = await fetch(`${app.url}/photos/7`, {
      headers: { 'x-oauth-user': 'admin', 'x-oauth-client-id': 'x', 'x-oauth-scope': 'photos:read' },
    });
    expect(forged.status).toBe(401);
    const garbage = await fetch(`${app.url}/photos/7`, { headers: { 'x-oauth-assertion': 'a.b.c' } });
    expect(garbage.status).toBe(401);

    // A genuine assertion (right key, right aud) captured from another request: refused by htu.
    const before = echo.requests.length;
    expect((await fetch(`${gw.url}/capture/7`, { headers: bearer })).status).toBe(200);
    const captured = receivedHeader(
      (await echo.waitForRequests(before + 1))[before]!,
      'x-oauth-assertion',
    )[0]!;
    const replayed = await fetch(`${app.url}/photos/7`, {
      headers: { 'x-oauth-assertion': captured, host: `127.0.0.1:${gw.port}` },
    });
    expect(replayed.status).toBe(401);
  }

  /** Reserve the app's port, start the gateway pointing at it, then the app with the JWKS URL. */
  async function run(
    start: (port: number, env: Record<string, string>) => Promise<App>,
    expectBody: (body: unknown) => void,
  ) {
    const port = await freePort();
    const gw = await gatewayFor(`http://127.0.0.1:${port}`);
    let app: App | undefined;
    try {
      app = await start(port, {
        GATEWAY_JWKS_URL: `${gw.adminUrl}/.well-known/jwks.json`,
        ASSERTION_ISSUER: ISSUER,
        ASSERTION_AUDIENCE: 'photos',
      });
      await exercise(gw, app, expectBody);
    } finally {
      await app?.stop();
      await gw.stop();
    }
  }

  it('Flask (Authlib)', async () => {
    const file = join(dir, 'flask_app.py');
    await writeFile(file, await snippet('flask-assertion'));
    await run(
      (port, env) => startPython([file], env, port),
      (body) => expect(body).toEqual({ id: 7, owner: BEARER.userId, client: BEARER.clientId }),
    );
  });

  it('Django (PyJWT)', async () => {
    await writeFile(join(dir, 'middleware.py'), await snippet('django-assertion'));
    const harness = join(root, 'test/e2e/assertion/django_app.py');
    await run(
      (port, env) => startPython([harness], { ...env, SNIPPET_DIR: dir }, port),
      (body) => expect(body).toEqual({ id: 7, owner: BEARER.userId, client: BEARER.clientId }),
    );
  });

  it('Express (jose)', async () => {
    // Under node_modules/ so that the snippet's `import 'jose'` resolves to the repository's copy.
    const moduleDir = await mkdtemp(join(root, 'node_modules/.assertion-snippet-'));
    const saved = { ...process.env };
    try {
      const file = join(moduleDir, 'require-assertion.mjs');
      await writeFile(file, await snippet('express-assertion'));
      await run(
        async (port, env) => {
          Object.assign(process.env, env);
          const { requireAssertion } = (await import(file)) as { requireAssertion: Middleware };
          return startExpressShaped(requireAssertion, port);
        },
        (body) =>
          expect(body).toEqual({
            path: '/photos/7',
            identity: { user: BEARER.userId, clientId: BEARER.clientId, scopes: BEARER.scope.split(' ') },
          }),
      );
    } finally {
      for (const name of ['GATEWAY_JWKS_URL', 'ASSERTION_ISSUER', 'ASSERTION_AUDIENCE'])
        if (saved[name] === undefined) delete process.env[name];
      await rm(moduleDir, { recursive: true, force: true });
    }
  });
});

import { once } from 'node:events';
import { type IncomingMessage, request } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type EchoBody, receivedHeader, startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** Whole-gateway behaviour through real sockets: routing, hygiene, errors, streaming, upgrades. */

const IDENTITY = ['x-oauth-user', 'x-oauth-client-id', 'x-oauth-scope', 'x-oauth-method'];
const MB = 1024 * 1024;

function canonical(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

/** A port nothing listens on: bind one, then release it. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function until(condition: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function route(name: string, pathPrefix: string, upstream: string, extra: Record<string, unknown> = {}) {
  return { name, match: { pathPrefix }, upstream, auth: 'none', ...extra };
}

describe('gateway e2e', () => {
  let echo: TestUpstream;
  let adminUpstream: TestUpstream;
  let hanging: TestUpstream;
  let gw: TestGateway;
  let downPort: number;

  beforeAll(async () => {
    echo = await startUpstream();
    adminUpstream = await startUpstream();
    // Never answers: for client-abort tests.
    hanging = await startUpstream(() => {});
    downPort = await closedPort();
    gw = await startTestGateway({
      config: {
        oauth1: { realm: 'photos-realm' },
        oauth2: { realm: 'api-realm' },
        routes: [
          route('public', '/public', echo.url),
          route('admin', '/admin', adminUpstream.url),
          route('strip', '/strip', `${echo.url}/base/`, { stripPrefix: true }),
          route('based', '/based', `${echo.url}/v2`),
          route('oauth1-only', '/o1', echo.url, { auth: 'oauth1' }),
          route('oauth2-only', '/o2', echo.url, { auth: 'oauth2' }),
          route('either', '/any', echo.url, { auth: 'any' }),
          route('down', '/down', `http://127.0.0.1:${downPort}`),
          route('hang', '/hang', hanging.url),
        ],
      },
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([echo?.close(), adminUpstream?.close(), hanging?.close()]);
  });

  describe('auth: none', () => {
    it('forwards method, raw path + query and a body, and returns the upstream answer', async () => {
      const before = echo.requests.length;
      const res = await fetch(`${gw.url}/public/items?b=2&a=%2F`, {
        method: 'PUT',
        body: 'hello upstream',
        headers: { 'x-custom': 'kept', 'x-request-id': 'client-chosen-id' },
      });
      expect(res.status).toBe(200);
      const seen = (await res.json()) as EchoBody;
      expect(seen.method).toBe('PUT');
      expect(seen.url).toBe('/public/items?b=2&a=%2F');
      const record = echo.requests[before]!;
      expect(record.body.toString()).toBe('hello upstream');
      expect(receivedHeader(record, 'x-custom')).toEqual(['kept']);
      expect(receivedHeader(record, 'x-request-id')).toEqual(['client-chosen-id']);
      expect(receivedHeader(record, 'x-forwarded-for')).toEqual(['127.0.0.1']);
      expect(receivedHeader(record, 'x-forwarded-proto')).toEqual(['http']);
      expect(receivedHeader(record, 'x-forwarded-host')).toEqual([`127.0.0.1:${gw.port}`]);
      expect(receivedHeader(record, 'host')).toEqual([`127.0.0.1:${gw.port}`]);
    });

    it('generates an X-Request-Id when the client sent none, and logs the request without its query', async () => {
      const before = echo.requests.length;
      const res = await fetch(`${gw.url}/public/logged?secret=do-not-log`);
      expect(res.status).toBe(200);
      const [id] = receivedHeader(echo.requests[before]!, 'x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      await until(() => gw.logs.some((line) => line.includes(id!)), 2_000, 'access log line');
      const entry = gw.logEntries().find((e) => e['requestId'] === id)!;
      expect(entry).toMatchObject({ msg: 'request', route: 'public', status: 200, path: '/public/logged' });
      expect(gw.logs.join('\n')).not.toContain('do-not-log');
    });

    it('Expect: 100-continue uploads are forwarded (curl sends it for bodies over 1 KB)', async () => {
      const before = echo.requests.length;
      const body = 'x'.repeat(4096);
      const res = await rawRequest(
        gw.port,
        `POST /public/upload HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${body}`,
      );
      expect(res.status).toBe(200);
      expect(echo.requests[before]?.bodyLength).toBe(body.length);
    });
  });

  describe('identity headers never reach the upstream', () => {
    it('strips every spelling and duplicate on an auth: none route', async () => {
      const before = echo.requests.length;
      const res = await rawRequest(
        gw.port,
        'GET /public/whoami HTTP/1.1\r\nHost: h\r\n' +
          'X-OAuth-User: admin\r\nx-oauth-user: root\r\nx-oauth-user: root2\r\nX_OAuth_User: mallory\r\n' +
          'X-OAUTH-CLIENT-ID: evil\r\nx_oauth_scope: admin:all\r\nX-OAuth-Method: oauth2\r\n' +
          'Connection: close\r\n\r\n',
      );
      expect(res.status).toBe(200);
      const record = echo.requests[before]!;
      const received = record.rawHeaders.filter((_, i) => i % 2 === 0).map(canonical);
      for (const name of IDENTITY) expect(received).not.toContain(name);
      for (const value of ['admin', 'root', 'root2', 'mallory', 'evil', 'admin:all']) {
        expect(record.rawHeaders.filter((_, i) => i % 2 === 1)).not.toContain(value);
      }
    });
  });

  describe('hop-by-hop headers', () => {
    it('request: hop-by-hop and Connection-nominated headers never reach the upstream', async () => {
      const before = echo.requests.length;
      const res = await rawRequest(
        gw.port,
        'GET /public/hop HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop-Secret\r\nX-Hop-Secret: s\r\n' +
          'Keep-Alive: timeout=99\r\nTE: trailers\r\nProxy-Authorization: Basic dTpw\r\nProxy-Connection: keep-alive\r\n' +
          'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nAuthorization: Bearer not-for-upstream\r\nX-End-To-End: e\r\n\r\n',
      );
      expect(res.status).toBe(200);
      const record = echo.requests[before]!;
      for (const name of [
        'x-hop-secret',
        'keep-alive',
        'te',
        'proxy-authorization',
        'proxy-connection',
        'upgrade',
      ]) {
        expect(receivedHeader(record, name)).toEqual([]);
      }
      expect(receivedHeader(record, 'http2-settings')).toEqual([]);
      expect(receivedHeader(record, 'authorization')).toEqual([]);
      expect(receivedHeader(record, 'x-end-to-end')).toEqual(['e']);
    });

    it('response: the upstream hop-by-hop headers never reach the client', async () => {
      const hoppy = await startUpstream((_req, res) => {
        res.setHeader('Connection', 'X-Upstream-Hop');
        res.setHeader('X-Upstream-Hop', 'secret');
        res.setHeader('Keep-Alive', 'timeout=1234');
        res.setHeader('X-Kept', 'yes');
        res.end('ok');
      });
      const local = await startTestGateway({ config: { routes: [route('hoppy', '/', hoppy.url)] } });
      try {
        const res = await rawRequest(local.port, 'GET /x HTTP/1.1\r\nHost: h\r\n\r\n');
        expect(res.status).toBe(200);
        expect(res.body).toBe('ok');
        expect(res.headers['x-upstream-hop']).toBeUndefined();
        expect(res.headers['keep-alive']).not.toBe('timeout=1234');
        expect(res.headers['x-kept']).toBe('yes');
      } finally {
        await local.stop();
        await hoppy.close();
      }
    });

    it('HEAD is forwarded and answered without a body', async () => {
      const res = await rawRequest(gw.port, 'HEAD /public/head HTTP/1.1\r\nHost: h\r\n\r\n', {
        timeoutMs: 2_000,
      });
      expect(res.status).toBe(200);
      expect(res.timedOut).toBe(false);
      expect(res.body).toBe('');
      expect(echo.requests.at(-1)!.method).toBe('HEAD');
    });
  });

  describe('path normalisation over raw sockets', () => {
    const get = (target: string) =>
      rawRequest(gw.port, `GET ${target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);

    it.each([
      ['/public/../admin'],
      ['/public/%2e%2e/admin'],
      ['/public/%2E%2e/admin/'],
      ['/public/./../admin'],
    ])('GET %s is routed (and forwarded) as /admin…', async (target) => {
      const echoBefore = echo.requests.length;
      const adminBefore = adminUpstream.requests.length;
      const res = await get(target);
      expect(res.status).toBe(200);
      expect(echo.requests.length).toBe(echoBefore);
      const record = adminUpstream.requests[adminBefore]!;
      expect(record.url).toBe(target.endsWith('/') ? '/admin/' : '/admin');
    });

    it('//public/x is collapsed to /public/x', async () => {
      const before = echo.requests.length;
      const res = await get('//public//x?q=1');
      expect(res.status).toBe(200);
      expect(echo.requests[before]!.url).toBe('/public/x?q=1');
    });

    it('unreserved escapes are decoded before forwarding', async () => {
      const before = echo.requests.length;
      expect((await get('/%70ublic/%7Euser')).status).toBe(200);
      expect(echo.requests[before]!.url).toBe('/public/~user');
    });

    it.each([
      ['/public/%2Fadmin'],
      ['/public%2f..%2fadmin'],
      ['/public/%5C..%5Cadmin'],
      ['/public/a%00'],
      ['/public/..;/admin'],
      ['http://other/admin'],
      ['http://h/public/x'],
    ])('GET %s → 400 and nothing forwarded', async (target) => {
      const before = echo.requests.length + adminUpstream.requests.length;
      const res = await get(target);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/json');
      expect(JSON.parse(res.body)).toMatchObject({ error: 'bad_request' });
      expect(echo.requests.length + adminUpstream.requests.length).toBe(before);
    });
  });

  describe('client-facing errors', () => {
    it('unknown path → 404 JSON not_found, with the client X-Request-Id echoed', async () => {
      const res = await fetch(`${gw.url}/nothing/here`, { headers: { 'x-request-id': 'trace-404' } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('x-request-id')).toBe('trace-404');
      expect(await res.json()).toMatchObject({ error: 'not_found' });
    });

    it('the /photos prefix does not match /publicx', async () => {
      expect((await fetch(`${gw.url}/publicx`)).status).toBe(404);
    });

    it('admin paths are not served on the proxy port', async () => {
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        const res = await fetch(`${gw.url}${path}`);
        expect(res.status).toBe(404);
        expect(await res.json()).toMatchObject({ error: 'not_found' });
      }
    });

    it('oauth1 route without credentials → 401 with a bare OAuth challenge', async () => {
      const res = await rawRequest(gw.port, 'GET /o1/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
      expect(res.status).toBe(401);
      expect(res.headerList.filter(([n]) => n === 'www-authenticate').map(([, v]) => v)).toEqual([
        'OAuth realm="photos-realm"',
      ]);
    });

    it('oauth2 route without credentials → 401 with a bare Bearer challenge (RFC 6750 §3.1: no error code)', async () => {
      const res = await rawRequest(gw.port, 'GET /o2/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
      expect(res.status).toBe(401);
      expect(res.headerList.filter(([n]) => n === 'www-authenticate').map(([, v]) => v)).toEqual([
        'Bearer realm="api-realm"',
      ]);
    });

    it('any route without credentials → 401 with both challenges; nothing forwarded', async () => {
      const before = echo.requests.length;
      const res = await rawRequest(gw.port, 'GET /any/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
      expect(res.status).toBe(401);
      expect(res.headerList.filter(([n]) => n === 'www-authenticate').map(([, v]) => v)).toEqual([
        'OAuth realm="photos-realm"',
        'Bearer realm="api-realm"',
      ]);
      expect(echo.requests.length).toBe(before);
    });

    it('upstream down → 502 JSON bad_gateway with X-Request-Id echoed', async () => {
      const res = await fetch(`${gw.url}/down/x`, { headers: { 'x-request-id': 'trace-502' } });
      expect(res.status).toBe(502);
      expect(res.headers.get('x-request-id')).toBe('trace-502');
      expect(await res.json()).toMatchObject({ error: 'bad_gateway' });
    });

    it('two Authorization headers are ambiguous → 400', async () => {
      const res = await rawRequest(
        gw.port,
        'GET /public/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer a\r\nauthorization: Bearer b\r\nConnection: close\r\n\r\n',
      );
      expect(res.status).toBe(400);
    });
  });

  describe('upstream paths', () => {
    it('stripPrefix removes the route prefix and the upstream base path is prepended', async () => {
      const before = echo.requests.length;
      expect((await fetch(`${gw.url}/strip/a/b?x=1`)).status).toBe(200);
      expect(echo.requests[before]!.url).toBe('/base/a/b?x=1');
    });

    it('without stripPrefix the whole path follows the base path', async () => {
      const before = echo.requests.length;
      expect((await fetch(`${gw.url}/based/a`)).status).toBe(200);
      expect(echo.requests[before]!.url).toBe('/v2/based/a');
    });
  });

  describe('cancellation', () => {
    it('a client that goes away cancels the upstream request', async () => {
      const before = hanging.requests.length;
      const controller = new AbortController();
      const pending = fetch(`${gw.url}/hang/slow`, { signal: controller.signal }).catch(
        (error: Error) => error,
      );
      const [record] = (await hanging.waitForRequests(before + 1)).slice(before);
      expect(record!.aborted).toBe(false);
      controller.abort();
      expect(await pending).toBeInstanceOf(Error);
      await Promise.race([
        record!.settled,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('upstream request not cancelled')), 3_000),
        ),
      ]);
      expect(record!.aborted).toBe(true);
    });
  });

  describe('request smuggling shapes are refused before routing', () => {
    const shapes: [name: string, status: number, text: string][] = [
      [
        'Content-Length with Transfer-Encoding',
        400,
        'POST /public/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /public/smuggled HTTP/1.1\r\nHost: h\r\n\r\n',
      ],
      [
        'duplicate Content-Length (different)',
        400,
        'POST /public/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      ],
      [
        'duplicate Content-Length (same)',
        400,
        'POST /public/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
      ],
      ['Content-Length list', 400, 'POST /public/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello'],
      ['obs-fold', 400, 'GET /public/x HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n  b\r\n\r\n'],
      ['bare LF in headers', 400, 'GET /public/x HTTP/1.1\r\nHost: h\nX-Foo: a\r\n\r\n'],
      ['bare CR in headers', 400, 'GET /public/x HTTP/1.1\r\nHost: h\rX-Foo: a\r\n\r\n'],
      [
        'invalid chunk size',
        400,
        'POST /public/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
      ],
      [
        'Transfer-Encoding not ending in chunked',
        400,
        'POST /public/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      ],
      ['space before colon', 400, 'GET /public/x HTTP/1.1\r\nHost: h\r\nX-Foo : a\r\n\r\n'],
      [
        'headers over 16 KB',
        431,
        `GET /public/x HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
      ],
    ];

    it.each(shapes)('%s → %i, connection closed, nothing forwarded', async (_name, status, text) => {
      const before = echo.requests.length;
      const res = await rawRequest(gw.port, text, { closeGraceMs: 200 });
      expect(res.status).toBe(status);
      expect(res.closed).toBe(true);
      // Give a wrongly forwarded request time to arrive before asserting it did not.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(echo.requests.slice(before).map((r) => r.url)).toEqual([]);
    });
  });

  describe('admin listener', () => {
    it('/healthz and /readyz answer 200 on the admin port', async () => {
      const health = await fetch(`${gw.adminUrl}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${gw.adminUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', draining: false });
    });

    it('the admin port does not proxy', async () => {
      const before = echo.requests.length;
      expect((await fetch(`${gw.adminUrl}/public/x`)).status).toBe(404);
      expect(echo.requests.length).toBe(before);
    });
  });
});

describe('graceful stop', () => {
  it('in-flight keep-alive requests finish with 200; the listener is closed at once', async () => {
    const slow = await startUpstream((_req, res) => {
      setTimeout(() => res.end('late but whole'), 400);
    });
    const gw = await startTestGateway({ config: { routes: [route('slow', '/', slow.url)] } });
    try {
      // fetch keeps connections alive: one warm idle connection plus five busy ones.
      expect((await fetch(`${gw.url}/warm`)).status).toBe(200);
      const replies = Promise.all(
        [1, 2, 3, 4, 5].map(async (n) => {
          const res = await fetch(`${gw.url}/s/${n}`);
          return [res.status, await res.text(), res.headers.get('connection')];
        }),
      );
      await slow.waitForRequests(6);
      const stopped = gw.stop();
      // A new connection is refused at once (fetch would reuse the pooled idle one, so use a socket).
      const refused = await new Promise<string | undefined>((resolve) => {
        const socket = connect({ port: gw.port, host: '127.0.0.1' });
        socket.once('connect', () => {
          socket.destroy();
          resolve(undefined);
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
      });
      expect(refused).toBe('ECONNREFUSED');
      // Answered after the drain began: told not to reuse the connection.
      expect(await replies).toEqual(Array.from({ length: 5 }, () => [200, 'late but whole', 'close']));
      expect(await stopped).toBe(true);
      expect(slow.requests.some((r) => r.aborted)).toBe(false);
    } finally {
      await slow.close();
    }
  });
});

describe('upstream timeout', () => {
  it('an upstream that never answers → 504 gateway_timeout after limits.upstreamTimeout', async () => {
    const silent = await startUpstream(() => {});
    const gw = await startTestGateway({
      config: { limits: { upstreamTimeout: '300ms' }, routes: [route('silent', '/', silent.url)] },
    });
    try {
      const started = performance.now();
      const res = await fetch(`${gw.url}/x`, { headers: { 'x-request-id': 'trace-504' } });
      const elapsed = performance.now() - started;
      expect(res.status).toBe(504);
      expect(res.headers.get('x-request-id')).toBe('trace-504');
      expect(await res.json()).toMatchObject({ error: 'gateway_timeout' });
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(3_000);
      // The timed-out upstream request is cancelled too.
      await silent.requests[0]!.settled;
      expect(silent.requests[0]!.aborted).toBe(true);
    } finally {
      await gw.stop();
      await silent.close();
    }
  });
});

describe('streaming 50 MB without buffering', () => {
  const TOTAL = 50 * MB;
  const CHUNK = Buffer.alloc(64 * 1024, 0x61);
  /**
   * Bound on bytes "in the gateway" (sent by one side, not yet received by the other) at any time.
   * It also covers the kernel's loopback socket buffers on both hops (a few MB each); a proxy that
   * buffers, or ignores backpressure while the far side is slow, goes far past it. This is the
   * in-process stand-in for "RSS stays flat", without the noise of the test's own client and
   * upstream (live memory of a 50 MB client→upstream transfer with no gateway at all peaked at 26 MB).
   */
  const MAX_IN_FLIGHT = 30 * MB;

  /** Read with a 10 ms pause every MB: slower than the writer, so backpressure must hold it back. */
  function slowReader(
    stream: NodeJS.ReadableStream & { pause(): void; resume(): void },
    onBytes: (n: number) => void,
  ) {
    let sincePause = 0;
    stream.on('data', (chunk: Buffer) => {
      onBytes(chunk.length);
      sincePause += chunk.length;
      if (sincePause >= MB) {
        sincePause = 0;
        stream.pause();
        setTimeout(() => stream.resume(), 10);
      }
    });
  }

  it('request body: streamed while the client is still sending, backpressured, byte count exact', async () => {
    const counter = await startUpstream(
      (req, res) => {
        let received = 0;
        slowReader(req, (n) => {
          received += n;
        });
        req.once('end', () => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(String(received));
        });
      },
      { keepBodies: false },
    );
    const gw = await startTestGateway({ config: { routes: [route('upload', '/', counter.url)] } });
    try {
      const req = request(`${gw.url}/upload`, {
        method: 'POST',
        headers: { 'content-length': TOTAL, 'content-type': 'application/octet-stream' },
      });
      const response = once(req, 'response') as Promise<[IncomingMessage]>;
      // Send the first MB, then hold the rest back until the upstream has seen body bytes: a
      // buffering proxy would wait for the whole body and this would never proceed.
      let sent = 0;
      while (sent < MB) {
        req.write(CHUNK);
        sent += CHUNK.length;
      }
      const [record] = await counter.waitForRequests(1);
      await until(() => record!.bodyLength > 0, 10_000, 'first body bytes at the upstream');
      let maxInFlight = 0;
      while (sent < TOTAL) {
        if (!req.write(CHUNK)) await once(req, 'drain');
        sent += CHUNK.length;
        maxInFlight = Math.max(maxInFlight, sent - record!.bodyLength);
      }
      req.end();
      const [res] = await response;
      let text = '';
      for await (const chunk of res) text += chunk;

      expect(res.statusCode).toBe(200);
      expect(Number(text)).toBe(TOTAL);
      expect(record!.bodyLength).toBe(TOTAL);
      expect(record!.complete).toBe(true);
      expect(maxInFlight).toBeLessThan(MAX_IN_FLIGHT);
    } finally {
      await gw.stop();
      await counter.close();
    }
  });

  it('response body: streamed while the upstream is still writing, backpressured, byte count exact', async () => {
    let clientReceived = 0;
    let maxInFlight = 0;
    const producer = await startUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': TOTAL });
      let written = 0;
      while (written < MB) {
        res.write(CHUNK);
        written += CHUNK.length;
      }
      // Hold back until the client has bytes: a buffering proxy would never deliver them.
      await until(() => clientReceived > 0, 10_000, 'first response bytes at the client');
      while (written < TOTAL) {
        if (!res.write(CHUNK)) await once(res, 'drain');
        written += CHUNK.length;
        maxInFlight = Math.max(maxInFlight, written - clientReceived);
      }
      res.end();
    });
    const gw = await startTestGateway({ config: { routes: [route('download', '/', producer.url)] } });
    try {
      const req = request(`${gw.url}/download`);
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-length']).toBe(String(TOTAL));
      slowReader(res, (n) => {
        clientReceived += n;
      });
      await once(res, 'end');
      expect(clientReceived).toBe(TOTAL);
      expect(maxInFlight).toBeLessThan(MAX_IN_FLIGHT);
    } finally {
      await gw.stop();
      await producer.close();
    }
  });
});

describe('WebSocket', () => {
  it('echoes messages through the proxy and strips identity headers from the handshake', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    const handshakes: IncomingMessage[] = [];
    wss.on('connection', (socket, req) => {
      handshakes.push(req);
      socket.on('message', (data, isBinary) => socket.send(isBinary ? data : `echo:${data.toString()}`));
    });
    const { port } = wss.address() as { port: number };
    const gw = await startTestGateway({
      config: { routes: [route('ws', '/ws', `http://127.0.0.1:${port}`)] },
    });
    try {
      const client = new WebSocket(`ws://127.0.0.1:${gw.port}/ws/chat?room=1`, {
        headers: { 'X-OAuth-User': 'mallory', X_OAuth_Client_Id: 'evil', 'x-oauth-scope': 'admin' },
      });
      await once(client, 'open');
      const replies: string[] = [];
      const got = new Promise<void>((resolve) => {
        client.on('message', (data) => {
          replies.push(data.toString());
          if (replies.length === 2) resolve();
        });
      });
      client.send('hello');
      client.send('world');
      await got;
      expect(replies).toEqual(['echo:hello', 'echo:world']);

      const binary = Buffer.from([0, 1, 2, 255]);
      client.send(binary);
      const [echoed] = (await once(client, 'message')) as [Buffer];
      expect(Buffer.compare(echoed, binary)).toBe(0);

      const handshake = handshakes[0]!;
      expect(handshake.url).toBe('/ws/chat?room=1');
      const received = handshake.rawHeaders.filter((_, i) => i % 2 === 0).map(canonical);
      for (const name of IDENTITY) expect(received).not.toContain(name);
      expect(handshake.headers['x-forwarded-for']).toBe('127.0.0.1');
      client.close();
      await once(client, 'close');
    } finally {
      await gw.stop();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('an authenticated upgrade goes through the same pipeline: identity, request id, access log, metrics', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    const handshakes: IncomingMessage[] = [];
    wss.on('connection', (_socket, req) => handshakes.push(req));
    const { port } = wss.address() as { port: number };
    const gw = await startTestGateway({
      config: {
        routes: [
          {
            name: 'live',
            match: { pathPrefix: '/live' },
            upstream: `http://127.0.0.1:${port}`,
            auth: 'oauth2',
            scopes: ['feed:read'],
          },
        ],
      },
      credentials: {
        bearerTokens: [
          {
            accessToken: 'ws-token-1',
            clientId: 'ws-client',
            userId: 'ws-user',
            scope: 'feed:read',
            issuedAt: Math.floor(Date.now() / 1000),
            expiresIn: 3600,
          },
        ],
      },
    });
    try {
      const refused = await rawRequest(
        gw.port,
        'GET /live/x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Request-Id: ws-refused\r\n\r\n',
      );
      expect(refused.status).toBe(401);
      expect(refused.headers['x-request-id']).toBe('ws-refused');

      const client = new WebSocket(`ws://127.0.0.1:${gw.port}/live/feed`, {
        headers: { authorization: 'Bearer ws-token-1', 'x-request-id': 'ws-accepted' },
      });
      await once(client, 'open');
      const handshake = handshakes[0]!;
      expect(handshake.headers['x-oauth-user']).toBe('ws-user');
      expect(handshake.headers['x-oauth-client-id']).toBe('ws-client');
      expect(handshake.headers['x-request-id']).toBe('ws-accepted');
      client.close();
      await once(client, 'close');

      const lines = gw.logEntries().filter((l) => l['msg'] === 'request');
      expect(lines).toEqual([
        expect.objectContaining({
          requestId: 'ws-refused',
          route: 'live',
          status: 401,
          error: 'unauthorized',
        }),
        expect.objectContaining({
          requestId: 'ws-accepted',
          route: 'live',
          status: 101,
          clientId: 'ws-client',
          authMethod: 'oauth2',
        }),
      ]);
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(
        /oauth_gateway_requests_total\{route="live",status="101",auth_method="oauth2"\} 1/,
      );
      expect(metrics).toMatch(
        /oauth_gateway_requests_total\{route="live",status="401",auth_method="none"\} 1/,
      );
    } finally {
      await gw.stop();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('an upgrade to an unknown path is refused with 404 and the socket closed', async () => {
    const gw = await startTestGateway({ config: { routes: [route('ws', '/ws', 'http://127.0.0.1:1')] } });
    try {
      const res = await rawRequest(
        gw.port,
        'GET /nope HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      expect(res.status).toBe(404);
      expect(res.closed).toBe(true);
    } finally {
      await gw.stop();
    }
  });
});

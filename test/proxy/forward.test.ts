import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BadGateway, GatewayTimeout } from '../../src/errors.js';
import { forwardRequest, UpstreamPools } from '../../src/proxy/forward.js';
import { sendError, toGatewayError } from '../../src/proxy/respond.js';
import { freePort } from '../helpers/ports.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * forward.ts against a real upstream (port 0): what the upstream receives (method, byte-exact
 * path, the header list it was given, the body streamed or replayed), what the client gets back
 * (hop-by-hop headers gone), and how failures map (502/504). A minimal front server calls
 * forwardRequest the way proxy/server.ts does, so no routing or auth is involved.
 */

interface FrontOptions {
  readonly origin: string;
  readonly upstreamTimeoutMs?: number;
  /** The header list handed to forwardRequest; default: the client's raw headers. */
  readonly headers?: (req: IncomingMessage) => string[];
  /** Replay this instead of streaming the request (what the proxy does after reading a form body). */
  readonly body?: Buffer;
  readonly draining?: boolean;
}

const REALMS = { oauth1: 'r', oauth2: 'r' };
const pools = new UpstreamPools();
const fronts: Server[] = [];
const upstreams: TestUpstream[] = [];

async function front(options: FrontOptions): Promise<string> {
  const drain = { draining: options.draining ?? false };
  const server = createServer((req, res) => {
    forwardRequest(req, res, {
      pool: pools.get(options.origin, { upstreamTimeoutMs: options.upstreamTimeoutMs ?? 5_000 }),
      method: req.method!,
      path: req.url!,
      headers: options.headers?.(req) ?? [...req.rawHeaders],
      body: options.body,
      drain,
    }).catch((error: unknown) => sendError(res, toGatewayError(error), REALMS));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fronts.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function upstream(...args: Parameters<typeof startUpstream>): Promise<TestUpstream> {
  const started = await startUpstream(...args);
  upstreams.push(started);
  return started;
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** node:http client: sends `path` as given and the body (chunked when no content-length is set). */
function send(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      { method: init.method ?? 'GET', headers: init.headers, path },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

afterEach(async () => {
  await Promise.all(
    fronts.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

afterAll(async () => {
  await pools.close();
});

describe('forwardRequest: what the upstream receives', () => {
  it('the method, the path byte for byte and exactly the header list it is given (order, case, repeats)', async () => {
    const up = await upstream();
    const url = await front({
      origin: up.url,
      headers: () => ['Host', 'api.example', 'X-Twice', 'a', 'x-twice', 'b', 'X-Request-Id', 'rid-7'],
    });
    const path = "/a/%2e%2E/b;p=1?q=%20+%2B&empty=&x=!*'()";
    const reply = await send(url, path, { method: 'DELETE', headers: { 'x-dropped': 'by the header list' } });
    expect(reply.status).toBe(200);
    const [record] = up.requests;
    expect(record!.method).toBe('DELETE');
    expect(record!.url).toBe(path);
    // undici adds its own connection header and writes host in lower case; the rest is the given list.
    expect(
      record!.rawHeaders.filter((_, i, all) => i % 2 === 0 && all[i]!.toLowerCase() !== 'connection'),
    ).toEqual(['host', 'X-Twice', 'x-twice', 'X-Request-Id']);
    expect(record!.headers['x-twice']).toBe('a, b');
    expect(record!.headers['x-dropped']).toBeUndefined();
  });

  it('streams a 1 MiB chunked request body through unchanged', async () => {
    const up = await upstream();
    const url = await front({ origin: up.url });
    const body = randomBytes(1024 * 1024);
    const reply = await send(url, '/upload', { method: 'POST', body });
    expect(reply.status).toBe(200);
    expect(up.requests[0]!.body.equals(body)).toBe(true);
    expect(up.requests[0]!.complete).toBe(true);
  });

  it('replays a body the verifier already read, byte for byte, with its content-length', async () => {
    const up = await upstream();
    const read = Buffer.from('a=1&b=%C3%A9&oauth_signature=x');
    const url = await front({
      origin: up.url,
      body: read,
      headers: () => [
        'host',
        'h',
        'content-type',
        'application/x-www-form-urlencoded',
        'content-length',
        String(read.length),
      ],
    });
    // The client's own body stream is not used: the proxy already consumed it.
    const reply = await send(url, '/form', { method: 'POST', body: read });
    expect(reply.status).toBe(200);
    expect(up.requests[0]!.body.toString('latin1')).toBe(read.toString('latin1'));
    expect(up.requests[0]!.headers['content-length']).toBe(String(read.length));
  });
});

describe('forwardRequest: what the client gets back', () => {
  it('status, body and end-to-end headers; hop-by-hop ones and those named in Connection are removed', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(201, {
        Connection: 'keep-alive, X-Hop-Secret',
        'Keep-Alive': 'timeout=99',
        'X-Hop-Secret': 'upstream-internal',
        'Proxy-Authenticate': 'Basic',
        'X-Kept': 'yes',
        'Set-Cookie': ['a=1', 'b=2'],
        'Content-Type': 'text/plain',
      });
      res.end('created');
    });
    const url = await front({ origin: up.url });
    const reply = await send(url, '/x');
    expect(reply.status).toBe(201);
    expect(reply.body.toString()).toBe('created');
    expect(reply.headers['x-kept']).toBe('yes');
    expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(reply.headers['x-hop-secret']).toBeUndefined();
    expect(reply.headers['proxy-authenticate']).toBeUndefined();
    expect(reply.headers['keep-alive']).not.toBe('timeout=99');
  });

  it('once the listener drains, answers tell the client to close the connection', async () => {
    const up = await upstream();
    const url = await front({ origin: up.url, draining: true });
    const reply = await send(url, '/x', { headers: { connection: 'keep-alive' } });
    expect(reply.status).toBe(200);
    expect(reply.headers['connection']).toBe('close');
  });
});

describe('forwardRequest: streaming and the client going away', () => {
  it('keeps the upstream spelling of response header names', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('X-MiXeD-Case', 'kept');
      res.end('ok');
    });
    const url = await front({ origin: up.url });
    const names = await new Promise<string[]>((resolve, reject) => {
      request(`${url}/x`, (res) => {
        res.resume();
        resolve(res.rawHeaders.filter((_, i) => i % 2 === 0));
      })
        .on('error', reject)
        .end();
    });
    expect(names).toContain('X-MiXeD-Case');
  });

  it('a 16 MiB answer to a client that reads slowly arrives whole (backpressure pauses the upstream, drain resumes it)', async () => {
    const body = randomBytes(16 * 1024 * 1024);
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    const url = await front({ origin: up.url });
    const received = await new Promise<Buffer>((resolve, reject) => {
      request(`${url}/big`, (res) => {
        const chunks: Buffer[] = [];
        // Read a chunk, then stop for a moment: the gateway's socket buffer fills.
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (chunks.length % 16 === 0) {
            res.pause();
            setTimeout(() => res.resume(), 5);
          }
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
      })
        .on('error', reject)
        .end();
    });
    expect(received.length).toBe(body.length);
    expect(received.equals(body)).toBe(true);
  });

  it('a client that leaves mid-body cancels the upstream response (attack: leaving upstream connections hanging)', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk');
      // Never ends: only the gateway cancelling can settle this exchange.
    });
    const url = await front({ origin: up.url });
    await new Promise<void>((resolve, reject) => {
      const req = request(`${url}/stream`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => reject(new Error('no first chunk')), 3_000);
    });
    await Promise.race([
      up.requests[0]!.settled,
      new Promise((_, reject) => setTimeout(() => reject(new Error('upstream not cancelled')), 3_000)),
    ]);
    expect(up.requests[0]!.aborted).toBe(true);
  });

  it('a pipelining client that leaves cancels every request it had upstream (attack: pipelined requests outliving the connection)', async () => {
    const up = await upstream(() => {
      /* never answers */
    });
    const url = new URL(await front({ origin: up.url }));
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.on('error', () => {});
    socket.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n');
    const recorded = await up.waitForRequests(2);
    socket.destroy();
    await Promise.race([
      Promise.all(recorded.map((r) => r.settled)),
      new Promise((_, reject) => setTimeout(() => reject(new Error('upstream not cancelled')), 3_000)),
    ]);
    expect(recorded.map((r) => [r.url, r.aborted])).toEqual([
      ['/one', true],
      ['/two', true],
    ]);
  });
});

describe('forwardRequest: upstream failures', () => {
  let closedPort: number;
  beforeAll(async () => {
    closedPort = await freePort();
  });

  it('nothing listening → 502 bad_gateway (BadGateway)', async () => {
    const url = await front({ origin: `http://127.0.0.1:${closedPort}` });
    const reply = await send(url, '/x');
    expect(reply.status).toBe(BadGateway.status);
    expect(JSON.parse(reply.body.toString())).toMatchObject({ error: 'bad_gateway' });
  });

  it('no answer within upstreamTimeout → 504 gateway_timeout, and the upstream request is abandoned', async () => {
    const up = await upstream(() => {
      /* never answers */
    });
    const url = await front({ origin: up.url, upstreamTimeoutMs: 300 });
    const reply = await send(url, '/slow');
    expect(reply.status).toBe(GatewayTimeout.status);
    expect(JSON.parse(reply.body.toString())).toMatchObject({ error: 'gateway_timeout' });
    await up.requests[0]!.settled;
    expect(up.requests[0]!.aborted).toBe(true);
  });
});

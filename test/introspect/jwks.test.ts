import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteJwks } from '../../src/introspect/jwks.js';
import { BackendFault } from '../../src/observability/backend-failures.js';

/**
 * RemoteJwks's one GET against a real server: each way a JWKS endpoint can answer badly becomes
 * the BackendFault the warn line and the metric name, and a good answer becomes keys. (It uses a
 * one-connection undici Pool, not the global fetch, whose first use loads Node's own undici.)
 */

const KEY = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
  kid: 'k1',
  alg: 'ES256',
};

const ROUTES: Record<string, (res: ServerResponse) => void> = {
  '/good': (res) => send(res, 200, JSON.stringify({ keys: [KEY] })),
  '/moved': (res) => {
    res.writeHead(302, { location: '/good' });
    res.end();
  },
  '/missing': (res) => send(res, 404, '{"error":"not_found"}'),
  '/huge': (res) => send(res, 200, JSON.stringify({ keys: [KEY], pad: 'x'.repeat(600 * 1024) })),
  '/not-json': (res) => send(res, 200, '<html>login</html>'),
  '/no-keys': (res) => send(res, 200, '{"keys":"none"}'),
  '/slow': () => {
    /* never answers */
  },
};

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

let server: Server;
let base: string;
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    (ROUTES[req.url ?? ''] ?? ((r: ServerResponse) => send(r, 404, '{}')))(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function jwks(path: string, timeoutMs = 2_000): RemoteJwks {
  return new RemoteJwks({
    uri: `${base}${path}`,
    now: Date.now,
    maxAgeMs: 60_000,
    unknownKidFloorMs: 1_000,
    failureBackoffMs: 30_000,
    timeoutMs,
  });
}

async function faultOf(path: string, timeoutMs?: number): Promise<BackendFault> {
  const set = jwks(path, timeoutMs);
  const error = await set.refresh().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BackendFault);
  expect(set.lastFault).toBe(error);
  return error as BackendFault;
}

describe('RemoteJwks fetch', () => {
  it('a key set → keys, generation 1', async () => {
    const set = jwks('/good');
    await set.refresh();
    expect(set.keys).toBeTypeOf('function');
    expect(set.generation).toBe(1);
    expect(set.lastFault).toBeUndefined();
  });

  it('a redirect is not followed: http_status 302', async () => {
    const before = hits.length;
    expect(await faultOf('/moved')).toMatchObject({
      source: 'jwks',
      reason: 'http_status',
      details: { status: 302 },
    });
    expect(hits.slice(before)).toEqual(['/moved']);
  });

  it('404 → http_status 404', async () => {
    expect(await faultOf('/missing')).toMatchObject({ reason: 'http_status', details: { status: 404 } });
  });

  it('a body over 512 KB → malformed_response (body too large)', async () => {
    expect(await faultOf('/huge')).toMatchObject({
      reason: 'malformed_response',
      details: { field: '(body too large)' },
    });
  });

  it('not JSON → malformed_response (not JSON); JSON without a keys array → malformed_response keys', async () => {
    expect(await faultOf('/not-json')).toMatchObject({
      reason: 'malformed_response',
      details: { field: '(not JSON)' },
    });
    expect(await faultOf('/no-keys')).toMatchObject({
      reason: 'malformed_response',
      details: { field: 'keys' },
    });
  });

  it('no answer within the timeout → timeout', async () => {
    const started = performance.now();
    expect(await faultOf('/slow', 300)).toMatchObject({ reason: 'timeout' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('nothing listening → unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const set = new RemoteJwks({
      uri: `http://127.0.0.1:${port}/jwks`,
      now: Date.now,
      maxAgeMs: 60_000,
      unknownKidFloorMs: 1_000,
      failureBackoffMs: 30_000,
      timeoutMs: 1_000,
    });
    await expect(set.refresh()).rejects.toMatchObject({ reason: 'unreachable' });
  });
});

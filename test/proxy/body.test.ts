import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayloadTooLarge } from '../../src/errors.js';
import { signOAuth1Request } from '../../src/oauth1-client/sign.js';
import { readBody } from '../../src/proxy/body.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * Body limits (`limits.maxBodyBytes`): only bodies the gateway must read (OAuth1 form parameters,
 * oauth_body_hash) are bounded; everything else streams through unread. readBody is tested on a
 * real server, then the limit end to end through the gateway.
 */

const LIMIT = 1024;

describe('readBody', () => {
  let server: Server;
  let port: number;
  /** What readBody did with the last request: the bytes, or the error's code. */
  let outcome: Promise<Buffer | string>;

  beforeAll(async () => {
    server = createServer((req, res) => {
      outcome = readBody(req, LIMIT).then(
        (body) => body,
        (error: unknown) => (error instanceof PayloadTooLarge ? error.code : String(error)),
      );
      void outcome.then(() => res.end('done'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function post(body: Buffer, chunked: boolean): Promise<void> {
    return new Promise((resolve) => {
      const headers: Record<string, string> = chunked ? {} : { 'content-length': String(body.length) };
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      // A rejected body ends the exchange early; the client may then see a reset.
      req.on('error', () => resolve());
      if (chunked) {
        for (let offset = 0; offset < body.length; offset += 100)
          req.write(body.subarray(offset, offset + 100));
        req.end();
      } else {
        req.end(body);
      }
    });
  }

  it.each([
    ['content-length', false],
    ['chunked', true],
  ] as const)('%s: exactly the limit is read whole, byte for byte', async (_name, chunked) => {
    const body = Buffer.alloc(LIMIT, 0x61);
    await post(body, chunked);
    expect(await outcome).toEqual(body);
  });

  it.each([
    ['content-length', false],
    ['chunked', true],
  ] as const)('%s: one byte over the limit → payload_too_large', async (_name, chunked) => {
    await post(Buffer.alloc(LIMIT + 1, 0x61), chunked);
    expect(await outcome).toBe('payload_too_large');
  });

  it('a declared Content-Length over the limit is refused before any byte is read', async () => {
    const reply = rawRequest(port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT * 100}\r\n\r\n`, {
      timeoutMs: 2000,
    });
    // No body follows: only the declared length can have decided it.
    await reply;
    expect(await outcome).toBe('payload_too_large');
  });
});

describe('limits.maxBodyBytes through the gateway', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      config: {
        limits: { maxBodyBytes: LIMIT },
        routes: [
          { name: 'signed', match: { pathPrefix: '/signed' }, upstream: upstream.url, auth: 'oauth1' },
          { name: 'open', match: { pathPrefix: '/open' }, upstream: upstream.url, auth: 'none' },
        ],
      },
      credentials: {
        clients: [{ clientId: 'c', clientSecret: 's' }],
        tokens: [{ token: 't', tokenSecret: 'ts', clientId: 'c', userId: 'alice' }],
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  function signedForm(body: string): { authorization: string } {
    return {
      authorization: signOAuth1Request({
        method: 'POST',
        url: `${gw.url}/signed`,
        consumerKey: 'c',
        consumerSecret: 's',
        token: 't',
        tokenSecret: 'ts',
        body,
        contentType: 'application/x-www-form-urlencoded',
      }),
    };
  }

  async function post(path: string, body: string, headers: Record<string, string>) {
    const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers, body });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  it('an OAuth1 form body within the limit is read, verified and replayed to the upstream', async () => {
    const body = `photo=${'a'.repeat(LIMIT - 10)}`;
    const before = upstream.requests.length;
    const reply = await post('/signed', body, {
      ...signedForm(body),
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(reply.status).toBe(200);
    expect(upstream.requests).toHaveLength(before + 1);
    expect(upstream.requests.at(-1)!.body.toString()).toBe(body);
    expect(upstream.requests.at(-1)!.headers['x-oauth-user']).toBe('alice');
  });

  it('an OAuth1 form body over the limit → 413 payload_too_large, nothing reaches the upstream', async () => {
    const body = `photo=${'a'.repeat(LIMIT)}`;
    const before = upstream.requests.length;
    const reply = await post('/signed', body, {
      ...signedForm(body),
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(reply.status).toBe(413);
    expect(reply.json['error']).toBe('payload_too_large');
    expect(upstream.requests).toHaveLength(before);
  });

  it('a body the gateway need not read is streamed whatever its size (the limit does not apply)', async () => {
    const body = 'x'.repeat(LIMIT * 64);
    const before = upstream.requests.length;
    const reply = await post('/open', body, { 'content-type': 'application/octet-stream' });
    expect(reply.status).toBe(200);
    expect(upstream.requests).toHaveLength(before + 1);
    expect(upstream.requests.at(-1)!.bodyLength).toBe(body.length);
  });
});

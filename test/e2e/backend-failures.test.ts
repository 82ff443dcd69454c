import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { bearer, send } from './oauth2/support.js';

/**
 * Issue 14: every 503 says why. An introspection endpoint that refuses the gateway's client
 * credentials, one that answers something the gateway cannot read, and one that is down each give
 * 503 `temporarily_unavailable`, and each leaves one `warn` line naming the cause (HTTP status,
 * the member that was wrong, the token's sha256 prefix; never the token or the secret) and a count
 * in `oauth_gateway_auth_backend_failures_total{source,cause}`. A burst of the same cause is one
 * line (rate limited), while the counter counts every request.
 */

const SECRET = 'introspection-secret-Zq81';
type Mode = 'refuse' | 'malformed';

describe('503 causes are logged and counted', () => {
  let upstream: TestUpstream;
  let as: Server;
  let asUrl: string;
  let mode: Mode = 'refuse';
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    as = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (mode === 'refuse') {
          res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic' });
          res.end('{"error":"invalid_client"}');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"active":true,"sub":4.5,"client_id":"c"}');
        }
      });
    });
    await new Promise<void>((resolve) => as.listen(0, '127.0.0.1', resolve));
    asUrl = `http://127.0.0.1:${(as.address() as AddressInfo).port}/introspect`;
    gw = await startTestGateway({
      config: {
        oauth2: {
          tokenSources: ['introspection'],
          introspection: { url: asUrl, clientId: 'gateway', clientSecret: SECRET, timeout: '1s' },
        },
        routes: [{ name: 'api', match: { pathPrefix: '/' }, upstream: upstream.url, auth: 'oauth2' }],
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    as?.closeAllConnections();
    await new Promise<void>((resolve) => (as?.listening ? as.close(() => resolve()) : resolve()));
  });

  const warnings = (cause: string) =>
    gw.logEntries().filter((line) => line['level'] === 'warn' && line['cause'] === cause);

  async function failureCount(cause: string): Promise<number> {
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) =>
        l.startsWith(`oauth_gateway_auth_backend_failures_total{source="introspection",cause="${cause}"}`),
      );
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  }

  it('the AS refuses our client credentials (401): one warn line with the status, every request counted', async () => {
    mode = 'refuse';
    const tokens = ['refused-token-1', 'refused-token-2', 'refused-token-3'];
    for (const token of tokens) {
      const reply = await send(gw.url, '/x', { headers: bearer(token) });
      expect(reply.status).toBe(503);
      expect(JSON.parse(reply.text)).toMatchObject({ error: 'temporarily_unavailable' });
    }
    const lines = warnings('client_auth_refused');
    expect(lines).toHaveLength(1); // rate limited: one line per cause per window
    expect(lines[0]).toMatchObject({
      source: 'introspection',
      cause: 'client_auth_refused',
      status: 401,
      route: 'api',
      tokenHash: createHash('sha256').update(tokens[0]!).digest('hex').slice(0, 8),
    });
    expect(String(lines[0]!['msg'])).toContain('503');
    expect(await failureCount('client_auth_refused')).toBe(3);
  });

  it('a malformed answer (sub is 4.5): the warn line names the member', async () => {
    mode = 'malformed';
    const reply = await send(gw.url, '/x', { headers: bearer('malformed-answer-token') });
    expect(reply.status).toBe(503);
    const lines = warnings('malformed_response');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ source: 'introspection', status: 200, field: 'sub' });
    expect(await failureCount('malformed_response')).toBe(1);
  });

  it('the AS is down: unreachable, with the socket error code', async () => {
    as.closeAllConnections();
    await new Promise<void>((resolve) => as.close(() => resolve()));
    const reply = await send(gw.url, '/x', { headers: bearer('as-down-token') });
    expect(reply.status).toBe(503);
    const lines = warnings('unreachable');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ source: 'introspection', code: 'ECONNREFUSED' });
    expect(await failureCount('unreachable')).toBe(1);
  });

  it('no line carries a token or the client secret', () => {
    const all = gw.logs.join('\n');
    for (const secret of [SECRET, 'refused-token-1', 'malformed-answer-token', 'as-down-token']) {
      expect(all).not.toContain(secret);
    }
  });
});

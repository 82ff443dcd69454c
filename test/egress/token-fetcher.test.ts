import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { EgressOAuth2Config } from '../../src/config/schema.js';
import { ClientCredentialsTokens } from '../../src/egress/token-fetcher.js';

/**
 * The token cache's clock rules, with an injected clock and a real local token endpoint whose
 * answers each test chooses: when a token stops being used, when a refresh starts, what counts as
 * a usable answer, and that refreshes are coalesced.
 */

type Answer = (req: IncomingMessage, res: ServerResponse, body: string) => void;

describe('ClientCredentialsTokens', () => {
  let server: Server;
  let tokenUrl: string;
  let answer: Answer;
  let requests: string[];
  let clock: number;
  let issued: number;

  const json =
    (payload: Record<string, unknown>): Answer =>
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
  const fresh =
    (expiresIn: unknown): Answer =>
    (req, res, body) =>
      json({ access_token: `tok${++issued}`, token_type: 'Bearer', expires_in: expiresIn })(req, res, body);

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        requests.push(body);
        answer(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    requests = [];
    clock = 1_000_000;
    issued = 0;
    answer = fresh(3600);
  });

  const make = (extra: Partial<EgressOAuth2Config> = {}) =>
    new ClientCredentialsTokens({
      config: {
        tokenUrl,
        clientId: 'c',
        clientSecret: 's',
        authMethod: 'client_secret_post',
        assertionAlgorithm: 'RS256',
        timeout: 2_000,
        refreshAhead: 60_000,
        scope: 'read write',
        resource: ['https://a.example', 'https://b.example'],
        ...extra,
      },
      ca: undefined,
      now: () => clock,
    });

  test('the token request: grant, scope, repeated resource, client_secret_post', async () => {
    const tokens = make();
    expect(await tokens.get()).toBe('tok1');
    expect([...new URLSearchParams(requests[0])]).toEqual([
      ['grant_type', 'client_credentials'],
      ['scope', 'read write'],
      ['resource', 'https://a.example'],
      ['resource', 'https://b.example'],
      ['client_id', 'c'],
      ['client_secret', 's'],
    ]);
    await tokens.close();
  });

  test('one-hour token: used until 5 s before expiry, refreshed in the background from 60 s before', async () => {
    const tokens = make();
    expect(await tokens.get()).toBe('tok1');
    clock += 3_539_000; // 61 s left: still cached, no refresh
    expect(await tokens.get()).toBe('tok1');
    expect(requests).toHaveLength(1);
    clock += 2_000; // 59 s left: the current token now, a refresh beside it
    expect(await tokens.get()).toBe('tok1');
    await expect.poll(() => issued).toBe(2);
    expect(await tokens.get()).toBe('tok2');
    await tokens.close();
  });

  test('short token: margins shrink with the lifetime (refresh at half, stop at 90 %)', async () => {
    answer = fresh(10);
    const tokens = make();
    expect(await tokens.get()).toBe('tok1');
    clock += 4_900;
    expect(await tokens.get()).toBe('tok1');
    expect(requests).toHaveLength(1);
    answer = fresh(10);
    clock += 4_200; // 9.1 s: past 90 % — not used any more, the caller waits for a new one
    expect(await tokens.get()).toBe('tok2');
    expect(requests).toHaveLength(2);
    await tokens.close();
  });

  test('no expires_in: kept 5 minutes; expires_in as a numeric string is accepted', async () => {
    answer = json({ access_token: 'noexp', token_type: 'bearer' });
    const tokens = make();
    expect(await tokens.get()).toBe('noexp');
    clock += 240_000;
    expect(await tokens.get()).toBe('noexp');
    expect(requests).toHaveLength(1);
    await tokens.close();
    answer = json({ access_token: 'strexp', token_type: 'Bearer', expires_in: '120' });
    const other = make();
    expect(await other.get()).toBe('strexp');
    await other.close();
  });

  test.each([
    ['not JSON', (_req: IncomingMessage, res: ServerResponse) => res.end('<html>')],
    ['no access_token', json({ token_type: 'Bearer', expires_in: 60 })],
    ['a token a header cannot carry', json({ access_token: 'a b\r\nx: y', token_type: 'Bearer' })],
    ['token_type DPoP', json({ access_token: 'abc', token_type: 'DPoP', expires_in: 60 })],
    ['expires_in negative', json({ access_token: 'abc', token_type: 'Bearer', expires_in: -5 })],
  ])('%s → 503 that says the answer was unusable', async (_name, bad) => {
    answer = bad as Answer;
    const tokens = make();
    await expect(Promise.resolve(tokens.get())).rejects.toMatchObject({
      status: 503,
      code: 'temporarily_unavailable',
      description:
        'No access token: the token endpoint answered without a usable bearer access_token; the request was not sent',
    });
    await tokens.close();
  });

  test('invalid_client → "refused the client credentials"; a failure is remembered for 0.5 s', async () => {
    answer = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"invalid_client"}');
    };
    const tokens = make();
    await expect(Promise.resolve(tokens.get())).rejects.toMatchObject({
      description: expect.stringContaining('refused the client credentials'),
    });
    answer = fresh(3600);
    clock += 400;
    await expect(Promise.resolve(tokens.get())).rejects.toMatchObject({ status: 503 });
    expect(requests).toHaveLength(1);
    clock += 200;
    expect(await tokens.get()).toBe('tok1');
    await tokens.close();
  });

  test('concurrent callers share one token request; renew() replaces only the rejected token', async () => {
    const tokens = make();
    const all = await Promise.all(Array.from({ length: 50 }, () => tokens.get()));
    expect(new Set(all)).toEqual(new Set(['tok1']));
    expect(requests).toHaveLength(1);
    // Many requests saw tok1 rejected at once: one renewal.
    const renewed = await Promise.all(Array.from({ length: 20 }, () => tokens.renew('tok1')));
    expect(new Set(renewed)).toEqual(new Set(['tok2']));
    expect(requests).toHaveLength(2);
    // A late 401 for the old token does not throw away the new one.
    expect(await tokens.renew('tok1')).toBe('tok2');
    expect(requests).toHaveLength(2);
    await tokens.close();
  });
});

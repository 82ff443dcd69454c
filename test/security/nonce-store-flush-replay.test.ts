import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signOAuth1Request } from '../../src/oauth1-client/sign.js';
import { sendTo } from '../e2e/oauth1/world.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { OwnRedisServer } from '../helpers/redis-server.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { CONSUMER, TOKEN } from './helpers/credentials.js';
import { mapConcurrent, sleep } from './helpers/tally.js';

/**
 * Nonce-store flush replay (issue 13). An attacker captures one validly signed OAuth1 request, then
 * floods the gateway with its *own* validly signed requests (any client with credentials can) until
 * a bounded nonce store forgets the captured nonce while its timestamp is still inside the window,
 * then replays the capture. The old memory store rotated two generations of maxEntries / 2 and
 * answered the replay with 200. Now the store raises a timestamp floor before it forgets anything,
 * so the replay is refused (401 invalid_nonce or invalid_timestamp) and current requests still work.
 * Oracle: the status and error code, and what the upstream received (the victim's request once).
 */

const ATTACKER = {
  clientId: 'flood-client-91c2',
  clientSecret: 'flood-client-secret-x7Rt',
  token: 'flood-token-4d1a',
  tokenSecret: 'flood-token-secret-Vb03',
};
const MAX_ENTRIES = 1000;
const FLOOD = 2500;

function credentials(): Record<string, unknown> {
  return {
    clients: [
      { clientId: CONSUMER.clientId, clientSecret: CONSUMER.clientSecret },
      { clientId: ATTACKER.clientId, clientSecret: ATTACKER.clientSecret },
    ],
    tokens: [
      TOKEN,
      {
        token: ATTACKER.token,
        tokenSecret: ATTACKER.tokenSecret,
        clientId: ATTACKER.clientId,
        userId: 'mallory',
      },
    ],
  };
}

/** Signed for the public name, as behind a load balancer: the same bytes are valid on every replica. */
const PUBLIC_HOST = 'api.example.com';

interface Captured {
  readonly target: string;
  readonly authorization: string;
}

function signed(target: string, who: 'victim' | 'attacker'): Captured {
  const creds =
    who === 'victim'
      ? {
          consumerKey: CONSUMER.clientId,
          consumerSecret: CONSUMER.clientSecret,
          token: TOKEN.token,
          tokenSecret: TOKEN.tokenSecret,
        }
      : {
          consumerKey: ATTACKER.clientId,
          consumerSecret: ATTACKER.clientSecret,
          token: ATTACKER.token,
          tokenSecret: ATTACKER.tokenSecret,
        };
  return {
    target,
    authorization: signOAuth1Request({
      method: 'GET',
      url: `http://${PUBLIC_HOST}${target}`,
      ...creds,
      nonce: randomUUID(),
      timestamp: Math.floor(Date.now() / 1000),
    }),
  };
}

async function send(
  gateway: TestGateway,
  request: Captured,
): Promise<{ status: number; error: string | undefined }> {
  const reply = await sendTo(gateway.url, request.target, {
    headers: { host: PUBLIC_HOST, authorization: request.authorization },
  });
  const error = reply.status === 200 ? undefined : (JSON.parse(reply.text) as { error?: string }).error;
  return { status: reply.status, error };
}

/** Every signed request the attacker sends, spread over both gateways; all must be answered. */
async function flood(gateways: readonly TestGateway[]): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  await mapConcurrent(
    Array.from({ length: FLOOD }, (_, i) => i),
    16,
    async (i) => {
      const gateway = gateways[i % gateways.length]!;
      const { status } = await send(gateway, signed(`/photos/flood-${i}`, 'attacker'));
      statuses[status] = (statuses[status] ?? 0) + 1;
    },
  );
  return statuses;
}

/** Waits for the start of the next second, so a timestamp of "now" is newer than any seen so far. */
async function nextSecond(): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + 20);
}

function victimRequestsSeen(upstream: TestUpstream): number {
  return upstream.requests.filter((r) => r.headers['x-oauth-client-id'] === CONSUMER.clientId).length;
}

const route = (upstream: TestUpstream) => ({
  name: 'photos',
  match: { pathPrefix: '/photos' },
  upstream: upstream.url,
  auth: 'oauth1',
});

describe('nonce-store flush replay: memory store with a small maxEntries', () => {
  let upstream: TestUpstream;
  let gateway: TestGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startTestGateway({
      config: {
        routes: [route(upstream)],
        oauth1: { nonceStore: { type: 'memory', maxEntries: MAX_ENTRIES } },
      },
      credentials: credentials(),
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  it('refuses the captured request after a flood of fresh signed requests; current requests still pass', async () => {
    const captured = signed('/photos/victim', 'victim');
    expect(await send(gateway, captured)).toEqual({ status: 200, error: undefined });
    expect(victimRequestsSeen(upstream)).toBe(1);

    const statuses = await flood([gateway]);
    // Far more fresh nonces than the store holds; most of the flood was accepted (it is validly signed).
    expect(statuses[200]).toBeGreaterThan(MAX_ENTRIES);

    const replay = await send(gateway, captured);
    expect(replay.status).toBe(401);
    expect(['invalid_nonce', 'invalid_timestamp']).toContain(replay.error);
    expect(victimRequestsSeen(upstream)).toBe(1);

    await nextSecond();
    for (let i = 0; i < 5; i++) {
      expect(await send(gateway, signed(`/photos/victim-${i}`, 'victim'))).toEqual({
        status: 200,
        error: undefined,
      });
    }
    expect(victimRequestsSeen(upstream)).toBe(6);

    // The operator sees it: the floor rose, the effective window shrank, one warning naming the cause.
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    const raises = Number(/^oauth_gateway_nonce_floor_raises_total (\d+)/m.exec(metrics)?.[1]);
    expect(raises).toBeGreaterThan(0);
    expect(Number(/^oauth_gateway_nonce_store_entries (\d+)/m.exec(metrics)?.[1])).toBeLessThanOrEqual(
      MAX_ENTRIES,
    );
    const window = Number(/^oauth_gateway_nonce_effective_window_seconds (\d+)/m.exec(metrics)?.[1]);
    expect(window).toBeLessThan(300);
    const warnings = gateway
      .logEntries()
      .filter((l) => l['cause'] === 'oauth1.nonceStore.maxEntries reached');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', maxEntries: MAX_ENTRIES });
  }, 120_000);
});

describe('nonce-store flush replay: two gateways sharing Redis (maxmemory-policy noeviction)', () => {
  let redis: OwnRedisServer;
  let upstream: TestUpstream;
  let gateways: TestGateway[];

  beforeAll(async () => {
    redis = await OwnRedisServer.start(undefined, [
      '--port',
      '{port}',
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory',
      '64mb',
      '--maxmemory-policy',
      'noeviction',
    ]);
    upstream = await startUpstream();
    const config = {
      routes: [route(upstream)],
      redis: { url: redis.url, keyPrefix: `flush-${randomUUID()}:` },
      oauth1: { nonceStore: { type: 'redis' } },
    };
    gateways = [
      await startTestGateway({ config, credentials: credentials() }),
      await startTestGateway({ config, credentials: credentials() }),
    ];
  });

  afterAll(async () => {
    for (const gateway of gateways ?? []) await gateway.stop();
    await upstream?.close();
    await redis?.kill();
  });

  it('refuses the captured request on either gateway after a flood; current requests still pass', async () => {
    const [gw1, gw2] = gateways as [TestGateway, TestGateway];
    const captured = signed('/photos/victim', 'victim');
    expect(await send(gw1, captured)).toEqual({ status: 200, error: undefined });

    const statuses = await flood(gateways);
    expect(statuses[200]).toBe(FLOOD);

    // The same bytes again, to the other gateway and to the one that saw it.
    expect(await send(gw2, captured)).toEqual({ status: 401, error: 'invalid_nonce' });
    expect(await send(gw1, captured)).toEqual({ status: 401, error: 'invalid_nonce' });
    expect(victimRequestsSeen(upstream)).toBe(1);

    for (let i = 0; i < 4; i++) {
      const gateway = i % 2 === 0 ? gw1 : gw2;
      expect(await send(gateway, signed(`/photos/victim-${i}`, 'victim'))).toEqual({
        status: 200,
        error: undefined,
      });
    }
    expect(victimRequestsSeen(upstream)).toBe(5);
  }, 120_000);
});

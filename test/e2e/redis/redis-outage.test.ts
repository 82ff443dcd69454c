import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signOAuth1Request } from '../../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { OwnRedisServer } from '../../helpers/redis-server.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import { bearer, errorCode, histogram, send, sha256Hex, sleep, until } from '../oauth2/support.js';

/**
 * Redis dies under load and comes back, with the gateway running throughout (issue 6, "fail
 * closed"): a steady stream of freshly signed OAuth1 requests (each needs a Redis nonce claim) and
 * of requests with a cached bearer token. While Redis is down every OAuth1 request must get 503
 * temporarily_unavailable — never a 200 (a replay could not be ruled out), never another 5xx, never
 * a hang — while the cached bearer token keeps working; once redis-server is back on the same port
 * requests succeed again without restarting the gateway, and /readyz follows.
 */

const KEY_PREFIX = 'e2e-outage:';
const COMMAND_TIMEOUT_MS = 500;
/** No request may take longer than this (commandTimeout + margin for connect-in-progress waits). */
const NO_HANG_MS = COMMAND_TIMEOUT_MS * 2 + 500;
const WORKERS = 4;

const CLIENT = { clientId: 'outage-consumer', clientSecret: 'outage-consumer-secret' };
const TOKEN = {
  token: 'outage-token',
  tokenSecret: 'outage-token-secret',
  clientId: CLIENT.clientId,
  userId: 'bob',
  scope: 'photos:read',
};
const BEARER = `bearer-${randomBytes(8).toString('hex')}`;

interface Sample {
  readonly kind: 'oauth1' | 'oauth2';
  readonly start: number;
  readonly end: number;
  /** 0: the client gave up or the connection failed. */
  readonly status: number;
}

describe('Redis outage under load', () => {
  let redis: OwnRedisServer;
  let upstream: TestUpstream;
  let gw: TestGateway;

  async function seed(): Promise<void> {
    const writer = new Redis(redis.url);
    await writer.hset(`${KEY_PREFIX}oauth1:client:${CLIENT.clientId}`, CLIENT);
    await writer.hset(`${KEY_PREFIX}oauth1:token:${TOKEN.token}`, TOKEN);
    await writer.hset(`${KEY_PREFIX}oauth2:token:${sha256Hex(BEARER)}`, {
      clientId: 'bearer-client',
      userId: 'alice',
      scope: 'photos:read',
      revoked: '0',
      issuedAt: String(Math.floor(Date.now() / 1000)),
      expiresIn: '3600',
    });
    writer.disconnect();
  }

  beforeAll(async () => {
    redis = await OwnRedisServer.start();
    await seed();
    upstream = await startUpstream();
    gw = await startTestGateway({
      config: {
        redis: {
          url: redis.url,
          keyPrefix: KEY_PREFIX,
          commandTimeout: `${COMMAND_TIMEOUT_MS}ms`,
          connectTimeout: '500ms',
          maxReconnectDelay: '200ms',
        },
        // Long enough that the records read before the outage stay cached through it.
        credentials: { type: 'redis', cacheTtl: '60s' },
        oauth1: { nonceStore: 'redis' },
        oauth2: { tokenSources: ['store'] },
        routes: [
          { name: 'photos', match: { pathPrefix: '/photos' }, upstream: upstream.url, auth: 'oauth1' },
          { name: 'api', match: { pathPrefix: '/api' }, upstream: upstream.url, auth: 'oauth2' },
        ],
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    await redis?.kill();
  });

  async function readyz(): Promise<{ status: number; redis: unknown }> {
    const reply = await send(gw.adminUrl, '/readyz', { timeoutMs: 5_000 });
    return {
      status: reply.status,
      redis: (JSON.parse(reply.text) as { checks?: { redis?: unknown } }).checks?.redis,
    };
  }

  function signed(): string {
    // Fresh timestamp and nonce every time: only Redis can tell whether it was seen before.
    return signOAuth1Request({
      method: 'GET',
      url: `${gw.url}/photos/1`,
      consumerKey: CLIENT.clientId,
      consumerSecret: CLIENT.clientSecret,
      token: TOKEN.token,
      tokenSecret: TOKEN.tokenSecret,
    });
  }

  it('every OAuth1 request during the outage gets 503, cached bearer tokens keep working, and it heals by itself', async () => {
    expect(await readyz()).toEqual({ status: 200, redis: true });

    const samples: Sample[] = [];
    let running = true;
    const worker = async (kind: Sample['kind']) => {
      while (running) {
        const start = performance.now();
        let status = 0;
        try {
          const headers = kind === 'oauth1' ? { authorization: signed() } : bearer(BEARER);
          status = (
            await send(gw.url, kind === 'oauth1' ? '/photos/1' : '/api/x', { headers, timeoutMs: 5_000 })
          ).status;
        } catch {
          status = 0;
        }
        samples.push({ kind, start, end: performance.now(), status });
        await sleep(10);
      }
    };
    const workers = [...Array.from({ length: WORKERS }, () => worker('oauth1')), worker('oauth2')];

    try {
      await until(() => samples.filter((s) => s.kind === 'oauth1').length >= 20, 10_000, 'warm-up traffic');
      const killStart = performance.now();
      await redis.kill();
      const killedAt = performance.now();

      // Readiness reports Redis down, quickly.
      await until(async () => (await readyz()).status === 503, 3_000, '/readyz to report 503');
      expect(await readyz()).toEqual({ status: 503, redis: false });

      // Uncached credentials cannot be judged without Redis either: 503, never 200 or 401.
      const unknownBearer = await send(gw.url, '/api/x', { headers: bearer('never-cached-token') });
      expect(unknownBearer.status).toBe(503);
      expect(errorCode(unknownBearer)).toBe('temporarily_unavailable');

      await sleep(1_500);
      const restartStart = performance.now();
      await redis.start();
      const restartedAt = performance.now();
      await seed(); // no persistence: the server came back empty, as after a crash without AOF

      await until(
        () => samples.some((s) => s.kind === 'oauth1' && s.start > restartedAt && s.status === 200),
        5_000,
        'an OAuth1 request to succeed after the restart',
      );
      const recoveredAt = samples.find(
        (s) => s.kind === 'oauth1' && s.start > restartedAt && s.status === 200,
      )!.end;
      await until(async () => (await readyz()).status === 200, 3_000, '/readyz to report 200 again');
      expect(await readyz()).toEqual({ status: 200, redis: true });
      await sleep(1_000);
      running = false;
      await Promise.all(workers);

      const oauth1 = samples.filter((s) => s.kind === 'oauth1');
      const oauth2 = samples.filter((s) => s.kind === 'oauth2');
      const before = oauth1.filter((s) => s.end < killStart);
      const during = oauth1.filter((s) => s.start > killedAt && s.end < restartStart);
      const after = oauth1.filter((s) => s.start > recoveredAt);
      const statusesOf = (list: Sample[]) => histogram(list.map((s) => s.status));
      const other = oauth1.filter((s) => s.status !== 200 && s.status !== 503).length;
      console.log(
        'outage: 200=%d 503=%d other=%d (oauth1 before %j, during %j, after %j; oauth2 %j); slowest %d ms; recovered %d ms after restart',
        oauth1.filter((s) => s.status === 200).length,
        oauth1.filter((s) => s.status === 503).length,
        other,
        statusesOf(before),
        statusesOf(during),
        statusesOf(after),
        statusesOf(oauth2),
        Math.round(Math.max(...samples.map((s) => s.end - s.start))),
        Math.round(recoveredAt - restartedAt),
      );

      expect(before.length).toBeGreaterThanOrEqual(20);
      expect(statusesOf(before)).toEqual({ 200: before.length });
      // The heart of it: during the outage, 503 and nothing else.
      expect(during.length).toBeGreaterThan(20);
      expect(statusesOf(during)).toEqual({ 503: during.length });
      // Around the transitions a request may land either way, but never on anything but 200/503.
      expect(other).toBe(0);
      expect(after.length).toBeGreaterThan(10);
      expect(statusesOf(after)).toEqual({ 200: after.length });
      // No hangs: every request answered within commandTimeout + margin.
      for (const sample of samples) expect(sample.end - sample.start).toBeLessThan(NO_HANG_MS);
      // The bearer token read before the outage stayed good throughout.
      expect(oauth2.filter((s) => s.start > killedAt && s.end < restartStart).length).toBeGreaterThan(5);
      expect(statusesOf(oauth2)).toEqual({ 200: oauth2.length });
      // Healed without a gateway restart, within a few reconnect backoffs.
      expect(recoveredAt - restartedAt).toBeLessThan(3_000);
    } finally {
      running = false;
      await Promise.all(workers);
    }
  }, 30_000);
});

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { signOAuth1Request } from '../../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { OwnRedisServer, waitFor } from '../../helpers/redis-server.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import { CONSUMER, TOKEN } from '../../security/helpers/credentials.js';
import { MAIN_JS } from '../../security/helpers/spawned-gateway.js';

/**
 * Issue 13, Redis side: with an evicting maxmemory-policy Redis may drop a nonce key before it
 * expires, and the captured request replays. The gateway reads the policy (CONFIG GET, else INFO)
 * at start and on every reconnect: it refuses to start with a message naming the setting and the
 * fix, unless redis.allowEvictingPolicy: true, in which case /readyz and a metric say so. A Redis
 * that forbids both commands (managed services) is said once and accepted.
 */

const COMMON_ARGS = ['--port', '{port}', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

let upstream: TestUpstream;
const servers: OwnRedisServer[] = [];

async function redisServer(...extra: string[]): Promise<OwnRedisServer> {
  const server = await OwnRedisServer.start(undefined, [...COMMON_ARGS, ...extra]);
  servers.push(server);
  return server;
}

function config(redisUrl: string, redis: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    credentials: { type: 'file', path: './credentials.yaml' },
    redis: { url: redisUrl, keyPrefix: `policy-${randomUUID()}:`, commandTimeout: '500ms', ...redis },
    oauth1: { nonceStore: 'redis' },
    routes: [{ name: 'photos', match: { pathPrefix: '/photos' }, upstream: upstream.url, auth: 'oauth1' }],
  };
}

const credentials = {
  clients: [{ clientId: CONSUMER.clientId, clientSecret: CONSUMER.clientSecret }],
  tokens: [TOKEN],
};

/** `oauth-gateway run` as users start it; resolves with its exit code and output once it exits. */
async function runCli(
  gatewayConfig: Record<string, unknown>,
): Promise<{ code: number | null; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-policy-'));
  try {
    await writeFile(join(dir, 'gateway.yaml'), stringify(gatewayConfig));
    await writeFile(join(dir, 'credentials.yaml'), stringify(credentials));
    const { PORT: _port, OAUTH_GATEWAY_CONFIG: _config, ...env } = process.env;
    const child = spawn(process.execPath, [MAIN_JS, 'run', '-c', join(dir, 'gateway.yaml')], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
    clearTimeout(timer);
    return { code, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function oauth1Get(gateway: TestGateway, path: string): Promise<number> {
  const url = `${gateway.url}${path}`;
  const authorization = signOAuth1Request({
    method: 'GET',
    url,
    consumerKey: CONSUMER.clientId,
    consumerSecret: CONSUMER.clientSecret,
    token: TOKEN.token,
    tokenSecret: TOKEN.tokenSecret,
  });
  const response = await fetch(url, { headers: { authorization } });
  await response.arrayBuffer();
  return response.status;
}

async function readyz(gateway: TestGateway): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${gateway.adminUrl}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  upstream = await startUpstream();
});

afterAll(async () => {
  await upstream?.close();
  for (const server of servers) await server.kill();
});

describe('redis maxmemory-policy and the Redis nonce store', () => {
  it('refuses to start on allkeys-lru, naming the setting and the fix', async () => {
    const redis = await redisServer('--maxmemory-policy', 'allkeys-lru');
    const { code, output } = await runCli(config(redis.url));
    expect(code).toBe(1);
    expect(output).toContain('cannot start: Redis runs maxmemory-policy allkeys-lru');
    expect(output).toContain('set maxmemory-policy noeviction');
    expect(output).toContain('redis.allowEvictingPolicy: true');
    expect(output).not.toContain('oauth-gateway listening');
  }, 30_000);

  it('starts with redis.allowEvictingPolicy: true, and /readyz and the metric report the policy', async () => {
    const redis = await redisServer('--maxmemory-policy', 'allkeys-lru');
    const gateway = await startTestGateway({
      config: config(redis.url, { allowEvictingPolicy: true }),
      credentials,
    });
    try {
      expect(await oauth1Get(gateway, '/photos/1')).toBe(200);
      const ready = await readyz(gateway);
      expect(ready.status).toBe(200);
      expect(ready.body['checks']).toMatchObject({ redis: true, redisMaxmemoryPolicy: true });
      expect(ready.body['warnings']).toEqual([
        'redis maxmemory-policy is allkeys-lru: nonces may be evicted before they expire (allowed by redis.allowEvictingPolicy)',
      ]);
      const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/^oauth_gateway_redis_evicting_policy\{policy="allkeys-lru"\} 1$/m);
      const warned = gateway.logEntries().filter((l) => l['setting'] === 'redis.allowEvictingPolicy');
      expect(warned).toHaveLength(1);
    } finally {
      await gateway.stop();
    }
  }, 30_000);

  it('reads the policy from INFO when CONFIG is renamed (volatile-ttl is refused too)', async () => {
    const redis = await redisServer('--maxmemory-policy', 'volatile-ttl', '--rename-command', 'CONFIG', '');
    await expect(startTestGateway({ config: config(redis.url), credentials })).rejects.toThrow(
      /maxmemory-policy volatile-ttl/,
    );
  }, 30_000);

  it('on a managed Redis that allows neither CONFIG nor INFO, says so once and goes on', async () => {
    // As managed services do it: the ACL forbids both commands (NOPERM).
    const redis = await redisServer(
      '--maxmemory-policy',
      'allkeys-lru',
      '--user',
      'default',
      'on',
      'nopass',
      '~*',
      '&*',
      '+@all',
      '-config',
      '-info',
    );
    const gateway = await startTestGateway({ config: config(redis.url), credentials });
    try {
      expect(await oauth1Get(gateway, '/photos/1')).toBe(200);
      expect(await oauth1Get(gateway, '/photos/2')).toBe(200);
      const said = gateway
        .logEntries()
        .filter((l) => String(l['msg']).includes('cannot read redis maxmemory-policy'));
      expect(said).toHaveLength(1);
      expect((await readyz(gateway)).status).toBe(200);
    } finally {
      await gateway.stop();
    }
  }, 30_000);

  it('a reconnect that finds an evicting policy fails nonce claims closed (503) and /readyz until fixed', async () => {
    const redis = await redisServer('--maxmemory-policy', 'noeviction');
    const gateway = await startTestGateway({ config: config(redis.url), credentials });
    const admin = new Redis(redis.url, { lazyConnect: true });
    await admin.connect();
    try {
      expect(await oauth1Get(gateway, '/photos/before')).toBe(200);
      // Someone changes the policy, then the connection drops (as in a failover).
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      const refused = async () => {
        const ready = await readyz(gateway);
        return ready.status === 503 && (ready.body['checks'] as Record<string, boolean>)['redis'] === true;
      };
      expect(await waitFor(refused, 5000)).toBe(true);
      expect((await readyz(gateway)).body['checks']).toMatchObject({
        redis: true,
        redisMaxmemoryPolicy: false,
      });
      expect(await oauth1Get(gateway, '/photos/during')).toBe(503);
      expect(
        gateway
          .logEntries()
          .some((l) => String(l['msg']).includes('Redis runs maxmemory-policy allkeys-lru')),
      ).toBe(true);

      // Fixed and reconnected: claims work again.
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      expect(await waitFor(async () => (await oauth1Get(gateway, '/photos/after')) === 200, 5000)).toBe(true);
      expect((await readyz(gateway)).status).toBe(200);
    } finally {
      admin.disconnect();
      await gateway.stop();
    }
  }, 30_000);
});

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisClient, RedisNonceStore } from '../../src/store/redis.js';
import { OwnRedisServer, waitFor } from '../helpers/redis-server.js';
import { nonceClaim, testRedisConfig } from './support.js';

/** Sentinel and Cluster connection modes against real (single-node) deployments. */

const run = promisify(execFile);
let dir: string;
const servers: OwnRedisServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.kill();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'oauth-gateway-redis-'));
  return dir;
}

describe('Sentinel mode', () => {
  it('finds the master through a sentinel and claims nonces on it', async () => {
    const master = await OwnRedisServer.start();
    servers.push(master);
    const conf = join(await tempDir(), 'sentinel.conf');
    await writeFile(conf, `bind 127.0.0.1\nsentinel monitor gw-master 127.0.0.1 ${master.port} 1\n`);
    const sentinel = await OwnRedisServer.start(undefined, [conf, '--sentinel', '--port', '{port}']);
    servers.push(sentinel);

    const config = testRedisConfig('redis://ignored-host:1', {
      sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
      sentinelName: 'gw-master',
    });
    const redis = createRedisClient(config);
    try {
      expect(await waitFor(() => redis.ping(), 5000)).toBe(true);
      const nonces = new RedisNonceStore(redis);
      expect(await nonces.claim(nonceClaim('c:t:1:sentinel', 2500))).toBe('fresh');
      expect(await nonces.claim(nonceClaim('c:t:1:sentinel', 2500))).toBe('replayed');
      // The key is on the master the sentinel named, not anywhere else.
      const { stdout } = await run('redis-cli', [
        '-p',
        String(master.port),
        'GET',
        `${config.keyPrefix}oauth1:nonce:c:t:1:sentinel`,
      ]);
      expect(stdout.trim()).toBe('1');
    } finally {
      await redis.close();
    }
  });
});

describe('Cluster mode', () => {
  it('connects to a cluster and claims nonces atomically', async () => {
    const nodesFile = join(await tempDir(), 'nodes.conf');
    const node = await OwnRedisServer.start(undefined, [
      '--port',
      '{port}',
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      nodesFile,
      // A lone node does not know its own address and would announce "" in CLUSTER SLOTS.
      '--cluster-announce-ip',
      '127.0.0.1',
    ]);
    servers.push(node);
    await run('redis-cli', ['-p', String(node.port), 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383']);
    const healthy = await waitFor(async () => {
      const { stdout } = await run('redis-cli', ['-p', String(node.port), 'CLUSTER', 'INFO']);
      return stdout.includes('cluster_state:ok');
    }, 5000);
    expect(healthy).toBe(true);

    const redis = createRedisClient(
      testRedisConfig(node.url, { cluster: [{ host: '127.0.0.1', port: node.port }] }),
    );
    try {
      expect(await waitFor(() => redis.ping(), 5000)).toBe(true);
      const nonces = new RedisNonceStore(redis);
      const results = await Promise.all(
        Array.from({ length: 50 }, () => nonces.claim(nonceClaim('c:t:1:cluster', 2500))),
      );
      expect(results.filter((won) => won === 'fresh')).toHaveLength(1);
      expect(await redis.getHash('oauth1:client:none')).toEqual({});
    } finally {
      await redis.close();
    }
  });
});

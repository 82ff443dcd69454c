import type { TestProject } from 'vitest/node';
import { OwnRedisServer, rawPing } from './helpers/redis-server.js';

/**
 * Real Redis for every test that needs one: REDIS_URL (default redis://127.0.0.1:6379) if it
 * answers PING, otherwise a `redis-server` started here on a free port. If neither works the run
 * fails loudly: Redis-backed tests are never skipped silently.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

function ping(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return rawPing(Number(port || 6379), timeoutMs, hostname);
}

let own: OwnRedisServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  if (!(await ping(url))) {
    try {
      own = await OwnRedisServer.start();
    } catch (error) {
      throw new Error(
        `No Redis answered at ${url} and starting redis-server failed (${String(error)}). ` +
          'Install redis-server (apt-get install redis-server) or set REDIS_URL.',
      );
    }
    url = own.url;
  }
  process.env['REDIS_URL'] = url;
  project.provide('redisUrl', url);
}

export async function teardown(): Promise<void> {
  await own?.kill();
}

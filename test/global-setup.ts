import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import type { TestProject } from 'vitest/node';
import { freePort } from './helpers/ports.js';

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
  return new Promise((resolvePing) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePing(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

let child: ChildProcess | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  if (!(await ping(url))) {
    const port = await freePort();
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const spawnError = new Promise<Error>((resolveError) => child!.once('error', resolveError));
    url = `redis://127.0.0.1:${port}`;
    for (let i = 0; i < 50 && !(await ping(url, 200)); i++) {
      const failed = await Promise.race([
        spawnError,
        new Promise((r) => setTimeout(() => r(undefined), 100)),
      ]);
      if (failed instanceof Error) break;
    }
    if (!(await ping(url))) {
      throw new Error(
        `No Redis answered at ${process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'} and starting redis-server failed. ` +
          'Install redis-server (apt-get install redis-server) or set REDIS_URL.',
      );
    }
  }
  process.env['REDIS_URL'] = url;
  project.provide('redisUrl', url);
}

export async function teardown(): Promise<void> {
  child?.kill('SIGTERM');
}

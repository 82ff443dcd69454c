import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createConnection, createServer } from 'node:net';
import type { RedisConfig } from '../../src/config/schema.js';
import type { NonceClaim } from '../../src/store/types.js';

/** A RedisConfig for tests: short timeouts, and a key prefix no other test file shares. */
export function testRedisConfig(url: string, overrides: Partial<RedisConfig> = {}): RedisConfig {
  return {
    url,
    keyPrefix: `test:${randomUUID()}:`,
    commandTimeout: 500,
    connectTimeout: 500,
    maxReconnectDelay: 100,
    allowEvictingPolicy: false,
    ...overrides,
  };
}

/**
 * A claim as the verifier makes it for `key`, judged at `now` with a timestamp of `now` (so always
 * within the window). The Redis store keeps it 2 × windowMs.
 */
export function nonceClaim(key: string, windowMs = 30_000, now = Date.now()): NonceClaim {
  return { key, timestamp: Math.floor(now / 1000), windowMs, now };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Raw RESP PING, independent of the client under test. */
export function rawPing(port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = createConnection({ host: '127.0.0.1', port });
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

export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  stepMs = 25,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

/** A redis-server of our own (no persistence) that a test may kill, pause and restart. */
export class OwnRedisServer {
  readonly port: number;
  readonly #args: readonly string[];
  #child: ChildProcess | undefined;

  private constructor(port: number, args: readonly string[]) {
    this.port = port;
    this.#args = args;
  }

  /** `args` replaces the default (no persistence) command line; `{port}` is filled in. */
  static async start(port?: number, args?: readonly string[]): Promise<OwnRedisServer> {
    const chosen = port ?? (await freePort());
    const defaults = ['--port', '{port}', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const server = new OwnRedisServer(
      chosen,
      (args ?? defaults).map((arg) => arg.replace('{port}', String(chosen))),
    );
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', [...this.#args], { stdio: 'ignore' });
    this.#child = child;
    const spawnFailed = new Promise<Error>((resolveError) => child.once('error', resolveError));
    const up = await Promise.race([waitFor(() => rawPing(this.port), 5000), spawnFailed]);
    if (up !== true) throw new Error(`redis-server did not start on port ${this.port}: ${String(up)}`);
  }

  /** SIGKILL: no goodbye to clients, like a crashed node. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
    child.kill('SIGKILL');
    await exited;
    this.#child = undefined;
  }

  /** SIGSTOP: the socket stays open but nothing answers, like a hung server. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }
}

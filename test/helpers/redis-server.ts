import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './ports.js';

/** Raw RESP PING, independent of the client under test. */
export function rawPing(port: number, timeoutMs = 300, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = createConnection({ host, port });
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

/** Polls `check` every `stepMs` until it is true or `timeoutMs` passed; returns the last answer. */
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

/**
 * A redis-server of the test's own (no persistence by default) on a free port, that the test may
 * kill (like a crashed node), pause (like a hung one) and start again on the same port.
 */
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

  /** (Re)starts the process on the same port and waits until it answers PING. */
  async start(): Promise<void> {
    const child = spawn('redis-server', [...this.#args], { stdio: 'ignore' });
    this.#child = child;
    const spawnFailed = new Promise<Error>((resolveError) => child.once('error', resolveError));
    const up = await Promise.race([waitFor(() => rawPing(this.port), 5000), spawnFailed]);
    if (up !== true) throw new Error(`redis-server did not start on port ${this.port}: ${String(up)}`);
  }

  /** SIGKILL and wait for the process to be gone: no goodbye to clients, like a crashed node. */
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

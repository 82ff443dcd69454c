import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

/**
 * The gateway as users run it: `node dist/main.js run -c <tmp>/gateway.yaml` in its own process,
 * so signals, file watching, process memory and every byte it prints are the real thing. Needs
 * `npm run build` (npm test and test:security:full run it first).
 */

export const MAIN_JS = resolve(import.meta.dirname, '../../../dist/main.js');

export function builtGatewayAvailable(): boolean {
  return existsSync(MAIN_JS);
}

export interface SpawnedGateway {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly adminPort: number;
  /** Port of the egress listener, when the config has `egress`. */
  readonly egressPort: number | undefined;
  readonly dir: string;
  readonly configPath: string;
  readonly credentialsPath: string;
  /** Everything written to stdout and stderr so far, in arrival order. */
  output(): string;
  /** Resident set size in KiB, from /proc/<pid>/status. */
  rssKiB(): Promise<number>;
  writeConfig(config: Record<string, unknown>): Promise<void>;
  writeRaw(text: string): Promise<void>;
  writeCredentials(credentials: Record<string, unknown>): Promise<void>;
  /** Resolves with the exit code (null if killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Wait until `count` output lines match `pattern`. */
  waitForLog(pattern: RegExp, count?: number, timeoutMs?: number): Promise<void>;
  /** SIGKILL if still running, remove the temp dir. */
  dispose(): Promise<void>;
}

function withDefaults(config: Record<string, unknown>): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    credentials: { type: 'file', path: './credentials.yaml' },
    ...config,
  };
}

export async function spawnGateway(options: {
  config: Record<string, unknown>;
  credentials?: Record<string, unknown>;
  env?: Record<string, string>;
}): Promise<SpawnedGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-sec-'));
  const configPath = join(dir, 'gateway.yaml');
  const credentialsPath = join(dir, 'credentials.yaml');
  const writeConfig = (config: Record<string, unknown>) =>
    writeFile(configPath, stringify(withDefaults(config)));
  const writeCredentials = (credentials: Record<string, unknown>) =>
    writeFile(credentialsPath, stringify(credentials));
  await writeConfig(options.config);
  await writeCredentials(options.credentials ?? {});

  const { PORT: _port, OAUTH_GATEWAY_CONFIG: _config, ...inherited } = process.env;
  const child = spawn(process.execPath, [MAIN_JS, 'run', '-c', configPath], {
    cwd: dir,
    env: { ...inherited, LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));

  const waitForLog = (pattern: RegExp, count = 1, timeoutMs = 10_000) =>
    new Promise<void>((resolveWait, reject) => {
      const global = new RegExp(
        pattern.source,
        pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`,
      );
      const check = () => {
        if ((text.match(global)?.length ?? 0) >= count) {
          clearTimeout(timer);
          listeners.delete(check);
          resolveWait();
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`gateway did not log ${pattern} ×${count} in ${timeoutMs} ms; output:\n${text}`));
      }, timeoutMs);
      listeners.add(check);
      void exited.then(() => {
        check();
        if (listeners.has(check)) {
          clearTimeout(timer);
          listeners.delete(check);
          reject(new Error(`gateway exited before logging ${pattern}; output:\n${text}`));
        }
      });
      check();
    });

  const dispose = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitForLog(/"msg":"oauth-gateway listening"/);
  } catch (error) {
    await dispose();
    throw error;
  }
  const line = text.split('\n').find((l) => l.includes('"oauth-gateway listening"'))!;
  const started = JSON.parse(line) as { listen: string; admin: string; egress?: string };
  const port = Number(started.listen.slice(started.listen.lastIndexOf(':') + 1));
  const adminPort = Number(started.admin.slice(started.admin.lastIndexOf(':') + 1));
  const egressPort =
    started.egress === undefined
      ? undefined
      : Number(started.egress.slice(started.egress.lastIndexOf(':') + 1));

  return {
    child,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    adminPort,
    egressPort,
    dir,
    configPath,
    credentialsPath,
    output: () => text,
    async rssKiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
    },
    writeConfig,
    writeRaw: (raw) => writeFile(configPath, raw),
    writeCredentials,
    exited,
    waitForLog,
    dispose,
  };
}

import { execFile } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../helpers/ports.js';

/**
 * A PostgreSQL server of the test's own (Debian's initdb/pg_ctl on a temp dir and a free port),
 * so a test may stop and restart it, and read its log. The server refuses to run as root: when
 * the tests run as root (CI) it is run as the `postgres` user via runuser.
 */

const run = promisify(execFile);

function binDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql (.ci/run installs postgresql)');
  return join(base, versions[0]!, 'bin');
}

async function asPostgres(command: string, args: readonly string[]): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  const [file, argv] = isRoot
    ? ['runuser', ['-u', 'postgres', '--', command, ...args]]
    : [command, [...args]];
  try {
    await run(file, argv, { timeout: 60_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${command} ${args[0] ?? ''} failed: ${stderr}`);
  }
}

export class PrivatePostgres {
  readonly port: number;
  readonly dir: string;
  readonly #bin: string;
  readonly #extra: readonly string[];

  private constructor(dir: string, port: number, extra: readonly string[]) {
    this.dir = dir;
    this.port = port;
    this.#bin = binDir();
    this.#extra = extra;
  }

  /**
   * initdb + start. `settings` are extra server settings (`log_statement=all`); `prepare` runs
   * before the first start with the server's directory (owned by the server's user), e.g. to
   * place TLS files there; `{dir}` in a setting is replaced by that directory.
   */
  static async start(
    settings: readonly string[] = [],
    prepare?: (dir: string) => Promise<void>,
  ): Promise<PrivatePostgres> {
    const dir = await mkdtemp(join(tmpdir(), 'ogw-pg-'));
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    const server = new PrivatePostgres(
      dir,
      await freePort(),
      settings.map((setting) => setting.replaceAll('{dir}', dir)),
    );
    await asPostgres(join(server.#bin, 'initdb'), [
      '-D',
      server.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    await prepare?.(dir);
    await server.start();
    return server;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get logFile(): string {
    return join(this.dir, 'server.log');
  }

  /** URL of database `name` (default `postgres`). */
  url(name = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }

  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      `-k ${this.dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      ...this.#extra.map((setting) => `-c ${setting}`),
    ].join(' ');
    await asPostgres(join(this.#bin, 'pg_ctl'), [
      '-D',
      this.dataDir,
      '-o',
      options,
      '-l',
      this.logFile,
      '-w',
      '-t',
      '30',
      'start',
    ]);
  }

  /** Immediate shutdown: connections are cut without goodbye, like a crashed or fenced server. */
  async stop(): Promise<void> {
    await asPostgres(join(this.#bin, 'pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
  }

  log(): Promise<string> {
    return readFile(this.logFile, 'utf8');
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A private Caddy instance (Debian's caddy, installed by .ci/run): `caddy run` with a Caddyfile,
 * the admin endpoint off, and HOME/XDG dirs under a temp dir so nothing of the user's is read or
 * written. `caddyfile(port)` gets a free port for the site to listen on.
 */

export interface CaddyInstance {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Everything caddy wrote to stdout/stderr (its JSON log). */
  output(): string;
  stop(): Promise<void>;
}

export function caddyBinary(): string {
  for (const candidate of ['caddy', '/usr/bin/caddy']) {
    if (spawnSync(candidate, ['version']).status === 0) return candidate;
  }
  throw new Error('caddy is not installed: `apt-get install caddy` (.ci/run installs it)');
}

export async function startCaddy(caddyfile: (port: number) => string): Promise<CaddyInstance> {
  const binary = caddyBinary();
  const dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-caddy-'));
  for (const sub of ['data', 'config']) await mkdir(join(dir, sub));
  const port = await freePort();
  const file = join(dir, 'Caddyfile');
  // Global options first: no admin endpoint (it would take a fixed port), no automatic HTTPS.
  await writeFile(file, `{\n\tadmin off\n\tauto_https off\n}\n\n${caddyfile(port)}`);
  let output = '';
  const child: ChildProcess = spawn(binary, ['run', '--config', file, '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      XDG_DATA_HOME: join(dir, 'data'),
      XDG_CONFIG_HOME: join(dir, 'config'),
    },
  });
  // A test worker that dies (or a failed beforeAll) must not leave Caddy running after it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    // Ours, not whatever else grabbed the free port in between (caddy then exits with an error).
    const up = await fetch(`http://127.0.0.1:${port}/__ready`).then(
      (r) => r.headers.get('server') === 'Caddy',
      () => false,
    );
    if (up && child.exitCode === null) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`caddy did not start on port ${port}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    output: () => output,
    async stop() {
      process.off('exit', killOnExit);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

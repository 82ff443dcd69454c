import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A real nginx origin (Debian's nginx, installed by .ci/run) for attacks whose outcome depends on
 * how a production HTTP server reads what the gateway sends. It answers every request with
 * `<method> <request-uri>` and logs, per line, the connection serial and the request line, so a test
 * sees exactly which requests nginx parsed on which connection.
 */

export interface NginxOrigin {
  readonly url: string;
  /** `[connection serial, request line]` for every request nginx parsed, in order. */
  requests(): Promise<(readonly [string, string])[]>;
  stop(): Promise<void>;
}

export function nginxBinary(): string {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    if (spawnSync(candidate, ['-v']).status === 0) return candidate;
  }
  throw new Error('nginx is not installed: `apt-get install nginx-light` (.ci/run installs it)');
}

export interface NginxInstance {
  /** `http://127.0.0.1:<port>` of the first port handed to `httpBlock`. */
  readonly url: string;
  readonly port: number;
  /** The private prefix (temp dir): logs, pid, temp paths. */
  readonly dir: string;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A private nginx instance (no daemon, no master process, everything under a temp prefix) running
 * `http { <httpBlock(dir, port)> }`; `httpBlock` gets the prefix and a free port, and must serve
 * `GET /__ready` on that port with a 2xx/4xx once nginx is up (any HTTP answer counts).
 */
export async function startNginx(httpBlock: (dir: string, port: number) => string): Promise<NginxInstance> {
  const binary = nginxBinary();
  const dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-nginx-'));
  const port = await freePort();
  const config = `daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events {}
http {
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
${httpBlock(dir, port)}
}
`;
  await writeFile(join(dir, 'nginx.conf'), config);
  const child: ChildProcess = spawn(binary, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  // A test worker that dies (or a failed beforeAll) must not leave nginx running after it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const errorLog = () => readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
  const deadline = Date.now() + 10_000;
  for (;;) {
    // Ours, not whatever else grabbed the free port in between (nginx then exits with an error).
    const ok = await fetch(`http://127.0.0.1:${port}/__ready`).then(
      (r) => r.headers.get('server')?.startsWith('nginx') === true,
      () => false,
    );
    if (ok && child.exitCode === null) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start on port ${port}: ${await errorLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    errorLog,
    async stop() {
      process.off('exit', killOnExit);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startNginxOrigin(): Promise<NginxOrigin> {
  let log = '';
  const nginx = await startNginx((dir, port) => {
    log = join(dir, 'access.log');
    return `  log_format requests '$connection\\t$request';
  access_log ${log} requests;
  server {
    listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 "$request_method $request_uri\\n"; }
  }`;
  });
  return {
    url: nginx.url,
    async requests() {
      const text = await readFile(log, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((line) => line !== '' && !line.includes('/__ready'))
        .map((line) => {
          const tab = line.indexOf('\t');
          return [line.slice(0, tab), line.slice(tab + 1)] as const;
        });
    },
    stop: () => nginx.stop(),
  };
}

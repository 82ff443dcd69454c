import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Egress test fixtures: a throwaway CA and server certificate made with the `openssl` CLI, and the
 * Python/oauthlib OAuth1 API (python/oauth1_upstream.py) served over TLS with it. Debian's
 * /usr/bin/python3 is used (python3-oauthlib; RSA needs python3-cryptography and python3-jwt):
 * a missing module fails the run, it never skips.
 */

export const PYTHON = '/usr/bin/python3';
const UPSTREAM_SCRIPT = fileURLToPath(new URL('./python/oauth1_upstream.py', import.meta.url));

export interface TestPki {
  readonly dir: string;
  /** CA certificate (PEM file) that signed the server certificate. */
  readonly caFile: string;
  /** Server certificate for 127.0.0.1 and localhost, and its key. */
  readonly certFile: string;
  readonly keyFile: string;
  /** A second, unrelated CA: trusting it must not make the server's certificate acceptable. */
  readonly otherCaFile: string;
  dispose(): Promise<void>;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'egress-pki-'));
  for (const name of ['ca', 'other-ca']) {
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-subj',
      `/CN=oauth-gateway egress test ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  }
  openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  ]);
  await writeFile(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' +
      'keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
    otherCaFile: join(dir, 'other-ca.pem'),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

export function requirePythonModules(): void {
  const missing: string[] = [];
  for (const [module, pkg] of [
    ['oauthlib', 'python3-oauthlib'],
    ['cryptography', 'python3-cryptography'],
    ['jwt', 'python3-jwt'],
  ] as const) {
    const run = spawnSync(PYTHON, ['-c', `import ${module}`], { encoding: 'utf8' });
    if (run.error !== undefined || run.status !== 0) missing.push(`${module} (apt-get install ${pkg})`);
  }
  if (missing.length > 0) {
    throw new Error(`the egress tests need ${PYTHON} with: ${missing.join(', ')} (.ci/run installs them)`);
  }
}

export interface OAuth1ApiConfig {
  readonly clients: Readonly<Record<string, { secret?: string; rsa_public_key?: string }>>;
  readonly tokens: Readonly<Record<string, string>>;
}

export interface OAuth1Api {
  readonly port: number;
  /** `https://127.0.0.1:<port>` */
  readonly origin: string;
  /** Requests the server received so far (signed or not). */
  requestCount(caFile: string): Promise<number>;
  close(): Promise<void>;
}

/** What the Python API answers for every request. */
export interface Verdict {
  valid: boolean;
  replay: boolean;
  error: string | null;
  endpoint: 'resource' | 'signature_only';
  method: string;
  path: string;
  headers: [string, string][];
  body: string;
  body_hash: 'ok' | 'mismatch' | null;
  params: Record<string, string>;
}

export async function startOAuth1Api(pki: TestPki, config: OAuth1ApiConfig): Promise<OAuth1Api> {
  const configFile = join(pki.dir, `api-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(configFile, JSON.stringify({ cert: pki.certFile, key: pki.keyFile, ...config }));
  const child: ChildProcess = spawn(PYTHON, [UPSTREAM_SCRIPT, configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`python API did not start: ${stderr}`)), 15_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /PORT (\d+)/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`python API exited ${code}: ${stderr}`));
    });
  });
  const origin = `https://127.0.0.1:${port}`;
  return {
    port,
    origin,
    async requestCount(caFile) {
      const { Agent } = await import('undici');
      const { readFile } = await import('node:fs/promises');
      const agent = new Agent({ connect: { ca: await readFile(caFile, 'utf8') } });
      try {
        const res = await agent.request({ origin, path: '/__stats', method: 'GET' });
        const stats = (await res.body.json()) as { requests: number };
        return stats.requests;
      } finally {
        await agent.close();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../helpers/ports.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * Issue 21: a sidecar keeps resident only what its configuration uses. The built CLI runs with an
 * import tracer (test/helpers/trace-imports.mjs) and serves a request; then the modules its serving
 * process resolved are checked. The config is read and validated in a short-lived child process
 * (traced too, under its own pid), so YAML, zod and the schema never load in the serving process;
 * jose loads only with a JWT source.
 */

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');
const TRACER = resolve(import.meta.dirname, '../helpers/trace-imports.mjs');

let dir: string;
let upstream: TestUpstream;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-lean-'));
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

async function waitForListening(child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!output().includes('oauth-gateway listening')) {
    if (child.exitCode !== null) throw new Error(`gateway exited: ${output()}`);
    if (Date.now() > deadline) throw new Error(`gateway did not start: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start the CLI with `config`, send one request, stop it; the traced imports by process id. */
async function importsOf(
  name: string,
  config: Record<string, unknown>,
): Promise<{ serving: string[]; others: string[][] }> {
  const port = await freePort();
  const configPath = join(dir, `${name}.yaml`);
  const trace = join(dir, `${name}.imports`);
  await writeFile(join(dir, 'credentials.yaml'), stringify({ clients: [] }));
  await writeFile(
    configPath,
    stringify({ listen: { host: '127.0.0.1', port }, admin: { host: '127.0.0.1', port: 0 }, ...config }),
  );
  const child = spawn(process.execPath, ['--import', TRACER, MAIN, 'run', '-c', configPath], {
    cwd: dir,
    env: { ...process.env, TRACE_IMPORTS_FILE: trace, PORT: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  try {
    await waitForListening(child, () => output);
    const res = await fetch(`http://127.0.0.1:${port}/open/x`);
    expect(res.status).toBe(200);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
  const byProcess = new Map<string, string[]>();
  for (const line of (await readFile(trace, 'utf8')).split('\n')) {
    if (line === '') continue;
    const [pid, url] = line.split(' ') as [string, string];
    byProcess.set(pid, [...(byProcess.get(pid) ?? []), url]);
  }
  const serving = byProcess.get(String(child.pid)) ?? [];
  byProcess.delete(String(child.pid));
  return { serving, others: [...byProcess.values()] };
}

const loaded = (urls: string[], part: string) => urls.some((url) => url.includes(part));

describe('what the serving process loads', () => {
  it('a plain config: no YAML parser, no zod, no schema, no jose in the serving process (the config loader had them)', async () => {
    const { serving, others } = await importsOf('plain', {
      routes: [{ name: 'open', match: { pathPrefix: '/open' }, upstream: upstream.url, auth: 'none' }],
    });
    expect(loaded(serving, '/dist/gateway.js')).toBe(true);
    for (const part of [
      '/node_modules/yaml/',
      '/node_modules/zod/',
      '/dist/config/schema.js',
      '/node_modules/jose/',
    ])
      expect(loaded(serving, part), part).toBe(false);
    expect(others.some((urls) => loaded(urls, '/node_modules/zod/'))).toBe(true);
  });

  it('a JWT token source loads jose (the tracer sees lazy imports)', async () => {
    const { serving } = await importsOf('jwt', {
      oauth2: {
        tokenSources: ['jwt'],
        jwt: { issuer: 'https://as.example', jwksUri: 'https://as.example/jwks' },
      },
      routes: [
        { name: 'open', match: { pathPrefix: '/open' }, upstream: upstream.url, auth: 'none' },
        { name: 'api', match: { pathPrefix: '/api' }, upstream: upstream.url, auth: 'oauth2' },
      ],
    });
    expect(loaded(serving, '/node_modules/jose/')).toBe(true);
  });
});

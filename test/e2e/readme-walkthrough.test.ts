import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort } from '../helpers/ports.js';

// The README's one-minute walkthrough, run as written: `npm start`'s demo (examples/start-demo.mjs
// with the repository's gateway.yaml and credentials.yaml), then the shell block from the README,
// with only the ports swapped for free ones. If the README drifts from the product, this fails.

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(new URL('README.md', `file://${root}/`), 'utf8');

function walkthroughScript(): string {
  const section = readme.slice(readme.indexOf('## One-minute walkthrough'));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('README has no sh block in the walkthrough');
  return match[1]!;
}

let demo: ChildProcess | undefined;
let ports: { proxy: number; admin: number; echo: number };

beforeAll(async () => {
  ports = { proxy: await freePort(), admin: await freePort(), echo: await freePort() };
  demo = spawn(process.execPath, ['examples/start-demo.mjs'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(ports.proxy),
      ADMIN_PORT: String(ports.admin),
      ECHO_PORT: String(ports.echo),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${ports.admin}/readyz`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('demo did not become ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  if (demo && demo.exitCode === null) {
    const exited = new Promise((resolve) => demo!.once('exit', resolve));
    demo.kill('SIGTERM');
    await exited;
  }
});

test('every step of the README walkthrough does what the README says', async () => {
  const script = walkthroughScript()
    .replaceAll('localhost:8080', `127.0.0.1:${ports.proxy}`)
    .replaceAll('localhost:9090', `127.0.0.1:${ports.admin}`);
  const output = await new Promise<string>((resolve, reject) => {
    execFile('bash', ['-c', script], { cwd: root, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
  // 1: proxied, and the smuggled identity header is gone.
  expect(output).toContain('"url": "/public/hello"');
  expect(output).not.toContain('"x-oauth-user": "admin"');
  // 2: the OAuth challenge.
  expect(output).toMatch(/HTTP\/1\.1 401 Unauthorized[\s\S]*www-authenticate: OAuth realm="oauth-gateway"/i);
  // 3: signed by the CLI, accepted, identity injected.
  expect(output).toContain('"url": "/photos/1?size=original"');
  expect(output).toContain('"x-oauth-user": "alice"');
  expect(output).toContain('"x-oauth-method": "oauth1"');
  // 4: the replay refused.
  expect(output).toContain('"error":"invalid_nonce"');
  // 5: the bearer token accepted.
  expect(output).toContain('"x-oauth-method": "oauth2"');
  expect(output).toContain('"x-oauth-client-id": "demo-client"');
  // 6: admin port answers.
  expect(output).toContain('"status":"ready"');
  expect(output).toMatch(
    /oauth_gateway_requests_total\{route="photos",status="200",auth_method="oauth1"\} 2/,
  );
});

import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { type RunningGateway, startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

// File-change reload as editors and Kubernetes do it: the file is replaced by rename, which ends a
// watch on the old inode. The gateway watches the directory, so both replacements are picked up.

let gateway: RunningGateway | undefined;
let upstreams: TestUpstream[] = [];
let dir: string | undefined;

afterEach(async () => {
  await gateway?.stop();
  await Promise.all(upstreams.map((u) => u.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
  gateway = undefined;
  upstreams = [];
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

test('replacing gateway.yaml by rename reloads it, twice in a row', async () => {
  upstreams = [await startUpstream(), await startUpstream(), await startUpstream()];
  const [a, b, c] = upstreams as [TestUpstream, TestUpstream, TestUpstream];
  dir = await mkdtemp(join(tmpdir(), 'gw-watch-'));
  const configPath = join(dir, 'gateway.yaml');
  const write = async (upstream: string) => {
    const temp = join(dir!, `.gateway.yaml.${Date.now()}`);
    await writeFile(
      temp,
      stringify({
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream, auth: 'none' }],
      }),
    );
    await rename(temp, configPath);
  };
  await write(a.url);
  await writeFile(join(dir, 'credentials.yaml'), '{}\n');
  gateway = await startGateway({
    configPath,
    logger: createLogger('silent'),
    port: 0,
    adminPort: 0,
    watch: true,
  });
  const url = `http://127.0.0.1:${gateway.address.port}/x`;

  await fetch(url).then((res) => res.arrayBuffer());
  expect(a.requests).toHaveLength(1);

  await write(b.url);
  await waitFor(async () => {
    await fetch(url).then((res) => res.arrayBuffer());
    return b.requests.length > 0;
  });

  await write(c.url);
  await waitFor(async () => {
    await fetch(url).then((res) => res.arrayBuffer());
    return c.requests.length > 0;
  });
});

test('a replaced identity assertion key in its own directory (a mounted Secret) reloads by itself', async () => {
  const pem = () =>
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const upstream = await startUpstream();
  upstreams = [upstream];
  dir = await mkdtemp(join(tmpdir(), 'gw-watch-'));
  const keyDir = join(dir, 'secret');
  await mkdir(keyDir);
  const keyPath = join(keyDir, 'assertion.pem');
  await writeFile(keyPath, pem());
  const configPath = join(dir, 'config', 'gateway.yaml');
  await mkdir(join(dir, 'config'));
  await writeFile(
    configPath,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      identity: { assertion: { keys: [{ path: keyPath }] } },
      routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: upstream.url, auth: 'none' }],
    }),
  );
  await writeFile(join(dir, 'config', 'credentials.yaml'), '{}\n');
  gateway = await startGateway({
    configPath,
    logger: createLogger('silent'),
    port: 0,
    adminPort: 0,
    watch: true,
  });
  const jwksUrl = `http://127.0.0.1:${gateway.adminAddress.port}/.well-known/jwks.json`;
  const kid = async () => ((await (await fetch(jwksUrl)).json()) as { keys: { kid: string }[] }).keys[0]!.kid;
  const first = await kid();
  // Replaced by rename, as editors and the kubelet's ..data swap do.
  const temp = join(keyDir, '.assertion.pem.new');
  await writeFile(temp, pem());
  await rename(temp, keyPath);
  await waitFor(async () => (await kid()) !== first);
});

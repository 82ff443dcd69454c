import { rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { builtGatewayAvailable, spawnGateway } from './helpers/spawned-gateway.js';
import { sleep } from './helpers/tally.js';

/**
 * Lifecycle under load: the real CLI process (`node dist/main.js run`) serving a steady stream of
 * requests while its configuration is reloaded (SIGHUP, file change, an invalid file) and while it
 * is told to stop (SIGTERM). Not one request may fail because of it.
 */

interface LoadResult {
  ok: number;
  failed: string[];
  /** Requests started after SIGTERM that could not connect (the listener is closed): expected. */
  refusedAfterStop: number;
  /** Requests started after SIGTERM that got any response. */
  answeredAfterStop: number;
  /** Requests started before SIGTERM that completed with 200 after it: the drained in-flight ones. */
  drainedInFlight: number;
}

function runLoad(
  origin: string,
  options: { concurrency: number; path: string; stoppedAt?: () => number | undefined },
): { stop: () => Promise<LoadResult> } {
  const agent = new Agent({ keepAliveTimeout: 4_000, connections: options.concurrency });
  const result: LoadResult = {
    ok: 0,
    failed: [],
    refusedAfterStop: 0,
    answeredAfterStop: 0,
    drainedInFlight: 0,
  };
  let running = true;
  const worker = async () => {
    while (running) {
      const started = Date.now();
      try {
        const res = await agent.request({
          origin,
          path: options.path,
          method: 'GET',
          signal: AbortSignal.timeout(10_000),
        });
        await res.body.dump();
        const stoppedAt = options.stoppedAt?.();
        if (stoppedAt !== undefined && started >= stoppedAt) result.answeredAfterStop++;
        else if (res.statusCode === 200) {
          result.ok++;
          if (stoppedAt !== undefined) result.drainedInFlight++;
        } else result.failed.push(`status ${res.statusCode}`);
      } catch (error) {
        const stoppedAt = options.stoppedAt?.();
        const code = (error as { code?: string }).code ?? String(error);
        if (stoppedAt !== undefined && started >= stoppedAt) {
          result.refusedAfterStop++;
          await sleep(5);
        } else result.failed.push(code);
        if (stoppedAt !== undefined) await sleep(5);
      }
    }
  };
  const workers = Array.from({ length: options.concurrency }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      await agent.close();
      return result;
    },
  };
}

describe.skipIf(!builtGatewayAvailable())('lifecycle under load', () => {
  let upstream: TestUpstream;

  beforeAll(async () => {
    upstream = await startUpstream(
      (req, res) => {
        req.resume();
        const delay = (req.url ?? '').startsWith('/slow') ? 150 : 2;
        setTimeout(() => res.end('ok'), delay);
      },
      { keepBodies: false },
    );
  });
  afterAll(async () => {
    await upstream?.close();
  });

  const config = (extraRoutes: Record<string, unknown>[] = []) => ({
    routes: [
      ...extraRoutes,
      { name: 'bearer', match: { pathPrefix: '/bearer' }, upstream: upstream.url, auth: 'oauth2' },
      { name: 'load', match: { pathPrefix: '/' }, upstream: upstream.url, auth: 'none' },
    ],
  });
  const bearerFile = (tokens: string[]) => ({
    bearerTokens: tokens.map((accessToken) => ({ accessToken, clientId: 'c', issuedAt: 1, expiresIn: 0 })),
  });

  it('SIGHUP, a file change and an invalid file while under load: 0 failed requests', async () => {
    const gw = await spawnGateway({ config: config() });
    const probe = new Agent({ keepAliveTimeout: 1_000 });
    const status = async (path: string, token?: string) => {
      const res = await probe.request({
        origin: gw.url,
        path,
        method: 'GET',
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      await res.body.dump();
      return res.statusCode;
    };
    try {
      // credentials.yaml is a symlink (as a Kubernetes ConfigMap mount is): re-pointing it changes
      // nothing the file watcher sees, so only SIGHUP can pick up the new target.
      const credsA = join(gw.dir, 'creds-a.yaml');
      const credsB = join(gw.dir, 'creds-b.yaml');
      await writeFile(credsA, stringify(bearerFile(['tokenBeforeReload'])));
      await writeFile(credsB, stringify(bearerFile(['tokenBeforeReload', 'tokenAfterSighup'])));
      await symlink(credsA, `${gw.credentialsPath}.new`);
      await rename(`${gw.credentialsPath}.new`, gw.credentialsPath);
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/"msg":"configuration reloaded"/, 1);
      expect(await status('/bearer/x', 'tokenBeforeReload')).toBe(200);
      expect(await status('/bearer/x', 'tokenAfterSighup')).toBe(401);

      const load = runLoad(gw.url, { concurrency: 16, path: '/load' });
      await sleep(500);

      // 1. SIGHUP: swap the symlink, signal.
      await symlink(credsB, `${gw.credentialsPath}.new`);
      await rename(`${gw.credentialsPath}.new`, gw.credentialsPath);
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/"msg":"configuration reloaded"/, 2);
      expect(await status('/bearer/x', 'tokenAfterSighup')).toBe(200);
      await sleep(500);

      // 2. File change only (the watcher): a new route appears.
      expect(await status('/v2/x')).toBe(200); // served by the catch-all for now
      await gw.writeConfig(
        config([{ name: 'v2', match: { pathPrefix: '/v2' }, upstream: upstream.url, auth: 'oauth2' }]),
      );
      await gw.waitForLog(/"msg":"configuration reloaded"/, 3);
      expect(await status('/v2/x')).toBe(401);
      await sleep(500);

      // 3. An invalid file: rejected, the previous configuration keeps serving.
      await gw.writeRaw('routes: [ { name: broken\n');
      await gw.waitForLog(/"msg":"configuration reload rejected/, 1);
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/"msg":"configuration reload rejected/, 2);
      expect(await status('/v2/x')).toBe(401);
      expect(await status('/bearer/x', 'tokenAfterSighup')).toBe(200);
      await sleep(500);

      const result = await load.stop();
      const reloads = (gw.output().match(/"msg":"configuration reloaded"/g) ?? []).length;
      const rejected = (gw.output().match(/"msg":"configuration reload rejected/g) ?? []).length;
      console.log(
        '[lifecycle:reload] variants=%d ok=%d failed=%d reloads=%d rejectedReloads=%d',
        result.ok + result.failed.length,
        result.ok,
        result.failed.length,
        reloads,
        rejected,
      );
      expect(result.failed).toEqual([]);
      expect(result.ok).toBeGreaterThan(200);
      expect(gw.child.exitCode).toBeNull();
    } finally {
      await probe.close();
      await gw.dispose();
    }
  });

  it('SIGTERM under load: in-flight requests complete, the process exits 0', async () => {
    const gw = await spawnGateway({ config: config() });
    let stoppedAt: number | undefined;
    try {
      const load = runLoad(gw.url, { concurrency: 24, path: '/slow', stoppedAt: () => stoppedAt });
      await sleep(1_000);
      stoppedAt = Date.now();
      gw.child.kill('SIGTERM');
      const code = await gw.exited;
      await sleep(200);
      const result = await load.stop();
      console.log(
        '[lifecycle:sigterm] variants=%d ok=%d drainedInFlight=%d failed=%d refusedAfterStop=%d answeredAfterStop=%d exit=%s',
        result.ok + result.failed.length,
        result.ok,
        result.drainedInFlight,
        result.failed.length,
        result.refusedAfterStop,
        result.answeredAfterStop,
        code,
      );
      // Requests really were in flight when the signal came, and every one of them finished.
      expect(result.drainedInFlight).toBeGreaterThan(0);
      expect(code).toBe(0);
      expect(result.failed).toEqual([]);
      expect(result.ok).toBeGreaterThan(50);
      expect(gw.output()).toMatch(/"msg":"stopped".*"drained":true|"drained":true.*"msg":"stopped"/);
    } finally {
      await gw.dispose();
    }
  });
});

#!/usr/bin/env node
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { summariseProfile } from './lib/cpuprofile.mjs';
import { CREDENTIALS, writeCredentialsFile } from './lib/credentials.mjs';
import { createAutocannon, createWrk, wrkAvailable } from './lib/loadgen.mjs';
import { freePort, PINNING, pinned, startProcess, stopAll, waitForPort } from './lib/processes.mjs';
import { writeSection } from './lib/report.mjs';
import { TARGETS } from './lib/targets.mjs';

/**
 * CPU profile of the gateway under pass-through load: `node bench/profile.mjs [--seconds 10]
 * [--auth none|oauth1|oauth2 --credential <id from lib/credentials.mjs>] [--log-level info]` (after `npm run build`). Runs the gateway with --cpu-prof,
 * drives it with the bench load generator, stops it with SIGTERM (the profile is written at exit),
 * prints self time by origin and by function, and writes them into BENCHMARKS.md.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    auth: { type: 'string', default: 'none' },
    credential: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    'no-markdown': { type: 'boolean', default: false },
  },
});

async function main() {
  const workDir = mkdtempSync(join(tmpdir(), 'oauth-gateway-profile-'));
  const profileDir = join(root, 'bench/results/profile');
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
  const upstreamPort = await freePort();
  const [cmd, args] = pinned(PINNING.aux, process.execPath, [
    join(root, 'bench/servers/upstream.mjs'),
    '--port',
    String(upstreamPort),
  ]);
  const upstream = startProcess('upstream', cmd, args);
  await waitForPort(upstream, upstreamPort);
  const ctx = {
    workDir,
    upstream,
    upstreamPort,
    credentialsPath: writeCredentialsFile(workDir),
    auxPids: [],
  };
  const scenario = {
    id: 'profile',
    auth: values.auth,
    env: { LOG_LEVEL: values['log-level'] },
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
  };
  const gateway = await TARGETS.gateway.start(ctx, scenario);
  const loadgen = wrkAvailable()
    ? createWrk({ connections: 50, workDir })
    : createAutocannon({ connections: 50 });
  const credential = values.credential === undefined ? undefined : CREDENTIALS[values.credential];
  const load = { url: gateway.url, durationSec: Number(values.seconds) };
  if (credential) {
    if ((await credential.available()) !== true)
      throw new Error(`credential ${values.credential} unavailable`);
    const target = { url: gateway.url };
    load.headers = credential.staticHeaders?.(target);
    if (credential.presign) {
      load.authorizationFile = join(workDir, 'presigned.txt');
      credential.presign(target, 30_000 * Number(values.seconds), load.authorizationFile);
    }
  }
  const result = await loadgen.run(load);
  if (result.non2xx + result.errors > 0)
    process.stderr.write(`warning: ${result.non2xx + result.errors} failed requests\n`);
  await gateway.stop();
  await upstream.stop();
  rmSync(workDir, { recursive: true, force: true });

  const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('no .cpuprofile written');
  const summary = summariseProfile(join(profileDir, file));
  const pct = (share) => (share === undefined ? '' : `${(share * 100).toFixed(1)}%`);
  const lines = [
    `Profile ${new Date().toISOString()} — \`node bench/profile.mjs --seconds ${values.seconds} --auth ${values.auth}${values.credential ? ` --credential ${values.credential}` : ''} --log-level ${values['log-level']}\``,
    `(${loadgen.version}, ${Math.round(result.rps)} req/s under the profiler; ${summary.busyMs.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms sampled).`,
    '',
    '| Where (self time) | ms | share of busy time |',
    '|---|--:|--:|',
    ...summary.buckets.map((b) => `| ${b.name} | ${b.ms.toFixed(0)} | ${pct(b.shareOfBusy)} |`),
    '',
    '| Top functions by self time | ms | share of busy time |',
    '|---|--:|--:|',
    ...summary.functions.map((f) => `| \`${f.name}\` | ${f.ms.toFixed(0)} | ${pct(f.shareOfBusy)} |`),
  ];
  const text = lines.join('\n');
  process.stdout.write(`${text}\n\nprofile: ${join(profileDir, file)}\n`);
  const section = `bench:profile:${values.auth === 'none' ? '' : `${values.auth}:`}${values['log-level']}`;
  if (!values['no-markdown']) writeSection(join(root, 'BENCHMARKS.md'), section, text);
}

main().catch(async (error) => {
  await stopAll();
  process.stderr.write(`profile failed: ${error.stack ?? error}\n`);
  process.exit(1);
});

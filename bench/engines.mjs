#!/usr/bin/env node
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createAutocannon, createWrk, wrkAvailable } from './lib/loadgen.mjs';
import { machineInfo } from './lib/machine.mjs';
import { freePort, PINNING, pinned, startProcess, stopAll, waitForPort } from './lib/processes.mjs';
import { treeCpuUs, treeRssMb } from './lib/procstat.mjs';
import { writeSection } from './lib/report.mjs';

/**
 * Forwarding engines behind an identical node:http front server (bench/servers/engine-front.mjs),
 * same upstream, same load generator and pinning as `npm run bench`:
 *
 *   node bench/engines.mjs [--duration 10] [--warmup 3] [--rounds 2] [--no-markdown]
 *
 * Rounds alternate the engine order; each engine keeps its best round (the machine is shared, so
 * the best round is the one least disturbed). Writes bench/results/engines-latest.json and the
 * "bench:engines" section of BENCHMARKS.md.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    'no-markdown': { type: 'boolean', default: false },
  },
});
const ENGINES = ['undici-request', 'undici-stream', 'node-agent', 'http-proxy-3'];
const durationSec = Number(values.duration);
const warmupSec = Number(values.warmup);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const command = `node bench/engines.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;

async function measureEngine(engine, ctx, loadgen) {
  const port = await freePort();
  const [cmd, args] = pinned(PINNING.sut, process.execPath, [
    join(root, 'bench/servers/engine-front.mjs'),
    '--engine',
    engine,
    '--port',
    String(port),
    '--target',
    `http://127.0.0.1:${ctx.upstreamPort}`,
  ]);
  const front = startProcess(engine, cmd, args, { cwd: root });
  try {
    await waitForPort(front, port);
    const url = `http://127.0.0.1:${port}/bench/items?id=42`;
    await loadgen.run({ url, durationSec: warmupSec });
    const before = treeCpuUs([front.pid]);
    const r = await loadgen.run({ url, durationSec });
    const cpu = treeCpuUs([front.pid]) - before;
    return {
      engine,
      rps: r.rps,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      non2xx: r.non2xx + r.errors,
      cpuUsPerReq: cpu / r.requests,
      cpuUtil: cpu / r.durationUs,
      rssMb: treeRssMb([front.pid]),
    };
  } finally {
    await front.stop();
  }
}

async function main() {
  const workDir = mkdtempSync(join(tmpdir(), 'oauth-gateway-engines-'));
  const loadgen = wrkAvailable() ? createWrk({ connections, workDir }) : createAutocannon({ connections });
  const upstreamPort = await freePort();
  const [cmd, args] = pinned(PINNING.aux, process.execPath, [
    join(root, 'bench/servers/upstream.mjs'),
    '--port',
    String(upstreamPort),
  ]);
  const upstream = startProcess('upstream', cmd, args);
  await waitForPort(upstream, upstreamPort);
  const best = new Map();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ENGINES : [...ENGINES].reverse();
    for (const engine of order) {
      const r = await measureEngine(engine, { upstreamPort }, loadgen);
      process.stderr.write(
        `round ${round + 1} ${engine}: ${Math.round(r.rps)} req/s, ${r.cpuUsPerReq.toFixed(1)} µs CPU/req\n`,
      );
      if (!best.has(engine) || best.get(engine).rps < r.rps) best.set(engine, r);
    }
  }
  await upstream.stop();
  rmSync(workDir, { recursive: true, force: true });

  const rows = ENGINES.map((engine) => best.get(engine));
  const base = best.get('http-proxy-3');
  const date = new Date().toISOString();
  const report = {
    date,
    command,
    machine: machineInfo(),
    loadgen: loadgen.version,
    connections,
    durationSec,
    warmupSec,
    rounds,
    pinning: PINNING,
    engines: rows,
  };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/engines-latest.json'), `${JSON.stringify(report, null, 2)}\n`);

  const table = [
    `Run ${date} — \`${command}\` (${loadgen.version}, ${connections} connections, ${durationSec} s after ${warmupSec} s warm-up, best of ${rounds} rounds; front server alone on cpu ${PINNING.sut ?? '-'}).`,
    '',
    '| Engine | req/s | vs http-proxy-3 | p50 ms | p99 ms | CPU µs/req | CPU use | RSS MB | non-2xx/errors |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (r) =>
        `| ${r.engine} | ${Math.round(r.rps)} | ${(r.rps / base.rps).toFixed(2)}× | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.cpuUsPerReq.toFixed(1)} | ${Math.round(r.cpuUtil * 100)}% | ${r.rssMb.toFixed(1)} | ${r.non2xx} |`,
    ),
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (!values['no-markdown']) writeSection(join(root, 'BENCHMARKS.md'), 'bench:engines', table);
}

main().catch(async (error) => {
  await stopAll();
  process.stderr.write(`engines failed: ${error.stack ?? error}\n`);
  process.exit(1);
});

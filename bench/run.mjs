#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAuthServer } from './lib/auth-server.mjs';
import { CREDENTIALS, writeCredentialsFile } from './lib/credentials.mjs';
import { measureFixedLoad } from './lib/fixed-load.mjs';
import { evaluateGoals, goalsTable } from './lib/goals.mjs';
import { createAutocannon, createWrk, ensureWrk, wrkAvailable } from './lib/loadgen.mjs';
import { loadAverage, machineInfo } from './lib/machine.mjs';
import { measureCachedTokenMemory, soak } from './lib/memory.mjs';
import { freePort, PINNING, pinned, startProcess, stopAll, waitForPort } from './lib/processes.mjs';
import { treeCpuUs, treeRssMb } from './lib/procstat.mjs';
import {
  fixedLoadTable,
  loadgenTable,
  memoryTable,
  ratioTable,
  scenarioTable,
  soakSection,
  writeSection,
} from './lib/report.mjs';
import { authlibVersions, REQUEST_PATH, TARGETS } from './lib/targets.mjs';
import { TARGETS as RATIO_TARGETS, RATIOS, SCENARIOS } from './scenarios.mjs';

/**
 * `npm run bench [-- options]`: every scenario of scenarios.mjs in one run, same load generator,
 * same duration, each after a warm-up; JSON to bench/results/, a table into BENCHMARKS.md, and a
 * one-line summary of the ratios.
 *
 *   --quick               3 s per scenario, 1 s warm-up, no load-generator comparison, no installs
 *   --duration S          measured seconds per scenario (default 10; quick 3)
 *   --warmup S            warm-up seconds (default 3; quick 1)
 *   --rounds N            run the whole list N times, alternating the order, and keep each
 *                         scenario's best round (default 2; quick 1): on a shared machine the
 *                         best round is the least disturbed one
 *   --only a,b            scenario ids to run, plus the extra measurements by name:
 *                         fixed-load (p99 added at 50% load), memory (RSS with N cached tokens),
 *                         soak; without --only everything but the soak runs
 *   --tokens N            distinct cached tokens for the memory measurement (default 100000;
 *                         quick 2000)
 *   --soak                also run the soak: closed-loop load on the cached-introspection path
 *                         for --soak-minutes (default 10), RSS sampled every 10 s
 *   --connections N       concurrent connections (default 50)
 *   --loadgen wrk|autocannon
 *   --no-install          never apt-get install wrk/nginx
 *   --results-dir DIR     where JSON goes (default bench/results)
 *   --no-markdown         do not touch BENCHMARKS.md (an --only run updates only the
 *                         forward-auth section, never the full-run tables)
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    only: { type: 'string' },
    connections: { type: 'string', default: '50' },
    loadgen: { type: 'string' },
    'no-install': { type: 'boolean', default: false },
    'results-dir': { type: 'string' },
    'no-markdown': { type: 'boolean', default: false },
    tokens: { type: 'string' },
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '10' },
  },
});

const quick = values.quick;
const durationSec = Number(values.duration ?? (quick ? 3 : 10));
const warmupSec = Number(values.warmup ?? (quick ? 1 : 3));
const connections = Number(values.connections);
const rounds = Math.max(1, Number(values.rounds ?? (quick ? 1 : 2)));
const install = !quick && !values['no-install'];
const resultsDir = values['results-dir'] ?? join(root, 'bench/results');
const only = values.only?.split(',').map((s) => s.trim());
/** Extra measurements (not rows of the scenario table) are selected by name like scenarios. */
const wants = (name) =>
  name === 'soak' ? values.soak || only?.includes('soak') : only === undefined || only.includes(name);
const memoryTokens = Number(values.tokens ?? (quick ? 2000 : 100_000));
const soakMinutes = Number(values['soak-minutes']);
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;

const log = (message) => process.stderr.write(`${message}\n`);

function probe(url, headers) {
  return new Promise((resolve) => {
    const req = request(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, body: body.slice(0, 200) }));
    });
    req.on('error', (error) => resolve({ status: 0, body: error.message }));
    req.end();
  });
}

async function startRedis(workDir) {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, pids: [] };
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const port = await freePort();
  // Redis is "another machine": it shares the load-generator core, not the gateway's.
  const [cmd, args] = pinned(PINNING.aux, 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    workDir,
  ]);
  const handle = startProcess('redis', cmd, args);
  await waitForPort(handle, port);
  return { url: `redis://127.0.0.1:${port}`, pids: [handle.pid], handle };
}

function chooseLoadgen(workDir) {
  const wanted = values.loadgen;
  if (wanted === 'autocannon') return createAutocannon({ connections });
  if (wanted === 'wrk' || wanted === undefined) {
    if (ensureWrk(install)) return createWrk({ connections, workDir });
    if (wanted === 'wrk') throw new Error('wrk is not available (apt-get install wrk)');
  }
  return createAutocannon({ connections });
}

/** Same direct-upstream load with each generator: how much CPU each one burns per request. */
async function compareLoadgens(ctx) {
  const generators = [createAutocannon({ connections })];
  if (wrkAvailable()) generators.unshift(createWrk({ connections, workDir: ctx.workDir }));
  const target = await TARGETS.direct.start(ctx);
  const rows = [];
  try {
    for (const generator of generators) {
      await generator.run({ url: target.url, durationSec: 1 });
      const before = treeCpuUs(target.sutPids);
      const r = await generator.run({ url: target.url, durationSec: 5 });
      const sutCpu = treeCpuUs(target.sutPids) - before;
      rows.push({
        name: generator.version,
        rps: r.rps,
        cpuUsPerReq: r.cpuUs / r.requests,
        cpuUtil: r.cpuUs / r.durationUs,
        sutCpuUtil: sutCpu / r.durationUs,
      });
      log(`  ${generator.name}: ${Math.round(r.rps)} req/s, ${(r.cpuUs / r.requests).toFixed(1)} µs CPU/req`);
    }
  } finally {
    await target.stop();
  }
  return rows;
}

async function runScenario(ctx, scenario, loadgen, estimates) {
  const base = { id: scenario.id, label: scenario.label };
  const target = TARGETS[scenario.kind];
  const available = await target.available(ctx);
  if (available !== true) return { ...base, status: 'skipped', note: available };
  if (scenario.needs?.includes('redis') && ctx.redisUrl === undefined) {
    return { ...base, status: 'skipped', note: 'redis-server not available and REDIS_URL unset' };
  }
  const credential = scenario.credential ? CREDENTIALS[scenario.credential] : undefined;
  if (credential) {
    const ok = await credential.available(ctx);
    if (ok !== true) return { ...base, status: 'skipped', note: ok };
  }

  const running = await target.start(ctx, scenario);
  try {
    const host = new URL(running.url).host;
    const signTarget = { url: running.url, host, path: REQUEST_PATH };
    const answer = await probe(running.url, credential?.probeHeaders(signTarget) ?? {});
    if (answer.status !== 200) {
      const hint =
        scenario.auth && scenario.auth !== 'none' ? ' (verifier not wired in src/runtime.ts yet?)' : '';
      return {
        ...base,
        status: 'skipped',
        note: `probe answered ${answer.status} ${answer.body}${hint}`.trim(),
      };
    }

    const loadOptions = async (seconds, tag) => {
      const options = {
        url: running.url,
        durationSec: seconds,
        headers: credential?.staticHeaders?.(signTarget),
      };
      if (credential?.presign) {
        // Every request carries a fresh nonce: size the pre-signed set from this scenario's last
        // measured rate and, for the gateway, at least the pass-through rate.
        // (A warm-up rate is an underestimate: the process was still compiling its hot path.)
        const own = (estimates.get(scenario.id) ?? 0) * 1.5;
        const passThrough = scenario.kind === 'gateway' ? (estimates.get('gateway-none') ?? 0) : 0;
        const rate = Math.max(own, passThrough) || 30_000;
        const count = Math.min(3_000_000, Math.ceil(rate * Math.max(1, Math.round(seconds)) * 1.5) + 2000);
        const file = join(ctx.workDir, `${scenario.id}-${tag}.txt`);
        credential.presign(signTarget, count, file);
        options.authorizationFile = file;
        options.presigned = count;
      }
      return options;
    };

    const asBefore = scenario.needs?.includes('as') ? await ctx.authServer.stats() : undefined;
    let warmupRps;
    if (warmupSec > 0) warmupRps = (await loadgen.run(await loadOptions(warmupSec, 'warmup'))).rps;
    // Size the measured pre-signed set from this scenario's own warm-up when it is known.
    if (warmupRps !== undefined && credential?.presign)
      estimates.set(scenario.id, Math.max(warmupRps, estimates.get(scenario.id) ?? 0));
    const measure = await loadOptions(durationSec, 'measure');
    const asMiddle = asBefore === undefined ? undefined : await ctx.authServer.stats();
    const sutBefore = treeCpuUs(running.sutPids);
    const gatewayBefore = running.gatewayPids ? treeCpuUs(running.gatewayPids) : 0;
    const upstreamBefore = treeCpuUs([ctx.upstream.pid]);
    const auxBefore = treeCpuUs(ctx.auxPids);
    const r = await loadgen.run(measure);
    const sutCpu = treeCpuUs(running.sutPids) - sutBefore;
    const gatewayCpu = running.gatewayPids ? treeCpuUs(running.gatewayPids) - gatewayBefore : undefined;
    const upstreamCpu = treeCpuUs([ctx.upstream.pid]) - upstreamBefore;
    const auxCpu = treeCpuUs(ctx.auxPids) - auxBefore;
    const rssMb = treeRssMb(running.sutPids);
    estimates.set(scenario.id, r.rps);
    const asAfter = asBefore === undefined ? undefined : await ctx.authServer.stats();

    const bad = r.non2xx + r.errors;
    const notes = [];
    if (measure.presigned && r.requests > measure.presigned)
      notes.push('pre-signed set exhausted: nonces repeated');
    const result = {
      ...base,
      status: bad > r.requests * 0.01 ? 'invalid' : 'ok',
      rps: r.rps,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      requests: r.requests,
      non2xx: r.non2xx,
      errors: r.errors,
      sutCpuUsPerReq: sutCpu / r.requests,
      sutCpuUtil: sutCpu / r.durationUs,
      // The gateway process alone (for nginx + authorize rows, the SUT is nginx and the gateway).
      gatewayCpuUsPerReq: gatewayCpu === undefined ? undefined : gatewayCpu / r.requests,
      rssMb,
      upstreamCpuUsPerReq: running.upstreamIsSut ? undefined : upstreamCpu / r.requests,
      upstreamIsSut: running.upstreamIsSut === true || scenario.id === 'direct',
      redisCpuUsPerReq:
        ctx.auxPids.length > 0 && scenario.needs?.includes('redis') ? auxCpu / r.requests : undefined,
      loadgenCpuUsPerReq: r.cpuUs / r.requests,
    };
    // Below ~85% the SUT was not the bottleneck: other load on its core, or the load generator side.
    if (result.sutCpuUtil < 0.85) notes.push(`SUT got ${Math.round(result.sutCpuUtil * 100)}% of its core`);
    if (result.status === 'invalid') notes.push(`${bad} of ${r.requests} requests failed`);
    if (scenario.kind === 'nginx-authorize' && result.gatewayCpuUsPerReq !== undefined)
      notes.push(`gateway process ${result.gatewayCpuUsPerReq.toFixed(1)} µs/req of the SUT's`);
    if (result.redisCpuUsPerReq !== undefined)
      notes.push(`Redis ${result.redisCpuUsPerReq.toFixed(1)} µs/req`);
    if (asAfter !== undefined) {
      // Steady state: the gateway's cache answers; the AS should only have seen the probe/warm-up.
      result.asCalls = {
        introspectionsBeforeMeasure: asMiddle.introspections - asBefore.introspections,
        introspectionsMeasured: asAfter.introspections - asMiddle.introspections,
        jwksFetches: asAfter.jwks,
      };
      if (scenario.tokenSources?.includes('introspection'))
        notes.push(
          `AS introspection calls: ${result.asCalls.introspectionsMeasured} while measured (${result.asCalls.introspectionsBeforeMeasure} during warm-up; probe before)`,
        );
      if (scenario.tokenSources?.includes('jwt'))
        notes.push(`JWKS fetched ${result.asCalls.jwksFetches}× so far; verified once, then cached`);
    }
    result.note = notes.join('; ');
    return result;
  } finally {
    await running.stop();
  }
}

function computeRatios(results) {
  const byId = new Map(results.filter((r) => r.status === 'ok').map((r) => [r.id, r]));
  const pairs = [...RATIOS];
  for (const scenario of SCENARIOS) {
    if (scenario.kind === 'gateway' && scenario.auth && scenario.auth !== 'none') {
      pairs.push([`${scenario.id}/gateway`, scenario.id, 'gateway-none']);
    }
  }
  const out = [];
  for (const [label, a, b] of pairs) {
    const x = byId.get(a);
    const y = byId.get(b);
    if (x === undefined || y === undefined) continue;
    out.push({
      label,
      rps: x.rps / y.rps,
      cpu: x.sutCpuUsPerReq / y.sutCpuUsPerReq,
      target: RATIO_TARGETS[label],
    });
  }
  return out;
}

/**
 * Authorization-only mode against proxy mode, same credentials: the whole system under test
 * (nginx + gateway, or the gateway alone) and the gateway process by itself.
 */
function forwardAuthTable(results) {
  const byId = new Map(results.map((r) => [r.id, r]));
  const pairs = [
    ['OAuth2 bearer (store)', 'gateway-oauth2-store', 'nginx-authorize-oauth2'],
    ['OAuth1 HMAC-SHA1 (pre-signed, memory nonces)', 'gateway-oauth1-memory', 'nginx-authorize-oauth1'],
  ];
  const rows = [];
  for (const [credential, ...ids] of pairs) {
    for (const id of ids) {
      const r = byId.get(id);
      if (r === undefined) continue;
      const mode = id.startsWith('nginx') ? 'nginx auth_request → gateway authorize' : 'gateway proxy mode';
      rows.push(
        r.status === 'ok'
          ? `| ${credential} | ${mode} | ${Math.round(r.rps)} | ${r.p99Ms.toFixed(2)} | ${r.sutCpuUsPerReq.toFixed(1)} | ${r.gatewayCpuUsPerReq?.toFixed(1) ?? '–'} | ${Math.round(r.sutCpuUtil * 100)}% | ${r.non2xx} / ${r.errors} |`
          : `| ${credential} | ${mode} | – | – | – | – | – | ${r.status}: ${r.note} |`,
      );
    }
  }
  if (!rows.some((row) => row.includes('nginx auth_request'))) return undefined;
  return [
    '| Credential | Mode | req/s | p99 ms | SUT CPU µs/req | gateway process CPU µs/req | SUT CPU use | non-2xx / errors |',
    '|---|---|--:|--:|--:|--:|--:|--:|',
    ...rows,
  ].join('\n');
}

async function main() {
  if (!existsSync(join(root, 'dist/main.js')))
    throw new Error('dist/main.js missing: run `npm run build` first');
  const workDir = mkdtempSync(join(tmpdir(), 'oauth-gateway-bench-'));
  const machine = machineInfo();
  const loadgen = chooseLoadgen(workDir);
  const selected = SCENARIOS.filter((s) => only === undefined || only.includes(s.id));
  log(
    `oauth-gateway bench: ${selected.length} scenarios, ${durationSec} s each after ${warmupSec} s warm-up, ${loadgen.version}, ${connections} connections`,
  );
  log(
    PINNING.enabled
      ? `pinning: load generator + upstream on cpu ${PINNING.loadgen}, system under test on cpu ${PINNING.sut}`
      : 'pinning: off (needs Linux, taskset and 2+ cores)',
  );

  const upstreamPort = await freePort();
  const [cmd, args] = pinned(PINNING.aux, process.execPath, [
    join(root, 'bench/servers/upstream.mjs'),
    '--port',
    String(upstreamPort),
  ]);
  const upstream = startProcess('upstream', cmd, args);
  await waitForPort(upstream, upstreamPort);

  const redis = selected.some((s) => s.needs?.includes('redis')) ? await startRedis(workDir) : undefined;
  const authServer =
    selected.some((s) => s.needs?.includes('as')) || wants('memory') || wants('soak')
      ? await startAuthServer(workDir)
      : undefined;
  const ctx = {
    workDir,
    install,
    upstream,
    upstreamPort,
    redisUrl: redis?.url,
    auxPids: redis?.pids ?? [],
    authServer,
    credentialsPath: writeCredentialsFile(workDir),
  };

  let loadgenComparison;
  if (!quick && only === undefined) {
    log('load generators on the direct upstream:');
    loadgenComparison = await compareLoadgens(ctx);
  }

  const best = new Map();
  const history = new Map();
  const estimates = new Map();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? selected : [...selected].reverse();
    for (const scenario of order) {
      if (best.get(scenario.id)?.status === 'skipped') continue;
      log(`- ${scenario.id}${rounds > 1 ? ` (round ${round + 1}/${rounds})` : ''}`);
      let result;
      try {
        result = await runScenario(ctx, scenario, loadgen, estimates);
      } catch (error) {
        result = {
          id: scenario.id,
          label: scenario.label,
          status: 'failed',
          note: String(error.message ?? error).slice(0, 300),
        };
      }
      log(
        result.rps !== undefined
          ? `  ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms, ${result.sutCpuUsPerReq.toFixed(1)} µs CPU/req, RSS ${result.rssMb.toFixed(1)} MB ${result.note}`
          : `  ${result.status}: ${result.note}`,
      );
      if (result.rps !== undefined)
        history.set(scenario.id, [...(history.get(scenario.id) ?? []), Math.round(result.rps)]);
      const previous = best.get(scenario.id);
      const better =
        previous === undefined ||
        (result.status === 'ok' && (previous.status !== 'ok' || result.rps > previous.rps));
      if (better) best.set(scenario.id, result);
    }
  }
  const results = selected.map((s) => ({ ...best.get(s.id), roundsRps: history.get(s.id) ?? [] }));

  const fixedLoad = [];
  if (wants('fixed-load') && best.get('direct')?.status === 'ok') {
    for (const id of ['gateway-none', 'gateway-oauth1-memory']) {
      const measured = best.get(id);
      if (measured?.status !== 'ok') continue;
      const scenario = SCENARIOS.find((s) => s.id === id);
      log(`- fixed load: ${id} at 50% of ${Math.round(measured.rps)} req/s`);
      try {
        const f = await measureFixedLoad(ctx, {
          loadgen,
          scenario,
          credential: scenario.credential ? CREDENTIALS[scenario.credential] : undefined,
          maxRps: measured.rps,
          durationSec,
          warmupSec: Math.max(1, warmupSec),
          rounds,
          // Always: a gateway started for this pass is cold (JIT), and calibrating on a cold process
          // under-shoots the rate (the CI smoke test failed that way).
          closedWarmup: true,
          withForwarder: id === 'gateway-none',
        });
        log(
          `  ${Math.round(f.gateway.rps)} req/s: p99 ${f.gateway.p99Ms.toFixed(2)} ms vs direct ${f.direct.p99Ms.toFixed(2)} ms → added ${f.addedP99Ms.toFixed(2)} ms` +
            (f.forwarder === undefined
              ? ''
              : `; bare undici forwarder at ${Math.round(f.forwarder.rps)} req/s: p99 ${f.forwarder.p99Ms.toFixed(2)} ms → added ${f.forwarderAddedP99Ms.toFixed(2)} ms`),
        );
        fixedLoad.push(f);
      } catch (error) {
        fixedLoad.push({
          id,
          label: scenario.label,
          status: 'failed',
          note: String(error.message ?? error).slice(0, 300),
        });
        log(`  failed: ${error.message}`);
      }
    }
  }

  let cachedTokenMemory;
  if (wants('memory') && authServer !== undefined) {
    log(
      `- memory: ${memoryTokens.toLocaleString('en-US')} distinct introspected tokens, each requested once`,
    );
    try {
      cachedTokenMemory = await measureCachedTokenMemory(ctx, {
        autocannon: createAutocannon({ connections }),
        tokens: memoryTokens,
        settleSec: quick ? 1 : 20,
        idleSettleSec: quick ? 1 : 30,
      });
      const m = cachedTokenMemory;
      log(
        `  RSS idle ${m.rssIdleMb.toFixed(1)} MB (0.5 s), ${m.rssIdleSettledMb.toFixed(1)} MB (${m.idleSettleSec} s) → ${m.rssAfterFillMb.toFixed(1)} MB right after, ${m.rssSettledMb.toFixed(1)} MB ${m.settleSec} s later; ${m.introspectionCalls} introspection calls; cache ${m.bytesPerToken ?? '?'} bytes per token`,
      );
    } catch (error) {
      cachedTokenMemory = {
        tokens: memoryTokens,
        status: 'failed',
        note: String(error.message ?? error).slice(0, 300),
      };
      log(`  failed: ${error.message}`);
    }
  }

  let soakResult;
  if (wants('soak') && authServer !== undefined) {
    if (loadgen.name !== 'wrk') throw new Error('--soak needs wrk');
    log(`- soak: ${soakMinutes} min closed-loop load, cached introspection, RSS every 10 s`);
    soakResult = await soak(ctx, { wrk: loadgen, minutes: soakMinutes, log });
    log(
      `  RSS ${soakResult.rssMinMb.toFixed(1)}–${soakResult.rssMaxMb.toFixed(1)} MB after minute 1, slope ${soakResult.slopeMbPerMinAfterFirstMinute.toFixed(2)} MB/min`,
    );
  }

  await authServer?.stop();
  await upstream.stop();
  await redis?.handle?.stop();
  rmSync(workDir, { recursive: true, force: true });

  const ratios = computeRatios(results);
  const date = new Date().toISOString();
  const report = {
    date,
    command,
    quick,
    machine,
    loadgen: { name: loadgen.name, version: loadgen.version, connections, threads: 1 },
    pinning: PINNING,
    durationSec,
    warmupSec,
    rounds,
    requestPath: REQUEST_PATH,
    loadgenComparison,
    authlib: selected.some((s) => s.kind === 'authlib')
      ? (authlibVersions() ?? ctx.authlibStatus)
      : undefined,
    scenarios: results,
    ratios,
    fixedLoad,
    cachedTokenMemory,
    soak: soakResult,
    loadAverageAtEnd: loadAverage(),
  };
  report.goals = evaluateGoals(report);

  mkdirSync(resultsDir, { recursive: true });
  const stamp = date.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
  writeFileSync(
    join(resultsDir, `${quick ? 'quick-' : ''}${stamp}.json`),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  // latest.json is the full run BENCHMARKS.md describes; --only runs do not replace it.
  const latest = quick ? 'latest-quick.json' : only === undefined ? 'latest.json' : 'latest-partial.json';
  writeFileSync(join(resultsDir, latest), `${JSON.stringify(report, null, 2)}\n`);
  if (soakResult) writeFileSync(join(resultsDir, 'soak-latest.json'), `${JSON.stringify(report, null, 2)}\n`);

  // The main table and the targets describe full runs only: an --only run must not replace them
  // with a few rows (its JSON goes to latest-partial.json, its forward-auth rows to their section).
  if (!values['no-markdown'] && !quick && only === undefined && results.length > 0) {
    const header = [
      `Run ${date} — \`${command}\``,
      '',
      `Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGb} GB, ${machine.kernel}, Node ${machine.node}. **Load average** (1/5/15 min) at start ${machine.loadAverageAtStart}, at end ${report.loadAverageAtEnd}.`,
      `Load generator: ${loadgen.version}, 1 thread, ${connections} connections, ${durationSec} s per scenario after ${warmupSec} s warm-up, \`GET ${REQUEST_PATH}\`; best of ${rounds} round${rounds === 1 ? '' : 's'} (order alternates) per scenario.`,
      PINNING.enabled
        ? `Pinning (taskset): load generator, upstream, Redis and the fake authorization server on cpu ${PINNING.loadgen}; the system under test alone on cpu ${PINNING.sut} (for "direct" the upstream is moved there).`
        : 'Pinning: off.',
      report.authlib ? `Authlib reference: ${report.authlib}.` : '',
      '',
    ].join('\n');
    const parts = [header, scenarioTable(results), '', ratioTable(ratios)];
    if (fixedLoad.length > 0)
      parts.push(
        '',
        "**Latency at fixed load** (50% of each gateway row's max req/s; method below):",
        '',
        fixedLoadTable(fixedLoad),
      );
    if (cachedTokenMemory)
      parts.push(
        '',
        '**Memory with cached tokens** (cached-introspection path; method below):',
        '',
        memoryTable(cachedTokenMemory),
      );
    if (loadgenComparison)
      parts.push('', 'Load generators, same direct-upstream load:', '', loadgenTable(loadgenComparison));
    writeSection(join(root, 'BENCHMARKS.md'), 'bench:run', parts.join('\n'));
    writeSection(
      join(root, 'BENCHMARKS.md'),
      'bench:targets',
      [`From the run of ${date} (\`${command}\`).`, '', goalsTable(report.goals)].join('\n'),
    );
  }
  const forwardAuth = forwardAuthTable(results);
  if (!values['no-markdown'] && !quick && forwardAuth !== undefined) {
    writeSection(
      join(root, 'BENCHMARKS.md'),
      'bench:forward-auth',
      [
        `Run ${date} — \`${command}\` (${loadgen.version}, ${connections} connections, ${durationSec} s after ${warmupSec} s warm-up, best of ${rounds} round${rounds === 1 ? '' : 's'}; load average at start ${machine.loadAverageAtStart}, at end ${report.loadAverageAtEnd}).`,
        '',
        forwardAuth,
      ].join('\n'),
    );
  }
  if (!values['no-markdown'] && !quick && soakResult) {
    writeSection(
      join(root, 'BENCHMARKS.md'),
      'bench:soak',
      soakSection(soakResult, { date, command, machine, end: report.loadAverageAtEnd }),
    );
  }

  const summary = ratios
    .map(
      (r) =>
        `${r.label} ${r.rps.toFixed(2)}× (CPU/req ${r.cpu.toFixed(2)}×)${r.target === undefined ? '' : r.rps >= r.target ? ' hit' : ` MISS<${r.target}`}`,
    )
    .join(' | ');
  process.stdout.write(`ratios: ${summary || 'none (too few scenarios ran)'}\n`);
  const verdicts = report.goals.map((g) => g.verdict);
  const count = (v) => verdicts.filter((x) => x === v).length;
  process.stdout.write(
    `targets: ${count('HIT')} hit, ${count('MISS')} miss, ${count('not measured')} not measured\n`,
  );
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    void stopAll().then(() => process.exit(130));
  });
}

main().catch(async (error) => {
  await stopAll();
  log(`bench failed: ${error.stack ?? error}`);
  process.exit(1);
});

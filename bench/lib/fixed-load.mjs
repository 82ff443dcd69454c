import { join } from 'node:path';
import { TARGETS } from './targets.mjs';

/**
 * Latency at a fixed load: p99 added by the gateway over the direct upstream at 50% of the
 * gateway's measured maximum throughput (from the closed-loop rows of the same run).
 *
 * Method (wrk2 is not in Debian): wrk with a `delay()` hook (lib/loadgen.mjs, `meanDelayMs`) —
 * every connection waits an exponential think time between requests, which with 50 connections
 * approximates Poisson arrivals at the wanted rate. After a closed-loop warm-up, a calibration
 * pass measures the rate actually reached, the think time is corrected once for the response time
 * it adds (by at most 25%), then the measured pass runs. Direct and gateway get the same rate, the same headers and the same
 * connections; the upstream stays where it always is (load-generator core), so the only
 * difference between the two is the gateway hop on its own core. The best (lowest-p99) of the
 * rounds is kept for each side, like the throughput rows.
 *
 * autocannon's `--overallRate` was not used: it sends each connection's per-second quota
 * back-to-back at the start of every second and then idles (bursts at full speed, not 50% load),
 * and it records latency in whole milliseconds, too coarse for a 1 ms target.
 */

function meanDelayFor(connections, rate, overheadMs = 0) {
  return Math.max(0.05, (connections * 1000) / rate - overheadMs);
}

async function runAtRate(loadgen, { url, headers, presign, rate, warmupSec, durationSec, closedWarmup }) {
  const connections = loadgen.connections;
  // Closed-loop warm-up first: a fresh gateway process is still compiling its hot path, and a
  // cold calibration pass would over-correct the think time.
  if (closedWarmup)
    await loadgen.run({
      url,
      headers,
      authorizationFile: presign?.('warmup', 3 * rate * warmupSec),
      durationSec: warmupSec,
    });
  let meanDelayMs = meanDelayFor(connections, rate);
  const calibration = await loadgen.run({
    url,
    headers,
    authorizationFile: presign?.('calibration', rate * warmupSec),
    durationSec: warmupSec,
    meanDelayMs,
  });
  // Each connection's cycle is think time + response time (+ scheduling): correct the think time
  // once, by at most a quarter (a disturbed calibration pass must not push the rate to saturation).
  const cycleMs = (connections * 1000) / calibration.rps;
  const overheadMs = Math.min(Math.max(0, cycleMs - meanDelayMs), meanDelayMs * 0.25);
  meanDelayMs = meanDelayFor(connections, rate, overheadMs);
  const r = await loadgen.run({
    url,
    headers,
    authorizationFile: presign?.('measure', rate * durationSec),
    durationSec,
    meanDelayMs,
  });
  return { ...r, meanDelayMs };
}

/**
 * @param ctx run context (upstream, workDir, …)
 * @param options.scenario  gateway scenario (from scenarios.mjs) whose path is measured
 * @param options.credential provider from lib/credentials.mjs, or undefined
 * @param options.maxRps    the gateway scenario's measured closed-loop req/s
 * @param options.closedWarmup closed-loop warm-up before calibrating (off in --quick)
 * @param options.withForwarder also measure the bare undici forwarder (the baseline row) at the
 *        same rate: what any Node.js forwarder adds on this machine, next to what the gateway adds
 */
export async function measureFixedLoad(
  ctx,
  {
    loadgen,
    scenario,
    credential,
    maxRps,
    durationSec,
    warmupSec,
    rounds,
    closedWarmup = true,
    withForwarder = false,
  },
) {
  const rate = Math.max(10, Math.round(maxRps * 0.5));
  const gateway = await TARGETS.gateway.start(ctx, scenario);
  const forwarder = withForwarder ? await TARGETS['undici-forwarder'].start(ctx) : undefined;
  const directUrl = `http://127.0.0.1:${ctx.upstreamPort}${new URL(gateway.url).pathname}${new URL(gateway.url).search}`;
  const best = { direct: undefined, gateway: undefined, forwarder: undefined };
  const urls = { direct: directUrl, gateway: gateway.url, forwarder: forwarder?.url };
  try {
    const signTarget = { url: gateway.url, host: new URL(gateway.url).host };
    for (let round = 0; round < rounds; round++) {
      const sides = forwarder === undefined ? ['direct', 'gateway'] : ['direct', 'gateway', 'forwarder'];
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        // Every wrk run reads its file from the first line: one pre-signed file per phase (fresh
        // nonces throughout), signed for the gateway's URL. The upstream ignores Authorization, so
        // the direct side gets the same bytes on the wire.
        const presign =
          credential?.presign === undefined
            ? undefined
            : (phase, expected) => {
                const file = join(ctx.workDir, `fixed-${scenario.id}-${side}-${round}-${phase}.txt`);
                credential.presign(signTarget, Math.ceil(expected * 1.5) + 1000, file);
                return file;
              };
        const r = await runAtRate(loadgen, {
          url: urls[side],
          headers: credential?.staticHeaders?.(signTarget),
          presign,
          rate,
          warmupSec,
          durationSec,
          closedWarmup,
        });
        const failed = r.non2xx + r.errors;
        const entry = {
          rps: r.rps,
          p50Ms: r.p50Ms,
          p90Ms: r.p90Ms,
          p99Ms: r.p99Ms,
          p999Ms: r.p999Ms,
          requests: r.requests,
          failed,
          meanDelayMs: r.meanDelayMs,
        };
        if (best[side] === undefined || (failed === 0 && entry.p99Ms < best[side].p99Ms)) best[side] = entry;
      }
    }
  } finally {
    await gateway.stop();
    await forwarder?.stop();
  }
  return {
    id: scenario.id,
    label: scenario.label,
    targetRps: rate,
    maxRps,
    direct: best.direct,
    gateway: best.gateway,
    addedP50Ms: best.gateway.p50Ms - best.direct.p50Ms,
    addedP99Ms: best.gateway.p99Ms - best.direct.p99Ms,
    ...(best.forwarder === undefined
      ? {}
      : { forwarder: best.forwarder, forwarderAddedP99Ms: best.forwarder.p99Ms - best.direct.p99Ms }),
    status: best.gateway.failed + best.direct.failed > 0 ? 'invalid' : 'ok',
  };
}

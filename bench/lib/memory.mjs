import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { writeDistinctBearers } from './credentials.mjs';
import { treeRssMb } from './procstat.mjs';
import { TARGETS } from './targets.mjs';

/**
 * Memory of the gateway with its bearer-token cache full, and over time.
 *
 * Both use the cached-introspection path (tokenSources: [introspection], cache maxEntries 100k as
 * shipped): a token is only *cached* after the gateway has asked the authorization server about
 * it, so N distinct tokens are N introspection calls and N cache entries. (N tokens listed in
 * credentials.yaml would measure the file store, not the cache.)
 */

const INTROSPECTION_SCENARIO = {
  id: 'memory',
  auth: 'oauth2',
  tokenSources: ['introspection'],
};

/**
 * RSS after `tokens` distinct tokens were each requested once (autocannon with `amount`, since
 * wrk cannot stop after N requests), then again after `settleSec` idle; the last `recheck` tokens are
 * requested again to show they are served from the cache (no new introspection calls).
 */
export async function measureCachedTokenMemory(
  ctx,
  { autocannon, tokens, settleSec = 20, idleSettleSec = 30 },
) {
  const gateway = await TARGETS.gateway.start(ctx, INTROSPECTION_SCENARIO);
  try {
    // Idle: one request through the gateway (so the hot path is loaded, as in any live sidecar),
    // then RSS at 0.5 s and after idling (V8's memory reducer runs ~8 s after activity stops).
    const probe = await fetch(gateway.url, { headers: { authorization: 'Bearer bench-idle-probe' } });
    await probe.arrayBuffer();
    if (probe.status !== 200) throw new Error(`idle probe answered ${probe.status}`);
    await sleep(500);
    const rssIdleMb = treeRssMb(gateway.sutPids);
    await sleep(idleSettleSec * 1000);
    const rssIdleSettledMb = treeRssMb(gateway.sutPids);
    const file = join(ctx.workDir, 'distinct-bearers.txt');
    writeDistinctBearers(file, tokens);
    const before = await ctx.authServer.stats();
    const fill = await autocannon.run({
      url: gateway.url,
      durationSec: 600,
      authorizationFile: file,
      amount: tokens,
    });
    const afterFill = await ctx.authServer.stats();
    const rssAfterFillMb = treeRssMb(gateway.sutPids);
    await sleep(settleSec * 1000);
    const rssSettledMb = treeRssMb(gateway.sutPids);

    // The last tokens again: all of them must come from the cache.
    const recheck = Math.min(5000, Math.floor(tokens / 2));
    const recheckFile = join(ctx.workDir, 'distinct-bearers-recheck.txt');
    writeDistinctBearers(recheckFile, recheck, undefined, tokens - recheck);
    const again = await autocannon.run({
      url: gateway.url,
      durationSec: 120,
      authorizationFile: recheckFile,
      amount: recheck,
    });
    const afterRecheck = await ctx.authServer.stats();
    return {
      tokens,
      requests: fill.requests,
      failed: fill.non2xx + fill.errors,
      fillRps: fill.rps,
      introspectionCalls: afterFill.introspections - before.introspections,
      recheckTokens: recheck,
      recheckFailed: again.non2xx + again.errors,
      recheckIntrospectionCalls: afterRecheck.introspections - afterFill.introspections,
      rssIdleMb,
      rssIdleSettledMb,
      idleSettleSec,
      bytesPerToken: cacheBytesPerToken(tokens),
      rssAfterFillMb,
      rssSettledMb,
      settleSec,
      status: fill.non2xx + fill.errors + again.non2xx + again.errors > 0 ? 'invalid' : 'ok',
    };
  } finally {
    await gateway.stop();
  }
}

/**
 * Heap bytes per cached token of the token cache alone (bench/token-cache-memory.mjs, its own
 * process with --expose-gc), filled with `tokens` introspection answers.
 */
function cacheBytesPerToken(tokens) {
  try {
    const out = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        fileURLToPath(new URL('../token-cache-memory.mjs', import.meta.url)),
        '--tokens',
        String(tokens),
      ],
      { encoding: 'utf8' },
    );
    const match = /: (\d+) bytes per token/.exec(out);
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Least-squares slope of rssMb over time, in MB per minute. */
function slopeMbPerMin(samples) {
  const n = samples.length;
  if (n < 2) return Number.NaN;
  const mx = samples.reduce((a, s) => a + s.tSec, 0) / n;
  const my = samples.reduce((a, s) => a + s.rssMb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.tSec - mx) * (s.rssMb - my);
    den += (s.tSec - mx) ** 2;
  }
  return (num / den) * 60;
}

/**
 * Soak: closed-loop load for `minutes` through the cached-introspection path, cycling through
 * `tokens` distinct tokens (the first pass fills the 100k cache, later passes hit it; entries
 * expire after maxTtl = 5 min and are fetched again), RSS sampled every `everySec` seconds.
 */
export async function soak(ctx, { wrk, minutes, everySec = 10, tokens = 100_000, log }) {
  const gateway = await TARGETS.gateway.start(ctx, INTROSPECTION_SCENARIO);
  try {
    const file = join(ctx.workDir, 'soak-bearers.txt');
    writeDistinctBearers(file, tokens, 'bench-soak');
    const before = await ctx.authServer.stats();
    const samples = [{ tSec: 0, rssMb: treeRssMb(gateway.sutPids) }];
    const started = Date.now();
    const timer = setInterval(() => {
      const sample = { tSec: Math.round((Date.now() - started) / 1000), rssMb: treeRssMb(gateway.sutPids) };
      samples.push(sample);
      if (sample.tSec % 60 < everySec) log?.(`  soak ${sample.tSec} s: RSS ${sample.rssMb.toFixed(1)} MB`);
    }, everySec * 1000);
    let r;
    try {
      r = await wrk.run({ url: gateway.url, durationSec: minutes * 60, authorizationFile: file });
    } finally {
      clearInterval(timer);
    }
    samples.push({ tSec: Math.round((Date.now() - started) / 1000), rssMb: treeRssMb(gateway.sutPids) });
    const after = await ctx.authServer.stats();
    const afterFirstMinute = samples.filter((s) => s.tSec >= 60);
    const rss = afterFirstMinute.map((s) => s.rssMb);
    const lastMinute = samples.filter((s) => s.tSec > minutes * 60 - 60).map((s) => s.rssMb);
    const secondMinute = samples.filter((s) => s.tSec >= 60 && s.tSec < 120).map((s) => s.rssMb);
    const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
    return {
      minutes,
      everySec,
      tokens,
      rps: r.rps,
      requests: r.requests,
      failed: r.non2xx + r.errors,
      p99Ms: r.p99Ms,
      introspectionCalls: after.introspections - before.introspections,
      samples,
      rssMinMb: Math.min(...rss),
      rssMaxMb: Math.max(...rss),
      secondMinuteMeanMb: mean(secondMinute),
      lastMinuteMeanMb: mean(lastMinute),
      slopeMbPerMinAfterFirstMinute: slopeMbPerMin(afterFirstMinute),
      status: r.non2xx + r.errors > r.requests * 0.01 ? 'invalid' : 'ok',
    };
  } finally {
    await gateway.stop();
  }
}

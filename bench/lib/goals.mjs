/**
 * Issue 21's targets (a lean sidecar) against the measurements of one run: one row each, with the
 * measured value and HIT / MISS (or "not measured" and why). Reported, never enforced. Ratios are
 * within the run; absolute numbers are context only.
 */

const fmt = (value, digits = 0) =>
  typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '–';

/** Authenticated rows and their CPU ceilings (µs per request). */
const CPU_CEILINGS = {
  'gateway-oauth2-store': 100,
  'gateway-oauth2-introspection': 100,
  'gateway-oauth2-jwt': 100,
  'gateway-oauth1-memory': 120,
};

export function evaluateGoals(report) {
  const rows = [];
  const byId = new Map(report.scenarios.filter((s) => s.status === 'ok').map((s) => [s.id, s]));
  const ratio = (a, b) => {
    const x = byId.get(a);
    const y = byId.get(b);
    return x && y ? { rps: x.rps / y.rps, cpu: x.sutCpuUsPerReq / y.sutCpuUsPerReq } : undefined;
  };
  const add = (target, measured, hit, detail = '') =>
    rows.push({
      target,
      measured,
      verdict: hit === undefined ? 'not measured' : hit ? 'HIT' : 'MISS',
      detail,
    });

  const ratioGoal = (target, a, b, min) => {
    const r = ratio(a, b);
    add(
      target,
      r ? `${fmt(r.rps, 2)}× req/s (CPU/req ${fmt(r.cpu, 2)}×)` : `${a} or ${b} not measured`,
      r ? r.rps >= min : undefined,
      // Equal-CPU view: what the throughput ratio would be if both had a core to themselves.
      r ? `at equal CPU: ${fmt(1 / r.cpu, 2)}×` : '',
    );
  };
  ratioGoal(
    'pass-through (access log on) ≥ 0.85× bare undici forwarder',
    'gateway-none',
    'undici-forwarder',
    0.85,
  );
  ratioGoal('bearer from the store ≥ 0.92× own pass-through', 'gateway-oauth2-store', 'gateway-none', 0.92);
  ratioGoal(
    'cached introspection ≥ 0.92× own pass-through',
    'gateway-oauth2-introspection',
    'gateway-none',
    0.92,
  );
  ratioGoal('JWT ≥ 0.92× own pass-through', 'gateway-oauth2-jwt', 'gateway-none', 0.92);

  for (const f of report.fixedLoad ?? []) {
    add(
      `p99 added ≤ 1.0 ms at 50% load (${f.id})`,
      f.status === 'ok'
        ? `${fmt(f.addedP99Ms, 2)} ms (p99 ${fmt(f.gateway.p99Ms, 2)} vs ${fmt(f.direct.p99Ms, 2)} ms direct at ${fmt(f.gateway.rps)} req/s)`
        : `${f.status}: ${f.note ?? ''}`,
      f.status === 'ok' ? f.addedP99Ms <= 1 : undefined,
      f.forwarder === undefined
        ? ''
        : `bare undici forwarder at the same rate adds ${fmt(f.forwarderAddedP99Ms, 2)} ms (p99 ${fmt(f.forwarder.p99Ms, 2)} ms)`,
    );
  }
  if (!report.fixedLoad?.length) add('p99 added ≤ 1.0 ms at 50% load', 'not run in this run', undefined);

  const m = report.cachedTokenMemory;
  const memoryOk = m?.status === 'ok';
  add(
    'idle RSS ≤ 60 MB',
    memoryOk
      ? `${fmt(m.rssIdleSettledMb, 1)} MB ${m.idleSettleSec} s after one request (${fmt(m.rssIdleMb, 1)} MB at 0.5 s)`
      : (m?.note ?? 'not run in this run'),
    memoryOk ? m.rssIdleSettledMb <= 60 : undefined,
  );
  const gatewayRows = report.scenarios.filter(
    (s) => s.id.startsWith('gateway-') && s.status === 'ok' && s.rssMb !== undefined,
  );
  if (gatewayRows.length > 0) {
    const worst = gatewayRows.reduce((a, b) => (b.rssMb > a.rssMb ? b : a));
    const none = byId.get('gateway-none');
    add(
      'steady-load RSS ≤ 90 MB (every gateway row)',
      `max ${fmt(worst.rssMb, 1)} MB (${worst.id}); min ${fmt(Math.min(...gatewayRows.map((s) => s.rssMb)), 1)} MB`,
      worst.rssMb <= 90,
      none === undefined ? '' : `pass-through ${fmt(none.rssMb, 1)} MB`,
    );
  } else add('steady-load RSS ≤ 90 MB', 'no gateway row measured', undefined);
  add(
    `RSS ≤ 130 MB with ${m ? m.tokens.toLocaleString('en-US') : '100k'} cached tokens`,
    memoryOk
      ? `${fmt(m.rssAfterFillMb, 1)} MB right after the fill, ${fmt(m.rssSettledMb, 1)} MB ${m.settleSec} s later`
      : (m?.note ?? 'not run in this run'),
    memoryOk && m.tokens >= 100_000 ? m.rssAfterFillMb <= 130 : undefined,
    m && m.tokens < 100_000
      ? 'fewer than 100k tokens: not the target'
      : `token cache ${fmt(m?.bytesPerToken)} bytes per token (was ~550)`,
  );

  for (const [id, ceiling] of Object.entries(CPU_CEILINGS)) {
    const s = report.scenarios.find((x) => x.id === id);
    add(
      `CPU ≤ ${ceiling} µs per request (${id})`,
      s === undefined
        ? 'not in this run'
        : s.status === 'ok'
          ? `${fmt(s.sutCpuUsPerReq, 1)} µs`
          : `${s.status}`,
      s?.status === 'ok' ? s.sutCpuUsPerReq <= ceiling : undefined,
      s?.status === 'ok' ? `${fmt(s.sutCpuUsPerReq / 1000, 3)} vCPU per 1000 req/s` : '',
    );
  }

  if (report.soak) {
    const s = report.soak;
    add(
      `RSS flat over a ${s.minutes}-minute soak`,
      `${fmt(s.rssMinMb, 1)}–${fmt(s.rssMaxMb, 1)} MB after minute 1, slope ${fmt(s.slopeMbPerMinAfterFirstMinute, 2)} MB/min`,
      s.status === 'ok' ? Math.abs(s.slopeMbPerMinAfterFirstMinute) <= 0.5 : undefined,
      'flat = slope within ±0.5 MB/min after the first minute',
    );
  }
  return rows;
}

export function goalsTable(rows) {
  const lines = ['| Target (issue 21) | measured | verdict | note |', '|---|---|---|---|'];
  for (const r of rows) {
    const verdict = r.verdict === 'MISS' ? '**MISS**' : r.verdict;
    lines.push(`| ${r.target} | ${r.measured} | ${verdict} | ${r.detail} |`);
  }
  return lines.join('\n');
}

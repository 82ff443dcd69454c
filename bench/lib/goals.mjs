/**
 * Issue #9's targets against the measurements of one run: one row each, with the measured value
 * and HIT / MISS (or "not measured" and why). Reported, never enforced.
 */

const fmt = (value, digits = 0) =>
  typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '–';

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
  ratioGoal('gateway pass-through ≥ 2.0× stock http-proxy', 'gateway-none', 'http-proxy', 2.0);
  ratioGoal('gateway pass-through ≥ 50% of nginx', 'gateway-none', 'nginx', 0.5);
  ratioGoal(
    'OAuth2 cached introspection ≥ 90% of pass-through',
    'gateway-oauth2-introspection',
    'gateway-none',
    0.9,
  );
  ratioGoal('OAuth2 JWT ≥ 90% of pass-through', 'gateway-oauth2-jwt', 'gateway-none', 0.9);
  ratioGoal('OAuth1 Redis nonces ≥ 80% of pass-through', 'gateway-oauth1-redis', 'gateway-none', 0.8);

  for (const f of report.fixedLoad ?? []) {
    add(
      `p99 added ≤ 1 ms at 50% load (${f.id})`,
      f.status === 'ok'
        ? `${fmt(f.addedP99Ms, 2)} ms (p99 ${fmt(f.gateway.p99Ms, 2)} vs ${fmt(f.direct.p99Ms, 2)} ms direct at ${fmt(f.gateway.rps)} req/s)`
        : `${f.status}: ${f.note ?? ''}`,
      f.status === 'ok' ? f.addedP99Ms <= 1 : undefined,
    );
  }
  if (!report.fixedLoad?.length) add('p99 added ≤ 1 ms at 50% load', 'not run in this run', undefined);

  const m = report.cachedTokenMemory;
  add(
    `RSS ≤ 100 MB with ${m ? m.tokens.toLocaleString('en-US') : '100k'} cached tokens`,
    m?.status === 'ok'
      ? `${fmt(m.rssAfterFillMb, 1)} MB (${fmt(m.rssSettledMb, 1)} MB ${m.settleSec} s later)`
      : (m?.note ?? 'not run in this run'),
    m?.status === 'ok' && m.tokens >= 100_000 ? m.rssAfterFillMb <= 100 : undefined,
    m && m.tokens < 100_000 ? 'fewer than 100k tokens: not the target' : '',
  );

  for (const s of report.scenarios) {
    if (!s.id.startsWith('gateway-') || s.id.startsWith('gateway-none')) continue;
    add(
      `CPU ≤ 100 µs per authenticated request (${s.id})`,
      s.status === 'ok' ? `${fmt(s.sutCpuUsPerReq, 1)} µs` : `${s.status}: ${s.note ?? ''}`,
      s.status === 'ok' ? s.sutCpuUsPerReq <= 100 : undefined,
      s.status === 'ok' ? `${fmt(s.sutCpuUsPerReq / 1000, 3)} vCPU per 1000 req/s` : '',
    );
  }

  const gatewayRows = report.scenarios.filter((s) => s.id.startsWith('gateway-') && s.status === 'ok');
  if (gatewayRows.length > 0) {
    const worst = gatewayRows.reduce((a, b) => (b.rssMb > a.rssMb ? b : a));
    add(
      'RSS ≤ 80 MB at steady load (every gateway row)',
      `max ${fmt(worst.rssMb, 1)} MB (${worst.id}); min ${fmt(Math.min(...gatewayRows.map((s) => s.rssMb)), 1)} MB`,
      worst.rssMb <= 80,
    );
  } else add('RSS ≤ 80 MB at steady load', 'no gateway row measured', undefined);

  if (report.soak) {
    const s = report.soak;
    add(
      `RSS flat over a ${s.minutes}-minute soak`,
      `${fmt(s.rssMinMb, 1)}–${fmt(s.rssMaxMb, 1)} MB after minute 1, slope ${fmt(s.slopeMbPerMinAfterFirstMinute, 2)} MB/min`,
      s.status === 'ok' ? Math.abs(s.slopeMbPerMinAfterFirstMinute) <= 0.5 : undefined,
      'flat = |slope| ≤ 0.5 MB/min after the first minute',
    );
  }
  return rows;
}

export function goalsTable(rows) {
  const lines = ['| Target (issue #9) | measured | verdict | note |', '|---|---|---|---|'];
  for (const r of rows) {
    const verdict = r.verdict === 'MISS' ? '**MISS**' : r.verdict;
    lines.push(`| ${r.target} | ${r.measured} | ${verdict} | ${r.detail} |`);
  }
  return lines.join('\n');
}

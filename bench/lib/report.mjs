import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Markdown rendering and the generated sections of BENCHMARKS.md (between marker comments). */

const fmt = (value, digits = 0) =>
  typeof value === 'number' && Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '–';

export function scenarioTable(results) {
  const lines = [
    '| Scenario | req/s | p50 ms | p99 ms | SUT CPU µs/req | SUT CPU use | SUT RSS MB | upstream CPU µs/req | non-2xx / errors | note |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const r of results) {
    if (r.status !== 'ok') {
      lines.push(`| ${r.label} | – | – | – | – | – | – | – | – | ${r.status}: ${r.note} |`);
      continue;
    }
    lines.push(
      `| ${r.label} | ${fmt(r.rps)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.sutCpuUsPerReq, 1)} | ${fmt(r.sutCpuUtil * 100)}% | ${fmt(r.rssMb, 1)} | ${r.upstreamIsSut ? '(is SUT)' : fmt(r.upstreamCpuUsPerReq, 1)} | ${r.non2xx} / ${r.errors} | ${r.note ?? ''} |`,
    );
  }
  return lines.join('\n');
}

export function ratioTable(ratios) {
  const lines = [
    '| Ratio | throughput | CPU per request (lower is better) | target | verdict |',
    '|---|--:|--:|--:|---|',
  ];
  for (const r of ratios) {
    const verdict = r.target === undefined ? '' : r.rps >= r.target ? 'hit' : '**miss**';
    lines.push(
      `| ${r.label} | ${fmt(r.rps, 2)}× | ${fmt(r.cpu, 2)}× | ${r.target === undefined ? '' : `≥ ${r.target}×`} | ${verdict} |`,
    );
  }
  return lines.join('\n');
}

export function loadgenTable(rows) {
  const lines = [
    '| Load generator | req/s (direct upstream) | load-generator CPU µs/req | load-generator CPU use |',
    '|---|--:|--:|--:|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${fmt(r.rps)} | ${fmt(r.cpuUsPerReq, 1)} | ${fmt(r.cpuUtil * 100)}% |`);
  }
  return lines.join('\n');
}

export function fixedLoadTable(rows) {
  const lines = [
    '| Path | target req/s (50% of max) | achieved req/s direct / gateway | p50 ms direct / gateway | p99 ms direct / gateway | p99.9 ms direct / gateway | **p99 added** | p50 added | failed |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const f of rows) {
    if (f.status === 'failed') {
      lines.push(`| ${f.label} | – | – | – | – | – | – | – | failed: ${f.note} |`);
      continue;
    }
    const d = f.direct;
    const g = f.gateway;
    lines.push(
      `| ${f.label} | ${fmt(f.targetRps)} (max ${fmt(f.maxRps)}) | ${fmt(d.rps)} / ${fmt(g.rps)} | ${fmt(d.p50Ms, 2)} / ${fmt(g.p50Ms, 2)} | ${fmt(d.p99Ms, 2)} / ${fmt(g.p99Ms, 2)} | ${fmt(d.p999Ms, 2)} / ${fmt(g.p999Ms, 2)} | **${fmt(f.addedP99Ms, 2)} ms** | ${fmt(f.addedP50Ms, 2)} ms | ${d.failed + g.failed} |`,
    );
    const w = f.forwarder;
    if (w !== undefined) {
      lines.push(
        `| ↳ bare undici forwarder, same rate (baseline) | ${fmt(f.targetRps)} | ${fmt(d.rps)} / ${fmt(w.rps)} | ${fmt(d.p50Ms, 2)} / ${fmt(w.p50Ms, 2)} | ${fmt(d.p99Ms, 2)} / ${fmt(w.p99Ms, 2)} | ${fmt(d.p999Ms, 2)} / ${fmt(w.p999Ms, 2)} | ${fmt(f.forwarderAddedP99Ms, 2)} ms | ${fmt(w.p50Ms - d.p50Ms, 2)} ms | ${w.failed} |`,
      );
    }
  }
  return lines.join('\n');
}

export function memoryTable(m) {
  if (m.status === 'failed') return `Failed: ${m.note}`;
  return [
    '| Distinct tokens (each requested once) | introspection calls | RSS idle (0.5 s / 30 s after one request) | RSS right after | RSS after idling | cache bytes per token | re-requested (last N) | new introspection calls for them | failed |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    `| ${fmt(m.tokens)} | ${fmt(m.introspectionCalls)} | ${fmt(m.rssIdleMb, 1)} / **${fmt(m.rssIdleSettledMb, 1)} MB** | **${fmt(m.rssAfterFillMb, 1)} MB** | ${fmt(m.rssSettledMb, 1)} MB (${m.settleSec} s) | ${fmt(m.bytesPerToken)} | ${fmt(m.recheckTokens)} | ${fmt(m.recheckIntrospectionCalls)} | ${m.failed + m.recheckFailed} |`,
  ].join('\n');
}

export function soakSection(s, { date, command, machine, end }) {
  const lines = [
    `Soak ${date} — \`${command}\` (load average at start ${machine.loadAverageAtStart}, at end ${end}).`,
    '',
    `${s.minutes} min of closed-loop load (wrk, 50 connections) through the cached-introspection path, cycling through ${fmt(s.tokens)} distinct tokens (first pass fills the 100k cache, entries expire after maxTtl 5 min and are fetched again): ${fmt(s.rps)} req/s, ${fmt(s.requests)} requests, ${s.failed} failed, p99 ${fmt(s.p99Ms, 2)} ms, ${fmt(s.introspectionCalls)} introspection calls.`,
    '',
    `RSS after the first minute: min ${fmt(s.rssMinMb, 1)} MB, max ${fmt(s.rssMaxMb, 1)} MB; mean of minute 2 ${fmt(s.secondMinuteMeanMb, 1)} MB vs last minute ${fmt(s.lastMinuteMeanMb, 1)} MB; least-squares slope ${fmt(s.slopeMbPerMinAfterFirstMinute, 2)} MB/min.`,
    '',
    '| t (s) | RSS MB |',
    '|--:|--:|',
    ...s.samples.map((x) => `| ${x.tSec} | ${fmt(x.rssMb, 1)} |`),
  ];
  return lines.join('\n');
}

/** Replace the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` (append if absent). */
export function writeSection(file, name, body) {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${begin}\n${body.trim()}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from !== -1 && to > from) text = text.slice(0, from) + block + text.slice(to + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}

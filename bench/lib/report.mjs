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
      `| ${r.label} | ${fmt(r.rps)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.sutCpuUsPerReq, 1)} | ${fmt(r.sutCpuUtil * 100)}% | ${fmt(r.rssMb, 1)} | ${r.id === 'direct' ? '(is SUT)' : fmt(r.upstreamCpuUsPerReq, 1)} | ${r.non2xx} / ${r.errors} | ${r.note ?? ''} |`,
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

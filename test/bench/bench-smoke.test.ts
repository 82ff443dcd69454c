import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Smoke run of the benchmark harness (`npm run bench -- --quick`) so it cannot rot: two scenarios,
 * one second each, and the JSON it writes must hold real measurements.
 */

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const resultsDir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));

interface ScenarioResult {
  id: string;
  status: string;
  note?: string;
  rps: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  sutCpuUsPerReq: number;
  rssMb: number;
}

interface Report {
  quick: boolean;
  loadgen: { name: string };
  scenarios: ScenarioResult[];
  ratios: { label: string; rps: number; cpu: number }[];
}

afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

describe('bench harness (quick mode)', () => {
  it('measures direct upstream and gateway pass-through and writes numeric JSON', {
    timeout: 40_000,
  }, async () => {
    expect(existsSync(join(root, 'dist/main.js')), 'dist/main.js is missing: run `npm run build`').toBe(true);
    const { stdout } = await run(
      process.execPath,
      [
        'bench/run.mjs',
        '--quick',
        '--duration',
        '1',
        '--warmup',
        '1',
        '--only',
        'direct,gateway-none',
        '--results-dir',
        resultsDir,
        '--no-markdown',
      ],
      { cwd: root, timeout: 35_000 },
    );
    expect(stdout).toMatch(/^ratios: gateway\/direct \d+\.\d+×/m);

    const report = JSON.parse(readFileSync(join(resultsDir, 'latest-quick.json'), 'utf8')) as Report;
    expect(report.quick).toBe(true);
    expect(['wrk', 'autocannon']).toContain(report.loadgen.name);
    expect(report.scenarios.map((s) => s.id)).toEqual(['direct', 'gateway-none']);
    for (const scenario of report.scenarios) {
      expect(scenario.status, `${scenario.id}: ${scenario.note}`).toBe('ok');
      expect(scenario.requests).toBeGreaterThan(0);
      expect(scenario.rps).toBeGreaterThan(0);
      expect(scenario.p99Ms).toBeGreaterThan(0);
      expect(scenario.p99Ms).toBeGreaterThanOrEqual(scenario.p50Ms);
      expect(scenario.sutCpuUsPerReq).toBeGreaterThan(0);
      expect(scenario.rssMb).toBeGreaterThan(0);
      expect(scenario.non2xx + scenario.errors).toBe(0);
    }
    const ratio = report.ratios.find((r) => r.label === 'gateway/direct');
    expect(ratio?.rps).toBeGreaterThan(0);
    expect(ratio?.cpu).toBeGreaterThan(0);
  });
});

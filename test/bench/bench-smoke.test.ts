import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Smoke run of the benchmark harness (`npm run bench -- --quick`) so it cannot rot: direct,
 * pass-through and cached introspection (one second each), the fixed-load latency pair and the
 * cached-token memory measurement with a few hundred tokens; the JSON it writes must hold real
 * measurements.
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

interface Side {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

interface Report {
  quick: boolean;
  loadgen: { name: string };
  scenarios: (ScenarioResult & { asCalls?: { introspectionsMeasured: number } })[];
  ratios: { label: string; rps: number; cpu: number }[];
  fixedLoad: {
    id: string;
    status: string;
    targetRps: number;
    direct: Side;
    gateway: Side;
    addedP99Ms: number;
  }[];
  cachedTokenMemory: {
    status: string;
    tokens: number;
    introspectionCalls: number;
    recheckTokens: number;
    recheckIntrospectionCalls: number;
    rssIdleMb: number;
    rssAfterFillMb: number;
  };
  goals: { target: string; verdict: string }[];
  loadAverageAtEnd: string;
}

afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

describe('bench harness (quick mode)', () => {
  it('measures scenarios, fixed-load latency and cached-token memory, and writes numeric JSON', {
    timeout: 60_000,
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
        'direct,gateway-none,gateway-oauth2-introspection,nginx-authorize-oauth2,fixed-load,memory',
        '--tokens',
        '300',
        '--results-dir',
        resultsDir,
        '--no-markdown',
      ],
      { cwd: root, timeout: 55_000 },
    );
    expect(stdout).toMatch(/^ratios: gateway\/direct \d+\.\d+×/m);

    const report = JSON.parse(readFileSync(join(resultsDir, 'latest-quick.json'), 'utf8')) as Report;
    expect(report.quick).toBe(true);
    expect(['wrk', 'autocannon']).toContain(report.loadgen.name);
    expect(report.scenarios.map((s) => s.id)).toEqual([
      'direct',
      'gateway-none',
      'gateway-oauth2-introspection',
      'nginx-authorize-oauth2',
    ]);
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

    // Authorization-only mode: nginx + gateway are the SUT, the gateway's own share is reported.
    const authorize = report.scenarios.find((s) => s.id === 'nginx-authorize-oauth2') as
      | (Report['scenarios'][number] & { gatewayCpuUsPerReq?: number })
      | undefined;
    expect(authorize?.gatewayCpuUsPerReq).toBeGreaterThan(0);
    expect(authorize?.gatewayCpuUsPerReq).toBeLessThan(authorize?.sutCpuUsPerReq ?? 0);

    // Cached introspection: the fake AS is not asked again while the load is measured.
    const introspection = report.scenarios.find((s) => s.id === 'gateway-oauth2-introspection');
    expect(introspection?.asCalls?.introspectionsMeasured).toBe(0);

    // Constant-rate pass: both sides near the target rate (not closed-loop), gateway slower than direct.
    const fixed = report.fixedLoad.find((f) => f.id === 'gateway-none');
    expect(fixed?.status).toBe('ok');
    for (const side of [fixed?.direct, fixed?.gateway]) {
      expect(side?.failed).toBe(0);
      expect(side?.rps).toBeGreaterThan((fixed?.targetRps ?? 0) * 0.6);
      expect(side?.rps).toBeLessThan((fixed?.targetRps ?? 0) * 1.4);
    }
    expect(fixed?.addedP99Ms).toBeCloseTo((fixed?.gateway.p99Ms ?? 0) - (fixed?.direct.p99Ms ?? 0), 6);

    // Memory: every distinct token was introspected once, and re-requesting some cost no new calls.
    const memory = report.cachedTokenMemory;
    expect(memory.status).toBe('ok');
    expect(memory.tokens).toBe(300);
    expect(memory.introspectionCalls).toBe(300);
    expect(memory.recheckTokens).toBeGreaterThan(0);
    expect(memory.recheckIntrospectionCalls).toBe(0);
    expect(memory.rssAfterFillMb).toBeGreaterThan(0);

    expect(report.goals.length).toBeGreaterThan(5);
    expect(report.goals.every((g) => ['HIT', 'MISS', 'not measured'].includes(g.verdict))).toBe(true);
    expect(report.loadAverageAtEnd).toMatch(/^\d+\.\d+ /);
  });
});

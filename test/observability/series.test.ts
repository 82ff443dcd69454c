import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SeriesCounter, SeriesHistogram } from '../../src/observability/series.js';

/**
 * The per-request series count outside prom-client (series.ts); what a scrape shows must be exactly
 * what prom-client's own Counter and Histogram show for the same observations, text and JSON.
 */

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVATIONS: [string, number][] = [
  ['api', 0.0004],
  ['api', 0.001],
  ['api', 0.0011],
  ['api', 0.5],
  ['api', 7],
  ['a "quoted"\\route', 0.02],
  ['api', 0.01],
];

/** getMetricsAsJSON without prom-client's always-empty `exemplar` fields (exemplars are off). */
async function json(registry: Registry): Promise<unknown> {
  const metrics = await registry.getMetricsAsJSON();
  return metrics.map((m) => ({
    ...m,
    values: m.values.map((value) => {
      const { exemplar: _none, ...rest } = value as { exemplar?: unknown };
      return rest;
    }),
  }));
}

function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  return { theirs, ours };
}

describe('SeriesCounter and SeriesHistogram scrape like prom-client', () => {
  it('counter: same text and JSON', async () => {
    const { theirs, ours } = pair();
    const reference = new Counter({
      name: 'x_total',
      help: 'h',
      labelNames: ['route', 'status', 'auth_method'],
      registers: [theirs],
    });
    const counter = new SeriesCounter('x_total', 'h', ['route', 'status', 'auth_method'], ours);
    for (const [route, value] of OBSERVATIONS) {
      const status = value > 1 ? 502 : 200;
      reference.inc({ route, status, auth_method: 'oauth1' });
      counter.inc(route, status, 'oauth1');
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await json(ours)).toEqual(await json(theirs));
  });

  it('histogram: same text and JSON (bucket edges inclusive, +Inf, sum, count)', async () => {
    const { theirs, ours } = pair();
    const reference = new Histogram({
      name: 'd_seconds',
      help: 'h',
      labelNames: ['route'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const histogram = new SeriesHistogram('d_seconds', 'h', 'route', BUCKETS, ours);
    for (const [route, value] of OBSERVATIONS) {
      reference.observe({ route }, value);
      histogram.observe(route, value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await json(ours)).toEqual(await json(theirs));
  });

  it('nothing observed: the family is announced with no series, as prom-client does', async () => {
    const { theirs, ours } = pair();
    new Histogram({
      name: 'd_seconds',
      help: 'h',
      labelNames: ['route'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    new SeriesHistogram('d_seconds', 'h', 'route', BUCKETS, ours);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});

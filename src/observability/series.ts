import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the per-request metrics, in prom-client's registry format but counted
 * without it: prom-client hashes the label object on every `inc`/`observe` (sorting and joining the
 * label names), which was the largest share of what metrics cost a request. Here a series is found
 * by one string key and counted in place; the registry formats it at scrape time exactly like its
 * own metrics (prom-client reads `get()` / `getForPromString()` from any registered object).
 */

type LabelValue = string | number;
type Labels = Record<string, LabelValue>;

interface ExportValue {
  readonly labels: Labels;
  readonly sharedLabels?: Labels;
  readonly value: number;
  readonly metricName?: string;
}

interface Exported {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly values: ExportValue[];
  readonly aggregator: 'sum';
}

const SEPARATOR = '\u0001';

function labelsOf(names: readonly string[], values: readonly LabelValue[]): Labels {
  const labels: Labels = {};
  names.forEach((name, i) => {
    labels[name] = values[i]!;
  });
  return labels;
}

/** A counter over up to four labels (given positionally, in `labelNames` order). */
export class SeriesCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, { readonly labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  inc(a: LabelValue, b: LabelValue = '', c: LabelValue = '', d: LabelValue = ''): void {
    const key = `${a}${SEPARATOR}${b}${SEPARATOR}${c}${SEPARATOR}${d}`;
    const found = this.#series.get(key);
    if (found !== undefined) {
      found.value++;
      return;
    }
    this.#series.set(key, { labels: labelsOf(this.labelNames, [a, b, c, d]), value: 1 });
  }

  get(): Exported {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [...this.#series.values()].map(({ labels, value }) => ({ labels, value })),
    };
  }

  reset(): void {
    this.#series.clear();
  }
}

interface HistogramSeries {
  readonly labels: Labels;
  /** Per bucket (not cumulative): counts[i] = observations in (bounds[i-1], bounds[i]]. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram over one label. */
export class SeriesHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelName: string,
    readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  observe(labelValue: string, value: number): void {
    let series = this.#series.get(labelValue);
    if (series === undefined) {
      series = {
        labels: { [this.labelName]: labelValue },
        counts: new Float64Array(this.buckets.length),
        sum: 0,
        count: 0,
      };
      this.#series.set(labelValue, series);
    }
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]!) {
        series.counts[i]!++;
        break;
      }
    }
    series.sum += value;
    series.count++;
  }

  /** The text exposition shape: `le` first, then the series' own label (as prom-client writes it). */
  getForPromString(): Exported {
    const values: ExportValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += counts[i]!;
        values.push({
          labels: { le: bound },
          sharedLabels: labels,
          value: cumulative,
          metricName: bucketName,
        });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: bucketName },
        { labels: {}, sharedLabels: labels, value: sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: labels, value: count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The JSON shape (`registry.getMetricsAsJSON()`): labels merged. */
  get(): Exported {
    const exported = this.getForPromString();
    return {
      ...exported,
      values: exported.values.map(({ labels, sharedLabels, value, metricName }) => ({
        labels: { ...labels, ...sharedLabels },
        value,
        ...(metricName === undefined ? {} : { metricName }),
      })),
    };
  }

  reset(): void {
    this.#series.clear();
  }
}

// Metric families whose series are plain objects bound once (at snapshot time, or lazily the first
// time a label set appears) and then incremented with `series.value++`: no label hashing, no label
// validation, no allocation per request. prom-client's own `labels(...)` children re-hash the label
// object on every inc()/observe() (prom-client 15 `hashObject`), which for Istio's 25 labels costs
// more than the rest of the observation. A family exposes prom-client's metric shape (`get()`), so
// it registers in a prom-client Registry and aggregates across workers with AggregatorRegistry.

import type { Registry } from 'prom-client';

export type Labels = { readonly [name: string]: string };
export type FamilyType = 'counter' | 'gauge' | 'histogram';
/** prom-client aggregators: how `--concurrency N` workers' values combine. */
export type Aggregator = 'sum' | 'max' | 'first' | 'omit';

export class CounterSeries {
  readonly labels: Labels;
  value = 0;
  constructor(labels: Labels) {
    this.labels = labels;
  }
}

export class HistogramSeries {
  readonly labels: Labels;
  readonly bounds: readonly number[];
  /** Per-bucket (not cumulative) counts; index bounds.length is +Inf. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    // Short linear scan: most observations land in the first buckets.
    while (i < b.length && v > (b[i] as number)) i++;
    (this.counts as number[])[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** prom-client's MetricObjectWithValues (what Registry.getMetricsAsJSON returns per metric). */
export interface MetricJson {
  name: string;
  help: string;
  type: FamilyType;
  aggregator: Aggregator;
  values: { labels: { [k: string]: string | number }; value: number; metricName?: string }[];
}

export class MetricFamily<S extends CounterSeries | HistogramSeries = CounterSeries | HistogramSeries> {
  readonly name: string;
  readonly help: string;
  readonly type: FamilyType;
  readonly labelNames: readonly string[];
  readonly aggregator: Aggregator;
  readonly buckets: readonly number[];
  /** Runs before every scrape (gauges computed from live state). */
  collect: (() => void) | null = null;
  /**
   * When set, the series a scrape shows (instead of those created with `series()`): a family whose
   * series belong to bound objects that change per snapshot (weir_route_weight).
   */
  source: (() => Iterable<S>) | null = null;
  #series = new Map<string, S>();

  constructor(name: string, help: string, type: FamilyType, labelNames: readonly string[], opts: { aggregator?: Aggregator; buckets?: readonly number[] } = {}) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.labelNames = labelNames;
    this.aggregator = opts.aggregator ?? 'sum';
    this.buckets = opts.buckets ?? [];
  }

  /** The series for these label values (in labelNames order), created on first use. Config time. */
  series(values: readonly string[]): S {
    const key = values.join('\u0001');
    let s = this.#series.get(key);
    if (s === undefined) {
      const labels: { [k: string]: string } = {};
      for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i] as string] = values[i] ?? '';
      s = (this.type === 'histogram' ? new HistogramSeries(labels, this.buckets) : new CounterSeries(labels)) as S;
      this.#series.set(key, s);
    }
    return s;
  }

  /** Gauges recomputed at scrape time drop series that no longer exist. */
  clear(): void {
    this.#series.clear();
  }

  allSeries(): IterableIterator<S> {
    return this.#series.values();
  }

  /** prom-client's metric interface. */
  get(): MetricJson {
    if (this.collect !== null) this.collect();
    const values: MetricJson['values'] = [];
    for (const s of this.source !== null ? this.source() : this.#series.values()) {
      if (s instanceof HistogramSeries) {
        let acc = 0;
        for (let i = 0; i < s.bounds.length; i++) {
          acc += s.counts[i] as number;
          values.push({ labels: { ...s.labels, le: s.bounds[i] as number }, value: acc, metricName: this.name + '_bucket' });
        }
        acc += s.counts[s.bounds.length] as number;
        values.push({ labels: { ...s.labels, le: '+Inf' }, value: acc, metricName: this.name + '_bucket' });
        values.push({ labels: s.labels, value: s.sum, metricName: this.name + '_sum' });
        values.push({ labels: s.labels, value: s.count, metricName: this.name + '_count' });
      } else {
        values.push({ labels: s.labels, value: s.value });
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
    return this;
  }
}

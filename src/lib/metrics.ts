// A small Prometheus registry: counters, gauges and histograms with bounded label sets, rendered
// in the text exposition format by the proxy's and control plane's /metrics endpoints. Registries
// of worker threads travel as plain dumps and are summed into the main one's rendering.

type Labels = Readonly<Record<string, string>>;

interface Series<V> {
  readonly labels: Labels;
  value: V;
}

/** A registry's values as plain data (structured-cloneable), by metric name. */
export type RegistryDump = Readonly<Record<string, readonly Series<unknown>[]>>;

function labelKey(names: readonly string[], labels: Labels): string {
  let key = '';
  for (const name of names) key += (labels[name] ?? '') + '\u0000';
  return key;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function renderLabels(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${extra[1]}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Metric<V> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, Series<V>>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected seriesFor(labels: Labels): Series<V> {
    const key = labelKey(this.labelNames, labels);
    let s = this.series.get(key);
    if (!s) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) own[n] = labels[n] ?? '';
      s = { labels: own, value: this.initial() };
      this.series.set(key, s);
    }
    return s;
  }

  protected abstract initial(): V;
  protected abstract add(into: V, value: V): V;
  protected abstract renderSeries(series: Iterable<Series<V>>): string;

  dump(): Series<V>[] {
    return [...this.series.values()].map((s) => ({ labels: s.labels, value: structuredClone(s.value) }));
  }

  /** Own series plus those of other registries' dumps of this metric, summed by label set. */
  render(others: readonly RegistryDump[] = []): string {
    if (others.length === 0) return this.renderSeries(this.series.values());
    const merged = new Map<string, Series<V>>();
    const take = (s: Series<V>): void => {
      const key = labelKey(this.labelNames, s.labels);
      const have = merged.get(key);
      if (have) have.value = this.add(have.value, s.value);
      else merged.set(key, { labels: s.labels, value: this.add(this.initial(), s.value) });
    };
    for (const s of this.series.values()) take(s);
    for (const dump of others) for (const s of (dump[this.name] ?? []) as Series<V>[]) take(s);
    return this.renderSeries(merged.values());
  }
}

export class Counter extends Metric<number> {
  protected initial(): number {
    return 0;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.seriesFor(labels).value += by;
  }
  get(labels: Labels = {}): number {
    return this.series.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }
  /** One series, looked up once: for hot paths that count the same labels again and again. */
  bind(labels: Labels = {}): { inc(by?: number): void } {
    const s = this.seriesFor(labels);
    return {
      inc: (by = 1) => {
        s.value += by;
      },
    };
  }
  protected add(into: number, value: number): number {
    return into + value;
  }
  protected renderSeries(series: Iterable<Series<number>>): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const s of series) out += `${this.name}${renderLabels(s.labels)} ${s.value}\n`;
    return out;
  }
}

export class Gauge extends Metric<number> {
  protected initial(): number {
    return 0;
  }
  set(labels: Labels, value: number): void {
    this.seriesFor(labels).value = value;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.seriesFor(labels).value += by;
  }
  dec(labels: Labels = {}, by = 1): void {
    this.seriesFor(labels).value -= by;
  }
  get(labels: Labels = {}): number {
    return this.series.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }
  /** Drops every series: for gauges recomputed whole at scrape time, whose label sets come and go. */
  reset(): void {
    this.series.clear();
  }
  /** Gauges of worker threads add up: open connections of all workers are the proxy's. */
  protected add(into: number, value: number): number {
    return into + value;
  }
  protected renderSeries(series: Iterable<Series<number>>): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n`;
    for (const s of series) out += `${this.name}${renderLabels(s.labels)} ${s.value}\n`;
    return out;
  }
}

interface HistogramValue {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramValue> {
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.buckets = buckets;
  }
  protected initial(): HistogramValue {
    return { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
  }
  observe(labels: Labels, value: number): void {
    this.#record(this.seriesFor(labels).value, value);
  }
  /** One series, looked up once (see Counter.bind). */
  bind(labels: Labels): { observe(value: number): void } {
    const s = this.seriesFor(labels);
    return { observe: (value) => this.#record(s.value, value) };
  }
  #record(h: HistogramValue, value: number): void {
    h.sum += value;
    h.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]) {
        h.counts[i]++;
        break;
      }
    }
  }
  protected add(into: HistogramValue, value: HistogramValue): HistogramValue {
    for (let i = 0; i < into.counts.length; i++) into.counts[i] += value.counts[i] ?? 0;
    into.sum += value.sum;
    into.count += value.count;
    return into;
  }
  protected renderSeries(series: Iterable<Series<HistogramValue>>): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const s of series) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += s.value.counts[i];
        out += `${this.name}_bucket${renderLabels(s.labels, ['le', String(this.buckets[i])])} ${cumulative}\n`;
      }
      out += `${this.name}_bucket${renderLabels(s.labels, ['le', '+Inf'])} ${s.value.count}\n`;
      out += `${this.name}_sum${renderLabels(s.labels)} ${s.value.sum}\n`;
      out += `${this.name}_count${renderLabels(s.labels)} ${s.value.count}\n`;
    }
    return out;
  }
}

/** Latency buckets in seconds, from 0.5 ms to 10 s. */
export const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Registry {
  readonly #metrics: Metric<unknown>[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }
  histogram(name: string, help: string, labelNames: readonly string[], buckets = latencyBuckets): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }
  /** The exposition text; `others` (dumps of worker threads' registries) are summed in. */
  render(others: readonly RegistryDump[] = []): string {
    return this.#metrics.map((m) => m.render(others)).join('');
  }
  dump(): RegistryDump {
    const out: Record<string, Series<unknown>[]> = {};
    for (const m of this.#metrics) out[m.name] = m.dump();
    return out;
  }
  #add<M extends Metric<any>>(metric: M): M {
    this.#metrics.push(metric);
    return metric;
  }
}

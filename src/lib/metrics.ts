// A small Prometheus registry: counters, gauges and histograms with bounded label sets, rendered
// in the text exposition format by the proxy's and control plane's /metrics endpoints.

type Labels = Readonly<Record<string, string>>;

interface Series<V> {
  readonly labels: Labels;
  value: V;
}

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
  abstract render(): string;
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
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const s of this.series.values()) out += `${this.name}${renderLabels(s.labels)} ${s.value}\n`;
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
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n`;
    for (const s of this.series.values()) out += `${this.name}${renderLabels(s.labels)} ${s.value}\n`;
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
    const h = this.seriesFor(labels).value;
    h.sum += value;
    h.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]) {
        h.counts[i]++;
        break;
      }
    }
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const s of this.series.values()) {
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
  render(): string {
    return this.#metrics.map((m) => m.render()).join('');
  }
  #add<M extends Metric<any>>(metric: M): M {
    this.#metrics.push(metric);
    return metric;
  }
}

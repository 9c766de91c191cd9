// Golden signals on the control plane: the `stats` reports of every sidecar, added into a ring of
// time slots (default 5 s each, 10 min kept; bounded memory), and summed over a window on demand
// for GET /v1/stats, `weft stat`, `weft top` and the dashboard.

import type { Clock } from '../../lib/clock.ts';
import type { EdgeStats, EdgeSummary, LatencyPercentiles, ServiceStats, StatsReport, StatsSummary } from '../../config/stats-report.ts';
import { emptyHistogram, mergeInto, quantile } from './histogram.ts';

export interface StatsWindowOptions {
  readonly clock: Clock;
  /** Width of one slot (ms; default 5000): the window's resolution. */
  readonly resolutionMs?: number;
  /** How much history is kept (ms; default 10 min): the longest window a query may ask for. */
  readonly retentionMs?: number;
  /** Distinct edges one slot holds (default 10,000); reports of further edges are dropped and counted. */
  readonly maxEdgesPerSlot?: number;
}

interface Totals {
  readonly direction: EdgeStats['direction'];
  readonly source: string;
  readonly destination: string;
  requests: number;
  successes: number;
  readonly latency: number[];
}

interface Slot {
  /** floor(time / resolution) of the slot's time; a slot whose index is old is reused. */
  index: number;
  readonly edges: Map<string, Totals>;
  /** service → ids of its sidecars that reported inbound traffic in this slot */
  readonly proxies: Map<string, Set<string>>;
}

export const DEFAULT_STATS_WINDOW_SECONDS = 60;

export class StatsWindow {
  readonly #clock: Clock;
  readonly #resolutionMs: number;
  readonly #ring: Slot[];
  readonly #maxEdges: number;
  readonly #startedAt: number;
  #dropped = 0;

  constructor(options: StatsWindowOptions) {
    this.#clock = options.clock;
    this.#resolutionMs = options.resolutionMs ?? 5_000;
    const retentionMs = options.retentionMs ?? 10 * 60_000;
    // One slot more than the retention: the current one is only partly filled.
    const slots = Math.ceil(retentionMs / this.#resolutionMs) + 1;
    this.#ring = Array.from({ length: slots }, () => ({ index: -1, edges: new Map(), proxies: new Map() }));
    this.#maxEdges = options.maxEdgesPerSlot ?? 10_000;
    this.#startedAt = this.#clock.now();
  }

  /** The longest window a query may ask for (s). */
  get retentionSeconds(): number {
    return ((this.#ring.length - 1) * this.#resolutionMs) / 1000;
  }

  /** Edges dropped because a slot was full (a sign of unbounded source or destination names). */
  get droppedEdges(): number {
    return this.#dropped;
  }

  /** Adds one validated report from sidecar `proxyId` of `service` (`NAME.NAMESPACE`) to the current slot. */
  record(proxyId: string, service: string, report: StatsReport): void {
    const slot = this.#slot(Math.floor(this.#clock.now() / this.#resolutionMs));
    for (const e of report.edges) {
      const key = `${e.direction} ${e.source} ${e.destination}`;
      let t = slot.edges.get(key);
      if (t === undefined) {
        if (slot.edges.size >= this.#maxEdges) {
          this.#dropped++;
          continue;
        }
        t = { direction: e.direction, source: e.source, destination: e.destination, requests: 0, successes: 0, latency: emptyHistogram() };
        slot.edges.set(key, t);
      }
      t.requests += e.requests;
      t.successes += e.successes;
      mergeInto(t.latency, e.latency);
      if (e.direction === 'inbound' && e.destination === service) {
        let ids = slot.proxies.get(service);
        if (ids === undefined) slot.proxies.set(service, (ids = new Set()));
        ids.add(proxyId);
      }
    }
  }

  /**
   * The golden signals of the last `windowSeconds` (clamped to 1..retention; whole slots, so up to
   * one resolution more): services from the inbound side, edges from the outbound side. With
   * `service` (`NAME.NAMESPACE`), only that service and the edges to or from it. rps divides by the
   * window, or by the time since this window started when that is shorter (a control plane just up).
   */
  summary(windowSeconds = DEFAULT_STATS_WINDOW_SECONDS, service?: string): StatsSummary {
    const now = this.#clock.now();
    const window = Math.min(Math.max(1, windowSeconds), this.retentionSeconds);
    const current = Math.floor(now / this.#resolutionMs);
    const first = Math.floor((now - window * 1000) / this.#resolutionMs);
    const services = new Map<string, { requests: number; successes: number; latency: number[]; proxies: Set<string> }>();
    const edges = new Map<string, { source: string; destination: string; requests: number; successes: number; latency: number[] }>();
    for (const slot of this.#ring) {
      if (slot.index < first || slot.index > current) continue;
      for (const t of slot.edges.values()) {
        if (t.direction === 'inbound') {
          if (service !== undefined && t.destination !== service) continue;
          let s = services.get(t.destination);
          if (s === undefined) services.set(t.destination, (s = { requests: 0, successes: 0, latency: emptyHistogram(), proxies: new Set() }));
          s.requests += t.requests;
          s.successes += t.successes;
          mergeInto(s.latency, t.latency);
        } else {
          if (service !== undefined && t.source !== service && t.destination !== service) continue;
          const key = `${t.source} ${t.destination}`;
          let x = edges.get(key);
          if (x === undefined) edges.set(key, (x = { source: t.source, destination: t.destination, requests: 0, successes: 0, latency: emptyHistogram() }));
          x.requests += t.requests;
          x.successes += t.successes;
          mergeInto(x.latency, t.latency);
        }
      }
      for (const [name, ids] of slot.proxies) {
        const s = services.get(name);
        if (s) for (const id of ids) s.proxies.add(id);
      }
    }
    const seconds = Math.max(this.#resolutionMs / 1000, Math.min(window, (now - this.#startedAt) / 1000));
    const serviceList: ServiceStats[] = [...services].map(([name, s]) => ({
      service: name,
      requests: s.requests,
      successes: s.successes,
      rps: round(s.requests / seconds, 3),
      successRate: s.requests > 0 ? round(s.successes / s.requests, 4) : null,
      latencyMs: percentiles(s.latency),
      proxies: s.proxies.size,
    }));
    const edgeList: EdgeSummary[] = [...edges.values()].map((x) => ({
      source: x.source,
      destination: x.destination,
      requests: x.requests,
      successes: x.successes,
      rps: round(x.requests / seconds, 3),
      successRate: x.requests > 0 ? round(x.successes / x.requests, 4) : null,
      latencyMs: percentiles(x.latency),
    }));
    serviceList.sort((a, b) => b.requests - a.requests || a.service.localeCompare(b.service));
    edgeList.sort((a, b) => b.requests - a.requests || a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination));
    return { windowSeconds: window, generatedAt: now, services: serviceList, edges: edgeList };
  }

  #slot(index: number): Slot {
    const slot = this.#ring[index % this.#ring.length];
    if (slot.index !== index) {
      slot.index = index;
      slot.edges.clear();
      slot.proxies.clear();
    }
    return slot;
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function percentiles(latency: readonly number[]): LatencyPercentiles {
  const at = (q: number): number | null => {
    const v = quantile(latency, q);
    return v === undefined ? null : round(v, 2);
  };
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

// Golden signals up the stream, sidecar side: every few seconds, the request counters and latency
// histograms the handlers already keep (http/request-metrics.ts; main thread plus worker dumps) are
// summed per edge and the change since the last report goes up the config stream as a `stats` message.

import type { RegistryDump } from '../../lib/metrics.ts';
import { STATS_BUCKETS, STATS_LATENCY_BOUNDS_MS, type EdgeStats, type StatsReport } from '../../config/stats-report.ts';
import type { LocalReplyReason } from '../http/local-reply.ts';

const REQUESTS = 'weft_proxy_requests_total';
const DURATION = 'weft_proxy_request_duration_seconds';

/** Local replies that are answers, not failures of the mesh: they count as successes. */
const SUCCESSFUL_REASONS: ReadonlySet<string> = new Set<LocalReplyReason | ''>(['', 'route-redirect']);

interface Totals {
  direction: 'inbound' | 'outbound';
  source: string;
  destination: string;
  requests: number;
  successes: number;
  latency: number[];
}

interface RequestSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}
interface DurationSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: { readonly counts: readonly number[]; readonly count: number };
}

/**
 * Totals per edge since the sidecar started, from registry dumps (the main thread's and each
 * worker's). `self` is this sidecar's service as `NAME.NAMESPACE`: the outbound side labels its
 * source by name only. A request counts as a success when its status is below 500 and it was not a
 * local failure reply (any x-weft-reason but route-redirect).
 */
export function edgeTotals(dumps: readonly RegistryDump[], self: string): Map<string, Totals> {
  const out = new Map<string, Totals>();
  const edge = (labels: Readonly<Record<string, string>>): Totals | undefined => {
    const direction = labels.direction;
    if (direction !== 'inbound' && direction !== 'outbound') return undefined;
    const source = direction === 'outbound' ? self : labels.source || 'unknown';
    const destination = labels.destination_service;
    if (!destination) return undefined;
    const key = `${direction} ${source} ${destination}`;
    let t = out.get(key);
    if (t === undefined) out.set(key, (t = { direction, source, destination, requests: 0, successes: 0, latency: new Array<number>(STATS_BUCKETS).fill(0) }));
    return t;
  };
  for (const dump of dumps) {
    for (const s of (dump[REQUESTS] ?? []) as readonly RequestSeries[]) {
      const t = edge(s.labels);
      if (t === undefined) continue;
      t.requests += s.value;
      if (Number(s.labels.code) < 500 && SUCCESSFUL_REASONS.has(s.labels.reason ?? '')) t.successes += s.value;
    }
    for (const s of (dump[DURATION] ?? []) as readonly DurationSeries[]) {
      const t = edge(s.labels);
      if (t === undefined) continue;
      let finite = 0;
      for (let i = 0; i < STATS_LATENCY_BOUNDS_MS.length; i++) {
        const n = s.value.counts[i] ?? 0;
        t.latency[i] += n;
        finite += n;
      }
      t.latency[STATS_BUCKETS - 1] += s.value.count - finite;
    }
  }
  return out;
}

/** A report ready to send; `commit()` once it went up the stream, so that a lost one is resent as part of the next. */
export interface PendingReport {
  readonly report: StatsReport;
  commit(): void;
}

/**
 * Turns running totals into per-interval reports. An edge whose totals went down (a worker thread
 * restarted) starts again from its new totals. Returns undefined when nothing changed.
 */
export class StatsReporter {
  #sent = new Map<string, Totals>();
  #sentAt: number;
  readonly #self: string;

  /** `self`: this sidecar's service as NAME.NAMESPACE; `now`: when counting began (ms). */
  constructor(self: string, now: number) {
    this.#self = self;
    this.#sentAt = now;
  }

  next(dumps: readonly RegistryDump[], now: number): PendingReport | undefined {
    const totals = edgeTotals(dumps, this.#self);
    const edges: EdgeStats[] = [];
    for (const [key, t] of totals) {
      const before = this.#sent.get(key);
      let requests = t.requests - (before?.requests ?? 0);
      let successes = t.successes - (before?.successes ?? 0);
      let latency = t.latency.map((n, i) => n - (before?.latency[i] ?? 0));
      if (requests < 0 || successes < 0 || latency.some((n) => n < 0)) ({ requests, successes, latency } = t);
      if (requests === 0) continue;
      // Counters and histograms move together (one record() call); a dump taken between the two is off by one at most.
      const inHistogram = latency.reduce((a, b) => a + b, 0);
      if (inHistogram !== requests) latency[STATS_BUCKETS - 1] = Math.max(0, latency[STATS_BUCKETS - 1] + requests - inHistogram);
      if (latency.reduce((a, b) => a + b, 0) !== requests || successes > requests) continue;
      edges.push({ direction: t.direction, source: t.source, destination: t.destination, requests, successes, latency });
    }
    if (edges.length === 0) return undefined;
    return {
      report: { intervalMs: Math.max(1, Math.round(now - this.#sentAt)), edges },
      commit: () => {
        this.#sent = totals;
        this.#sentAt = now;
      },
    };
  }
}

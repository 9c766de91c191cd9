// Golden signals up the stream (ARCHITECTURE.md §1): the `stats` message a sidecar sends every few
// seconds — per edge (direction, source → destination) the requests, successes and a latency
// histogram over fixed buckets since its last report — and its validation on the control side.

import type { ValidationResult } from './resource.ts';
import { Checker, join } from './validate.ts';

/**
 * Upper bounds (ms, inclusive) of the latency buckets every report uses, the same as the sidecar's
 * `weft_proxy_request_duration_seconds` histogram (lib/metrics.ts latencyBuckets, in seconds); a
 * last, unbounded bucket follows. Fixed, so histograms from every sidecar merge by adding counts.
 */
export const STATS_LATENCY_BOUNDS_MS: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
/** Bucket counts per histogram: one per bound, plus the +Inf bucket. */
export const STATS_BUCKETS = STATS_LATENCY_BOUNDS_MS.length + 1;
/** How often a sidecar reports by default (ms). */
export const DEFAULT_STATS_INTERVAL_MS = 5_000;
/** Edges one report may carry: bounded by the mesh's services; a report beyond this is refused. */
export const MAX_STATS_EDGES = 2_000;

/** One edge's counts over one reporting interval (deltas, not totals). */
export interface EdgeStats {
  /** `inbound`: seen by the destination's sidecar (server side); `outbound`: by the source's (client side). */
  readonly direction: 'inbound' | 'outbound';
  /** Calling service, `NAME.NAMESPACE` (or `unknown` on the inbound side when the caller is not in the mesh). */
  readonly source: string;
  /** Called service, `NAME.NAMESPACE` (or `passthrough`: a destination outside the mesh). */
  readonly destination: string;
  readonly requests: number;
  /** Requests answered below 500 and not by a local failure reply of the mesh (x-weft-reason). */
  readonly successes: number;
  /** Request counts per latency bucket (not cumulative), STATS_BUCKETS long: STATS_LATENCY_BOUNDS_MS then +Inf. */
  readonly latency: readonly number[];
}

/** Proxy → control plane `stats` message body. */
export interface StatsReport {
  /** The interval these counts cover (ms): the time since the previous report. */
  readonly intervalMs: number;
  readonly edges: readonly EdgeStats[];
}

// The labels the sidecar's request metrics use: `unknown` (a caller outside the mesh), `passthrough` (a destination outside it).
const SERVICE = /^(unknown|passthrough|[a-z0-9-]{1,63}\.[a-z0-9-]{1,63})$/;
const SERVICE_HINT = 'NAME.NAMESPACE (or unknown, passthrough)';
/** Larger counts than a sidecar can serve in an interval are a bug or a lie, not traffic. */
const MAX_COUNT = 1e12;

/**
 * Checks a `stats` message from a proxy: every field with its path (`edges[3].latency[2]`). Counts are
 * whole numbers ≥ 0, successes ≤ requests, and the histogram has STATS_BUCKETS counts summing to
 * requests. Errors name the field; a bad report is dropped whole by the caller.
 */
export function validateStatsReport(raw: unknown): ValidationResult<StatsReport> {
  const c = new Checker();
  const o = c.object(raw, 'stats');
  if (!o) return { ok: false, errors: c.errors };
  const intervalMs = c.integer(o.intervalMs, 'intervalMs', { required: true, min: 1, max: 3_600_000 });
  const edges: EdgeStats[] = [];
  (c.array(o.edges, 'edges', { required: true, max: MAX_STATS_EDGES }) ?? []).forEach((e, i) => {
    const p = join('edges', i);
    const x = c.object(e, p);
    if (!x) return;
    const direction = c.oneOf(x.direction, join(p, 'direction'), ['inbound', 'outbound'] as const, { required: true });
    const source = c.string(x.source, join(p, 'source'), { required: true, pattern: SERVICE, patternHint: SERVICE_HINT });
    const destination = c.string(x.destination, join(p, 'destination'), { required: true, pattern: SERVICE, patternHint: SERVICE_HINT });
    const requests = c.integer(x.requests, join(p, 'requests'), { required: true, min: 0, max: MAX_COUNT });
    const successes = c.integer(x.successes, join(p, 'successes'), { required: true, min: 0, max: MAX_COUNT });
    if (requests !== undefined && successes !== undefined && successes > requests) c.fail(join(p, 'successes'), `must not exceed requests (${requests})`);
    const latency: number[] = [];
    const list = c.array(x.latency, join(p, 'latency'), { required: true, min: STATS_BUCKETS, max: STATS_BUCKETS });
    list?.forEach((n, j) => {
      const v = c.integer(n, join(join(p, 'latency'), j), { required: true, min: 0, max: MAX_COUNT });
      if (v !== undefined) latency.push(v);
    });
    if (list && latency.length === STATS_BUCKETS && requests !== undefined && latency.reduce((a, b) => a + b, 0) !== requests) {
      c.fail(join(p, 'latency'), `bucket counts must add up to requests (${requests})`);
    }
    if (direction && source && destination && requests !== undefined && successes !== undefined) edges.push({ direction, source, destination, requests, successes, latency });
  });
  if (c.errors.length || intervalMs === undefined) return { ok: false, errors: c.errors };
  return { ok: true, value: { intervalMs, edges } };
}

/** Latency percentiles (ms) from merged histograms; null when nothing was measured. */
export interface LatencyPercentiles {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/** Golden signals of one service over the window, from its own sidecars (inbound, server side). */
export interface ServiceStats {
  /** `NAME.NAMESPACE`. */
  readonly service: string;
  readonly requests: number;
  readonly successes: number;
  /** Requests per second over the window (or over the control plane's uptime while that is shorter). */
  readonly rps: number;
  /** successes / requests, 0..1; null with no requests. */
  readonly successRate: number | null;
  readonly latencyMs: LatencyPercentiles;
  /** Sidecars of the service that reported within the window. */
  readonly proxies: number;
}

/** Golden signals of one source → destination edge over the window, from the callers' sidecars (outbound, client side). */
export interface EdgeSummary {
  readonly source: string;
  readonly destination: string;
  readonly requests: number;
  readonly successes: number;
  readonly rps: number;
  readonly successRate: number | null;
  readonly latencyMs: LatencyPercentiles;
}

/** GET /v1/stats (docs/api.md): services busiest first, then edges busiest first. */
export interface StatsSummary {
  readonly windowSeconds: number;
  /** When the summary was made (ms since the epoch). */
  readonly generatedAt: number;
  readonly services: readonly ServiceStats[];
  readonly edges: readonly EdgeSummary[];
}

// What the inbound and outbound handlers count for each request (weft_proxy_requests_total and the
// duration histogram), with every label set's series looked up once and kept: the labels are
// bounded (services of the mesh, status codes, local-reply reasons), so is this cache. The stats
// reporter (proxy/observe/stats-reporter.ts) reads the same series: nothing more per request.

import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import type { LocalReplyReason } from './local-reply.ts';

type Count = { inc(by?: number): void };
type Observe = { observe(value: number): void };

export interface RequestRecorder {
  /** One finished request; `seconds` from its head to its response's end. */
  record(source: string, destination: string, status: number, reason: LocalReplyReason | undefined, seconds: number): void;
}

interface EdgeSeries {
  /** status (or `status reason` for local replies) → series */
  readonly outcomes: Map<number | string, Count>;
  readonly duration: Observe;
}

export function createRequestRecorder(metrics: ProxyMetrics, direction: 'inbound' | 'outbound'): RequestRecorder {
  // source → destination → series
  const edges = new Map<string, Map<string, EdgeSeries>>();
  const deadlineExceeded = metrics.deadlineExceeded.bind({ direction });
  return {
    record(source, destination, status, reason, seconds) {
      if (reason === 'deadline-exceeded') deadlineExceeded.inc();
      let bySource = edges.get(source);
      if (bySource === undefined) edges.set(source, (bySource = new Map()));
      let edge = bySource.get(destination);
      if (edge === undefined) {
        edge = { outcomes: new Map(), duration: metrics.duration.bind({ direction, source, destination_service: destination }) };
        bySource.set(destination, edge);
      }
      const key = reason === undefined ? status : `${status} ${reason}`;
      let count = edge.outcomes.get(key);
      if (count === undefined) {
        count = metrics.requests.bind({ direction, source, destination_service: destination, code: String(status), reason: reason ?? '' });
        edge.outcomes.set(key, count);
      }
      count.inc();
      edge.duration.observe(seconds);
    },
  };
}

// What the inbound and outbound handlers count for each request (weft_proxy_requests_total and the
// duration histogram), with every label set's series looked up once and kept: the labels are
// bounded (services of the mesh, status codes, local-reply reasons), so is this cache.

import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import type { LocalReplyReason } from './local-reply.ts';

type Count = { inc(by?: number): void };
type Observe = { observe(value: number): void };

export interface RequestRecorder {
  /** One finished request; `seconds` from its head to its response's end. */
  record(source: string, destination: string, status: number, reason: LocalReplyReason | undefined, seconds: number): void;
}

export function createRequestRecorder(metrics: ProxyMetrics, direction: 'inbound' | 'outbound'): RequestRecorder {
  // source → destination → status (or `status reason` for local replies) → series
  const counts = new Map<string, Map<string, Map<number | string, Count>>>();
  const durations = new Map<string, Observe>();
  const deadlineExceeded = metrics.deadlineExceeded.bind({ direction });
  return {
    record(source, destination, status, reason, seconds) {
      if (reason === 'deadline-exceeded') deadlineExceeded.inc();
      let bySource = counts.get(source);
      if (bySource === undefined) counts.set(source, (bySource = new Map()));
      let byOutcome = bySource.get(destination);
      if (byOutcome === undefined) bySource.set(destination, (byOutcome = new Map()));
      const key = reason === undefined ? status : `${status} ${reason}`;
      let count = byOutcome.get(key);
      if (count === undefined) {
        count = metrics.requests.bind({ direction, source, destination_service: destination, code: String(status), reason: reason ?? '' });
        byOutcome.set(key, count);
      }
      count.inc();
      let duration = durations.get(destination);
      if (duration === undefined) {
        duration = metrics.duration.bind({ direction, destination_service: destination });
        durations.set(destination, duration);
      }
      duration.observe(seconds);
    },
  };
}

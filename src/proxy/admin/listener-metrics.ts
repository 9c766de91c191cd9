// What a listener counts on its own, apart from the requests its handler forwards: connections
// opened and closed, and requests it refused before any handler saw them (malformed, too large, too
// slow, or plaintext where only mutual TLS is accepted), so every answer shows in requests_total.

import type { LocalReplyReason } from '../http/local-reply.ts';
import type { ListenerHandlers } from '../transport/listener.ts';
import type { ProxyMetrics } from './proxy-metrics.ts';

export function listenerMetricHandlers(metrics: ProxyMetrics, listener: 'inbound' | 'outbound'): Pick<ListenerHandlers, 'connectionOpened' | 'connectionClosed' | 'requestRefused'> {
  const labels = { listener };
  const acceptedLabels = { listener, worker: metrics.worker };
  return {
    connectionOpened: () => {
      metrics.connections.inc(labels);
      metrics.accepted.inc(acceptedLabels);
    },
    connectionClosed: () => metrics.connections.dec(labels),
    // Nothing is known of such a request's source or destination; the reason says what was wrong.
    requestRefused: (status: number, reason: LocalReplyReason) =>
      metrics.requests.inc({ direction: listener, source: 'unknown', destination_service: 'unknown', code: String(status), reason }),
  };
}

// The proxy's Prometheus metrics: requests by direction, source, destination and status code, a
// latency histogram, retries, open connections and config updates. Label sets stay bounded.

import { Registry } from '../../lib/metrics.ts';

export function createProxyMetrics() {
  const registry = new Registry();
  return {
    registry,
    requests: registry.counter('weft_proxy_requests_total', 'Requests handled, by direction (inbound|outbound), source service, destination service and status code.', ['direction', 'source', 'destination_service', 'code', 'reason']),
    duration: registry.histogram('weft_proxy_request_duration_seconds', 'Time from request received to response complete.', ['direction', 'destination_service']),
    retries: registry.counter('weft_proxy_upstream_retries_total', 'Extra attempts made, by destination service and why.', ['destination_service', 'reason']),
    connections: registry.gauge('weft_proxy_active_connections', 'Open client connections per listener.', ['listener']),
    configUpdates: registry.counter('weft_proxy_config_updates_total', 'Snapshots received, by result (ack|nack).', ['result']),
    controlConnected: registry.gauge('weft_proxy_control_plane_connected', '1 while the config stream is up.'),
  };
}

export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;

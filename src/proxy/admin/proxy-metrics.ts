// The proxy's Prometheus metrics: requests by direction, source, destination and status code, a
// latency histogram, retries, open and accepted connections (per worker thread) and config updates.
// Label sets stay bounded.

import { Registry } from '../../lib/metrics.ts';

/** `worker`: which data plane (0 = main thread) these metrics belong to; see acceptedConnections. */
export function createProxyMetrics(worker = 0) {
  const registry = new Registry();
  return {
    registry,
    worker: String(worker),
    requests: registry.counter('weft_proxy_requests_total', 'Requests handled, by direction (inbound|outbound), source service, destination service and status code.', ['direction', 'source', 'destination_service', 'code', 'reason']),
    duration: registry.histogram('weft_proxy_request_duration_seconds', 'Time from request received to response complete.', ['direction', 'destination_service']),
    routeRequests: registry.counter('weft_proxy_route_requests_total', 'Outbound requests an HTTPRoute or GRPCRoute governed, by route (namespace/name), rule (its name or index), destination service and status code; bounded by the routes applied.', ['route', 'rule', 'destination_service', 'code', 'reason']),
    tcpConnections: registry.counter('weft_proxy_tcp_connections_total', 'TCP connections carried through the mesh (--tcp-upstream listeners, weft-tcp inbound), by direction (inbound|outbound), destination service, security (mtls|plaintext|none) and result (established, or why it was refused: no-service, no-backend, no-endpoints, no-certificate, connect-failed, authz-denied, app-unreachable, not-tcp).', ['direction', 'destination_service', 'security', 'result']),
    tcpBytes: registry.counter('weft_proxy_tcp_bytes_total', 'Bytes carried on TCP connections through the mesh, by direction (inbound|outbound), destination service and flow (sent: client to server; received: server to client).', ['direction', 'destination_service', 'flow']),
    retries: registry.counter('weft_proxy_upstream_retries_total', 'Extra attempts made, by destination service and why.', ['destination_service', 'reason']),
    connections: registry.gauge('weft_proxy_active_connections', 'Open client connections per listener.', ['listener']),
    accepted: registry.counter('weft_proxy_accepted_connections_total', 'Client connections accepted, by listener and worker thread (0 = main): shows how the kernel spreads them.', ['listener', 'worker']),
    inboundSecurity: registry.counter('weft_proxy_inbound_connections_total', 'Inbound connections by security: mtls, plaintext, refused-plaintext (mtls.mode STRICT) or handshake-failed.', ['security']),
    certificateExpiry: registry.gauge('weft_proxy_certificate_expiry_timestamp_seconds', 'When this sidecar\'s certificate expires (Unix time); renewed at half its life.'),
    authzAudits: registry.counter('weft_proxy_authz_audit_total', 'Inbound requests an AUDIT AuthorizationPolicy matched, by policy and the decision the other policies made (allowed|denied).', ['policy', 'decision']),
    configUpdates: registry.counter('weft_proxy_config_updates_total', 'Snapshots received, by result (ack|nack).', ['result']),
    controlConnected: registry.gauge('weft_proxy_control_plane_connected', '1 while the config stream is up.'),
    // Load balancing (issue 13): computed at scrape time from the balancers (balancer-metrics.ts).
    peakEwmaScore: registry.gauge('weft_balancer_peak_ewma_score', 'peak-ewma: each endpoint\'s score now, latency estimate in ms × (requests in flight + 1) / weight (lower is picked first), by destination service (name.namespace:port) and endpoint id; only services balanced by peak-ewma, only their current endpoints.', ['destination_service', 'endpoint']),
  };
}

export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;

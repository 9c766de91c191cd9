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
    duration: registry.histogram('weft_proxy_request_duration_seconds', 'Time from request received to response complete, by direction (inbound|outbound), source service and destination service.', ['direction', 'source', 'destination_service']),
    routeRequests: registry.counter('weft_proxy_route_requests_total', 'Outbound requests an HTTPRoute or GRPCRoute governed, by route (namespace/name), rule (its name or index), destination service and status code; bounded by the routes applied.', ['route', 'rule', 'destination_service', 'code', 'reason']),
    faults: registry.counter('weft_proxy_fault_injections_total', 'Faults a FaultInjection filter injected into outbound requests, by route (namespace/name) and kind (delay|abort); Envoy: fault.delays_injected, fault.aborts_injected.', ['route', 'kind']),
    tcpConnections: registry.counter('weft_proxy_tcp_connections_total', 'TCP connections carried through the mesh (--tcp-upstream listeners, weft-tcp inbound), by direction (inbound|outbound), destination service, security (mtls|plaintext|none) and result (established, or why it was refused: no-service, no-backend, no-endpoints, no-certificate, connect-failed, authz-denied, app-unreachable, not-tcp).', ['direction', 'destination_service', 'security', 'result']),
    tcpBytes: registry.counter('weft_proxy_tcp_bytes_total', 'Bytes carried on TCP connections through the mesh, by direction (inbound|outbound), destination service and flow (sent: client to server; received: server to client).', ['direction', 'destination_service', 'flow']),
    retries: registry.counter('weft_proxy_upstream_retries_total', 'Extra attempts made, by destination service and why.', ['destination_service', 'reason']),
    // Retry budgets (src/proxy/resilience/retry/budget.ts).
    retryBudgetExhausted: registry.counter('weft_proxy_retry_budget_exhausted_total', 'Requests whose failure was returned without the retry the policy allowed, because the destination service\'s retry budget was spent.', ['destination_service']),
    // Outlier detection (src/proxy/balance/outlier/): per client proxy, summed over worker threads.
    outlierEjections: registry.counter('weft_proxy_outlier_ejections_total', 'Endpoints ejected by outlier detection, by destination service and reason (consecutive-5xx, consecutive-gateway-errors, success-rate, connect-failure).', ['destination_service', 'reason']),
    outlierEjectionsActive: registry.gauge('weft_proxy_outlier_ejections_active', 'Endpoints ejected by outlier detection right now, by destination service (summed over worker threads, each of which balances on its own).', ['destination_service']),
    connections: registry.gauge('weft_proxy_active_connections', 'Open client connections per listener.', ['listener']),
    accepted: registry.counter('weft_proxy_accepted_connections_total', 'Client connections accepted, by listener and worker thread (0 = main): shows how the kernel spreads them.', ['listener', 'worker']),
    inboundSecurity: registry.counter('weft_proxy_inbound_connections_total', 'Inbound connections by security: mtls, plaintext, refused-plaintext (mtls.mode STRICT) or handshake-failed.', ['security']),
    tlsHandshakes: registry.counter('weft_proxy_tls_handshakes_total', 'Mutual-TLS handshakes completed, by side (client: this sidecar dialled an endpoint, over HTTP/1.1 or for a TCP upstream; server: a caller dialled this sidecar) and resumed (true: a TLS 1.3 session resumption, no certificate exchange; false: a full handshake).', ['side', 'resumed']),
    preconnections: registry.counter('weft_proxy_preconnect_connections_total', 'Pooled connections opened ahead of requests when a snapshot was applied (pre-connect), by result: opened, or failed (per endpoint whose first connection failed).', ['result']),
    certificateExpiry: registry.gauge('weft_proxy_certificate_expiry_timestamp_seconds', 'When this sidecar\'s certificate expires (Unix time); renewed at half its life.'),
    authzAudits: registry.counter('weft_proxy_authz_audit_total', 'Inbound requests an AUDIT AuthorizationPolicy matched, by policy and the decision the other policies made (allowed|denied).', ['policy', 'decision']),
    // Adaptive concurrency (inbound, BackendPolicy adaptiveConcurrency); `service`: this sidecar's own.
    // Each worker thread runs its own controller: the limits add up to the sidecar's; minRTTs do not, hence `worker`.
    adaptiveConcurrencyLimit: registry.gauge('weft_proxy_adaptive_concurrency_limit', 'The adaptive concurrency limit in force on the inbound side: requests let through to the app at once (gradient controller; summed over worker threads).', ['service']),
    adaptiveConcurrencyMinRtt: registry.gauge('weft_proxy_adaptive_concurrency_min_rtt_seconds', 'The app\'s latency at low concurrency (minRTT) the adaptive concurrency limit compares with, per worker thread (0 = main); 0 before the first measurement.', ['service', 'worker']),
    adaptiveConcurrencyRejected: registry.counter('weft_proxy_adaptive_concurrency_rejected_total', 'Inbound requests shed with 503 concurrency-limit-exceeded because the adaptive concurrency limit was reached.', ['service']),
    // RateLimitPolicy (src/proxy/filters/rate-limit/): policies are bounded by the resources applied.
    rateLimited: registry.counter('weft_proxy_rate_limited_total', 'Requests a RateLimitPolicy refused, by policy (namespace/name), direction (inbound|outbound) and scope (local|global).', ['policy', 'direction', 'scope']),
    rateLimitRedisErrors: registry.counter('weft_proxy_rate_limit_redis_errors_total', 'Global rate-limit checks Redis did not answer (down, or slower than 200 ms), by policy; failureMode then decides.', ['policy']),
    rateLimitCheck: registry.histogram('weft_proxy_rate_limit_check_duration_seconds', 'Round trip of a global rate-limit check to Redis.', []),
    configUpdates: registry.counter('weft_proxy_config_updates_total', 'Snapshots received, by result (ack|nack).', ['result']),
    // Locality-aware balancing (balance/locality/): which priority level the picks went to.
    localityRequests: registry.counter('weft_proxy_locality_requests_total', 'Outbound attempts by destination service and the locality priority level of the endpoint picked (0 = the client\'s own zone, or the first level of loadBalancer.locality.failoverPriority; at most 8). Counted only where locality applies (the client sidecar has a locality).', ['destination_service', 'level']),
    controlConnected: registry.gauge('weft_proxy_control_plane_connected', '1 while the config stream is up.'),
    // Active health checks this sidecar runs on its own app (discovery/health-check/).
    healthChecks: registry.counter('weft_proxy_health_checks_total', 'Health check probes of the local app, by result (success, failure: an unhealthy answer, network_failure, timeout).', ['result']),
    appHealthState: registry.gauge('weft_proxy_app_health_state', 'The local app\'s health as this sidecar\'s checks see it: 1 on the current state (pending, passing, critical), 0 on the others.', ['state']),
    // Overload protection: circuit breaking and deadlines (docs/concepts/overload.md).
    circuitRejections: registry.counter('weft_proxy_circuit_breaker_rejections_total', 'Outbound requests or retries a BackendPolicy circuitBreaker limit refused, by destination service and limit (max-connections, max-pending-requests, max-requests, max-retries).', ['destination_service', 'limit']),
    deadlineExceeded: registry.counter('weft_proxy_deadline_exceeded_total', 'Requests answered deadline-exceeded (their x-weft-deadline or grpc-timeout passed), by direction (inbound|outbound).', ['direction']),
    // Load balancing (issue 13): computed at scrape time from the balancers (balancer-metrics.ts).
    // Live taps (admin GET /tap, `weft tap`): kept on the main thread, which serves them.
    tapsActive: registry.gauge('weft_proxy_taps_active', 'Taps open on this sidecar\'s admin listener now (GET /tap; at most 8).'),
    tapEvents: registry.counter('weft_proxy_tap_events_total', 'Requests shown to taps, by result: sent, or dropped (over the tap\'s maxRps, or the reader was too slow).', ['result']),
    peakEwmaScore: registry.gauge('weft_proxy_peak_ewma_score', 'peak-ewma: each endpoint\'s score now, latency estimate in ms × (requests in flight + 1) / weight (lower is picked first), by destination service (name.namespace:port) and endpoint id; only services balanced by peak-ewma, only their current endpoints.', ['destination_service', 'endpoint']),
  };
}

export type ProxyMetrics = ReturnType<typeof createProxyMetrics>;

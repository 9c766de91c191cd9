// The mesh's vocabulary, part 2: service instances as the catalog keeps them and as the API and
// CLI show them. Registered by sidecars (or by hand) through the control plane's API.

export type HealthStatus = 'passing' | 'warning' | 'critical';

/** Who runs a check: the control plane probes the instance, or the instance's own sidecar probes its app and reports up its stream. */
export type HealthCheckRunner = 'control-plane' | 'sidecar';

/** An HTTP status range, Envoy's `expected_statuses` entry: `start` inclusive, `end` exclusive. */
export interface StatusRange {
  readonly start: number;
  readonly end: number;
}

/**
 * One active health check (validated in health-check.ts). Names follow Envoy's HealthCheck where it
 * has one: interval, timeout, healthy/unhealthy thresholds, interval jitter, expected statuses.
 */
export interface HealthCheckSpec {
  /** `http`: GET `path` answers a status in `expectedStatuses`; `tcp`: a connection opens; `grpc`: grpc.health.v1.Health/Check answers SERVING. */
  readonly type: 'http' | 'tcp' | 'grpc';
  /** Host to check; defaults to the instance address (the app's host when `checkedBy: sidecar`). */
  readonly host?: string;
  /** Port to check; defaults to the instance's first port. */
  readonly port?: number;
  /** http only: the path to GET (default `/`). */
  readonly path?: string;
  /** http only: the Host header sent (Envoy `http_health_check.host`); default the target host:port. */
  readonly hostHeader?: string;
  /** http only: statuses that count as healthy (default 200–399, i.e. `[{start: 200, end: 400}]`). */
  readonly expectedStatuses?: readonly StatusRange[];
  /** grpc only: the `service` of the HealthCheckRequest (Envoy `grpc_health_check.service_name`); `''` = the whole server. */
  readonly serviceName?: string;
  /** Time between the end of one probe and the start of the next, in ms. */
  readonly intervalMs: number;
  /** A probe slower than this fails, in ms. */
  readonly timeoutMs: number;
  /** Extra random wait of 0..intervalJitterMs added to each interval (Envoy `interval_jitter`). */
  readonly intervalJitterMs?: number;
  /** Extra random wait of 0..intervalMs × percent / 100 added to each interval (Envoy `interval_jitter_percent`). */
  readonly intervalJitterPercent?: number;
  /** Consecutive failures before critical, successes before passing again. */
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  /** Who runs it (default `control-plane`). */
  readonly checkedBy?: HealthCheckRunner;
  /** Legacy input form of intervalMs/timeoutMs (whole seconds); kept on stored checks from before. */
  readonly intervalSeconds?: number;
  readonly timeoutSeconds?: number;
}

/** The latest result of one check, as the catalog keeps and shows it (`checkResults[i]` for `checks[i]`). */
export interface CheckResult {
  readonly status: HealthStatus;
  /** Why: `pending`, `passing`, or what the probe saw (`http check /healthz answered 503`). */
  readonly output: string;
  readonly checkedBy: HealthCheckRunner;
  /** When the status last changed (ms since the epoch). */
  readonly since: number;
}

export interface InstancePort {
  /** The service port this instance serves (e.g. 80). */
  readonly port: number;
  /** Where the instance listens for it (the sidecar's inbound port when meshed). */
  readonly targetPort: number;
  readonly name?: string;
  readonly protocol?: ServiceProtocol;
}

export type ServiceProtocol = 'http' | 'http2' | 'grpc' | 'tcp';

export interface InstanceRegistration {
  readonly service: string;
  readonly namespace: string;
  readonly id: string;
  readonly address: string;
  readonly ports: readonly InstancePort[];
  readonly labels: Readonly<Record<string, string>>;
  readonly weight: number;
  /** Heartbeat TTL; 0 means no TTL (health from checks only). */
  readonly ttlSeconds: number;
  /** How long a critical instance is kept before it is removed. */
  readonly deregisterAfterSeconds: number;
  readonly checks: readonly HealthCheckSpec[];
  /**
   * The SPIFFE ID this instance's sidecar proves in mutual TLS (its certificate's URI SAN); absent
   * for instances without a sidecar, which are called in plaintext.
   */
  readonly identity?: string;
  /**
   * Who owns the instance when it was not registered through the API: `kubernetes` (an endpoint of
   * an EndpointSlice, see src/control/sources/kubernetes/). Such an instance has no TTL and no
   * checks; its health is what the source says, and only the source removes it.
   */
  readonly source?: InstanceSource;
}

/** An external catalog an instance is mirrored from. */
export type InstanceSource = 'kubernetes';

export interface InstanceState extends InstanceRegistration {
  readonly health: HealthStatus;
  /** Why the instance is in its current health state (e.g. `ttl expired 3.2s ago`). */
  readonly healthReason: string;
  readonly registeredAt: number;
  readonly lastHeartbeat: number;
  /** When health last changed; removal of critical instances counts from here. */
  readonly healthSince: number;
  /** Each check's latest result, index for index with `checks` (absent on instances stored before it existed). */
  readonly checkResults?: readonly CheckResult[];
  /**
   * Health an outside source reported for the instance (the Consul agent API's TTL checks: pass,
   * warn, fail), folded into `health` like a check's result; absent for instances nobody reports for.
   */
  readonly reported?: ReportedHealth;
}

/** A health status set from outside the catalog, with the reason shown as `healthReason`. */
export interface ReportedHealth {
  readonly status: HealthStatus;
  readonly reason: string;
}

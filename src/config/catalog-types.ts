// The mesh's vocabulary, part 2: service instances as the catalog keeps them and as the API and
// CLI show them. Registered by sidecars (or by hand) through the control plane's API.

export type HealthStatus = 'passing' | 'warning' | 'critical';

export interface HealthCheckSpec {
  /** `http`: GET `path` expects 2xx/3xx; `tcp`: a connection opens. */
  readonly type: 'http' | 'tcp';
  /** Host to check; defaults to the instance address. */
  readonly host?: string;
  /** Port to check; defaults to the instance's first port. */
  readonly port?: number;
  readonly path?: string;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  /** Consecutive failures before critical, successes before passing again. */
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
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
}

export interface InstanceState extends InstanceRegistration {
  readonly health: HealthStatus;
  /** Why the instance is in its current health state (e.g. `ttl expired 3.2s ago`). */
  readonly healthReason: string;
  readonly registeredAt: number;
  readonly lastHeartbeat: number;
  /** When health last changed; removal of critical instances counts from here. */
  readonly healthSince: number;
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

/** An active check's current result, as the catalog last evaluated it. */
export interface CheckStatus {
  readonly status: HealthStatus;
  readonly reason: string;
}

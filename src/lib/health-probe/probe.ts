// One active health probe of an app, by type (http-probe.ts, tcp-probe.ts, grpc-probe.ts): what both
// the sidecar's checker (proxy/discovery/health-check/) and the control plane's catalog run.

import type { HealthCheckSpec } from '../../config/catalog-types.ts';
import { createHttpProbe } from './http-probe.ts';
import { createTcpProbe } from './tcp-probe.ts';
import { createGrpcProbe } from './grpc-probe.ts';

/**
 * How a probe ended, Envoy's health check stat words: `success`; `failure` (the app answered, but
 * not healthy: a status outside expectedStatuses, NOT_SERVING); `network_failure` (no connection,
 * reset, a protocol error); `timeout` (no answer within timeoutMs).
 */
export type ProbeOutcome = 'success' | 'failure' | 'network_failure' | 'timeout';

export interface ProbeResult {
  readonly ok: boolean;
  readonly outcome: ProbeOutcome;
  /** What was seen, for the check's output and the instance's healthReason; `passing` when ok. */
  readonly reason: string;
}

/** A probe bound to one check and target; may hold a connection between runs, released by close(). */
export interface Probe {
  run(): Promise<ProbeResult>;
  close(): void;
}

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  /** Sent as User-Agent (http) or user-agent metadata (grpc), so an app can tell who checks it. */
  readonly userAgent: string;
}

export const PASSING: ProbeResult = { ok: true, outcome: 'success', reason: 'passing' };

/** The probe for a check's type; timeouts come from `check.timeoutMs`. */
export function createProbe(check: HealthCheckSpec, target: ProbeTarget): Probe {
  if (check.type === 'http') return createHttpProbe(check, target);
  if (check.type === 'grpc') return createGrpcProbe(check, target);
  return createTcpProbe(check, target);
}

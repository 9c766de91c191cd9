// Outlier detection, per attempt: sorts one PickOutcome into Envoy's classes (5xx, gateway error,
// connect failure, success) and moves an endpoint's consecutive counters. Runs in `done`, so it
// allocates nothing and returns the rule that tripped, if any, for the slow path to act on.

import type { OutlierDetection } from '../../../config/kinds/backend-policy-outlier.ts';
import type { PickOutcome } from '../picker.ts';

/** Why an endpoint was ejected; the `reason` label of weft_proxy_outlier_ejections_total. */
export type EjectionReason = 'consecutive-5xx' | 'consecutive-gateway-errors' | 'success-rate' | 'connect-failure';
export const EJECTION_REASONS: readonly EjectionReason[] = ['consecutive-5xx', 'consecutive-gateway-errors', 'success-rate', 'connect-failure'];

/** The per-endpoint counts outlier detection keeps (EndpointState carries them). */
export interface OutlierCounters {
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
  consecutiveConnectFailures: number;
  /** Outcomes counted in the current interval, for success-rate detection. */
  intervalRequests: number;
  /** Of those, the ones that were not a 5xx or gateway error. */
  intervalSuccesses: number;
}

/**
 * Counts one outcome (never a cancelled one: the caller drops those) and returns the rule it trips.
 * As in Envoy (DetectorHostMonitorImpl::putHttpResponseCode, with local-origin errors not split
 * out): a connect failure, reset or timeout is a gateway error and a 5xx; 502, 503 and 504 are
 * gateway errors and 5xx; other 5xx only 5xx, and they end a run of gateway errors; any other
 * answer (429 included: it is load, not failure), and an ok outcome without a status (TCP), ends
 * the runs. A failed outcome with neither a status nor a failure kind (the proxy's own trouble, such
 * as no certificate for a TCP dial) counts for nothing. A rule with a threshold of 0 is off; connect-failure is checked first, then gateway, then 5xx.
 */
export function recordOutcome(s: OutlierCounters, outcome: PickOutcome, rules: OutlierDetection): EjectionReason | undefined {
  const failure = outcome.failure ?? (outcome.connectFailure === true ? 'connect' : undefined);
  const status = outcome.status ?? 0;
  let gateway: boolean;
  if (failure !== undefined) {
    gateway = true;
  } else if (status >= 500 && status <= 599) {
    gateway = status >= 502 && status <= 504;
  } else if (status > 0 || outcome.ok) {
    // An answer below 500, or a success without a status (a TCP connection carried through).
    s.intervalRequests++;
    s.intervalSuccesses++;
    s.consecutive5xx = 0;
    s.consecutiveGatewayErrors = 0;
    s.consecutiveConnectFailures = 0;
    return undefined;
  } else {
    return undefined;
  }
  s.intervalRequests++;
  s.consecutive5xx++;
  if (gateway) s.consecutiveGatewayErrors++;
  else s.consecutiveGatewayErrors = 0;
  if (failure === 'connect') s.consecutiveConnectFailures++;
  else s.consecutiveConnectFailures = 0;
  if (rules.consecutiveConnectFailures > 0 && s.consecutiveConnectFailures >= rules.consecutiveConnectFailures) return 'connect-failure';
  if (rules.consecutiveGatewayErrors > 0 && s.consecutiveGatewayErrors >= rules.consecutiveGatewayErrors) return 'consecutive-gateway-errors';
  if (rules.consecutive5xx > 0 && s.consecutive5xx >= rules.consecutive5xx) return 'consecutive-5xx';
  return undefined;
}

/** Clears the runs after an ejection (Envoy does too), so a readmitted endpoint starts afresh. */
export function resetConsecutive(s: OutlierCounters): void {
  s.consecutive5xx = 0;
  s.consecutiveGatewayErrors = 0;
  s.consecutiveConnectFailures = 0;
}

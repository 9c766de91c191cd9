// Outlier detection, per interval: Envoy's success-rate rule. Of the endpoints that served at least
// requestVolume requests in the interval (and only if there are minimumHosts of them), those whose
// success rate is below mean − stdevFactor × stdev are outliers. Pure math, on the slow path.

import type { SuccessRateOutlier } from '../../../config/kinds/backend-policy-outlier.ts';

export interface IntervalVolume {
  readonly intervalRequests: number;
  readonly intervalSuccesses: number;
}

/**
 * The success rate (0..1) below which an endpoint is an outlier this interval, or undefined when
 * too few endpoints carried enough requests to judge. Population standard deviation, as Envoy's
 * DetectorImpl::successRateEjectionThreshold computes it (Envoy works in percent; the ratio is the same).
 */
export function successRateThreshold(endpoints: readonly IntervalVolume[], rule: SuccessRateOutlier): number | undefined {
  let hosts = 0;
  let sum = 0;
  for (const e of endpoints) {
    if (e.intervalRequests < rule.requestVolume) continue;
    hosts++;
    sum += e.intervalSuccesses / e.intervalRequests;
  }
  if (hosts === 0 || hosts < rule.minimumHosts) return undefined;
  const mean = sum / hosts;
  let squares = 0;
  for (const e of endpoints) {
    if (e.intervalRequests < rule.requestVolume) continue;
    const d = e.intervalSuccesses / e.intervalRequests - mean;
    squares += d * d;
  }
  return mean - rule.stdevFactor * Math.sqrt(squares / hosts);
}

/** Whether one endpoint is an outlier against `threshold` (it must have carried requestVolume). */
export function isSuccessRateOutlier(e: IntervalVolume, threshold: number, rule: SuccessRateOutlier): boolean {
  return e.intervalRequests >= rule.requestVolume && e.intervalSuccesses / e.intervalRequests < threshold;
}

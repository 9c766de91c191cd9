// Slow start, the math: Envoy's slow_start_config ramp of an endpoint's weight, computed on the
// balancer's slow path (a timer), never per pick.

import type { SlowStart } from '../../../config/kinds/backend-policy-outlier.ts';

/**
 * The share of its full weight an endpoint gets `elapsedMs` after it arrived or was readmitted:
 * max(minWeightPercent / 100, (max(elapsedMs, 1) / windowMs) ^ (1 / aggression)), and 1 once the
 * window has passed or when slow start is off (windowMs 0). Envoy: EdfLoadBalancerBase::applySlowStartFactor.
 */
export function slowStartFactor(elapsedMs: number, config: SlowStart): number {
  if (config.windowMs <= 0 || elapsedMs >= config.windowMs) return 1;
  const time = Math.max(1, elapsedMs) / config.windowMs;
  return Math.min(1, Math.max(config.minWeightPercent / 100, Math.pow(time, 1 / config.aggression)));
}

// One active health check a sidecar runs on its own app: probes it every interval (plus jitter),
// applies the healthy/unhealthy thresholds and tells its owner (local-health.ts) of each transition.
// Timing reads an injected Clock and random source so it is tested without sleeping.

import type { HealthCheckSpec } from '../../../config/catalog-types.ts';
import type { Clock, Timer } from '../../../lib/clock.ts';
import type { Probe, ProbeResult } from '../../../lib/health-probe/probe.ts';

/** `pending` until the first probe ends; then `passing` or `critical`. */
export type CheckStatus = 'pending' | 'passing' | 'critical';

export interface CheckState {
  readonly status: CheckStatus;
  /** What the probe saw when the status last changed (or the latest failure while critical). */
  readonly output: string;
  /** Consecutive probes that disagree with `status` (counted toward the threshold). */
  readonly consecutive: number;
}

export const PENDING: CheckState = { status: 'pending', output: 'pending', consecutive: 0 };

/**
 * The next state after one probe. Envoy's rules (HealthCheck healthy_threshold/unhealthy_threshold):
 * a status flips after that many consecutive disagreeing probes; an agreeing probe resets the count.
 * The first probe decides at once, like Envoy's first check of a new host: nothing is known yet, so
 * there is nothing to be steady about.
 */
export function nextState(state: CheckState, result: ProbeResult, check: Pick<HealthCheckSpec, 'healthyThreshold' | 'unhealthyThreshold'>): CheckState {
  const wanted: CheckStatus = result.ok ? 'passing' : 'critical';
  if (state.status === 'pending') return { status: wanted, output: result.reason, consecutive: 0 };
  if (wanted === state.status) return { status: wanted, output: result.ok ? state.output : result.reason, consecutive: 0 };
  const consecutive = state.consecutive + 1;
  if (consecutive >= (result.ok ? check.healthyThreshold : check.unhealthyThreshold)) return { status: wanted, output: result.reason, consecutive: 0 };
  return { ...state, consecutive };
}

/**
 * The wait between the end of one probe and the start of the next, in ms: intervalMs plus a random
 * 0..intervalJitterMs plus a random 0..intervalMs × intervalJitterPercent / 100 (Envoy adds both
 * when both are set), so the checks of many sidecars started together drift apart.
 */
export function nextDelayMs(check: Pick<HealthCheckSpec, 'intervalMs' | 'intervalJitterMs' | 'intervalJitterPercent'>, random: () => number): number {
  let delay = check.intervalMs;
  if (check.intervalJitterMs) delay += random() * check.intervalJitterMs;
  if (check.intervalJitterPercent) delay += random() * ((check.intervalMs * check.intervalJitterPercent) / 100);
  return Math.round(delay);
}

export interface CheckerOptions {
  readonly check: HealthCheckSpec;
  readonly probe: Probe;
  readonly clock: Clock;
  /** Uniform in [0, 1); Math.random by default. */
  readonly random?: () => number;
  /** After every probe (metrics). */
  readonly onProbe?: (result: ProbeResult) => void;
  /** When the status changes (including the first result). */
  readonly onTransition: (state: CheckState) => void;
}

export interface Checker {
  state(): CheckState;
  /** Stops probing and releases the probe's connection; no callback follows. */
  stop(): void;
}

/** Starts probing at once; each next probe is scheduled when the previous one has ended. */
export function startChecker(options: CheckerOptions): Checker {
  const { check, probe, clock } = options;
  const random = options.random ?? Math.random;
  let state = PENDING;
  let stopped = false;
  let timer: Timer | undefined;

  const run = async (): Promise<void> => {
    if (stopped) return;
    let result: ProbeResult;
    try {
      result = await probe.run();
    } catch (err) {
      result = { ok: false, outcome: 'network_failure', reason: `check failed: ${(err as Error).message}` };
    }
    if (stopped) return;
    options.onProbe?.(result);
    const next = nextState(state, result, check);
    const changed = next.status !== state.status;
    state = next;
    if (changed) options.onTransition(state);
    if (!stopped) timer = clock.setTimeout(() => void run(), nextDelayMs(check, random));
  };
  void run();
  return {
    state: () => state,
    stop() {
      stopped = true;
      timer?.cancel();
      probe.close();
    },
  };
}

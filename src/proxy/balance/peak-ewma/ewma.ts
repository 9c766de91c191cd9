// Peak EWMA's memory of one endpoint: a moving average of response latency that jumps to a new
// peak at once and decays otherwise (Finagle's PeakEwma, Linkerd's/tower's RttEstimate). Fed from
// each pick's `done` through EndpointState; read by the peak-ewma picker and the score gauge.

import type { Clock } from '../../../lib/clock.ts';
import type { PickOutcome } from '../picker.ts';

/**
 * What every endpoint of one balancer shares: the clock, and the policy's tuning (replaced in place
 * by each balancer update, so the estimates keep their history across snapshots).
 */
export interface EwmaSettings {
  readonly clock: Clock;
  /** tau, ms: an observation's weight falls to 1/e after this long. */
  decayMs: number;
  /** A failed attempt counts as a latency of at least this many ms. */
  penaltyMs: number;
}

/**
 * The latency estimate of one endpoint, in ms. `observe` folds in one outcome:
 *   w = exp(-(now - stamp) / tau);  cost = rtt > cost ? rtt : cost·w + rtt·(1 − w)
 * so a spike is believed at once and forgotten over tau, while improvements are believed slowly.
 * `at(now)` is the estimate decayed to `now` as if a latency of 0 had been seen (Finagle's read):
 * an endpoint that has not been used for a while looks cheaper and gets probed again, instead of
 * being shunned for ever after one slow answer.
 *
 * Failures: a 5xx, a 429 (the endpoint is shedding load), a reset, a timeout or a connect failure
 * is observed as max(latency, penaltyMs). An additive floor rather than a multiplier: a failing
 * endpoint often answers fastest of all (an immediate 500 or refused connection), and multiplying a
 * 1 ms latency still leaves it the most attractive endpoint; a floor makes it the least attractive
 * at once, and the decay brings it back into rotation gradually (a probe every so often) once it
 * stops failing.
 */
export class PeakEwma {
  /** The estimate at `stamp`, ms. */
  cost: number;
  /** Clock time of the last observation, ms. */
  stamp: number;
  readonly #settings: EwmaSettings;

  constructor(settings: EwmaSettings, initialMs: number) {
    this.#settings = settings;
    this.cost = initialMs;
    this.stamp = settings.clock.now();
  }

  /** The estimate decayed to `now` (ms); no state changes, no allocation. */
  at(now: number): number {
    const elapsed = now - this.stamp;
    return elapsed <= 0 ? this.cost : this.cost * Math.exp(-elapsed / this.#settings.decayMs);
  }

  /**
   * Folds in one attempt's outcome at clock time `now` (default: the clock read now); a cancelled
   * attempt says nothing about the endpoint and is ignored.
   */
  observe(outcome: PickOutcome, now?: number): void {
    if (outcome.failure === 'cancelled') return;
    const status = outcome.status;
    const failed = !outcome.ok || outcome.connectFailure === true || status === 429 || (status !== undefined && status >= 500);
    // An answer counts its time to the response head (Linkerd's measure): a long stream or a big
    // download is not a slow endpoint. A failure counts its whole time, at least penaltyMs.
    const sample = !failed && outcome.headMs !== undefined ? outcome.headMs : outcome.latencyMs;
    let rtt = sample > 0 ? sample : 0;
    if (failed && rtt < this.#settings.penaltyMs) rtt = this.#settings.penaltyMs;
    this.add(rtt, now ?? this.#settings.clock.now());
  }

  /** One latency sample (ms) at clock time `now`. */
  add(rtt: number, now: number): void {
    if (rtt > this.cost) {
      this.cost = rtt;
    } else {
      const elapsed = now - this.stamp;
      const w = elapsed <= 0 ? 1 : Math.exp(-elapsed / this.#settings.decayMs);
      // With elapsed 0 (same millisecond) w is 1 and the sample would be lost: Finagle has the same
      // property at nanosecond resolution; at ms resolution give it the weight of 1 ms instead.
      const weight = elapsed <= 0 ? 1 - Math.exp(-1 / this.#settings.decayMs) : 1 - w;
      this.cost = this.cost * (1 - weight) + rtt * weight;
    }
    if (now > this.stamp) this.stamp = now;
  }
}

// peak-ewma: power of two choices over Finagle/Linkerd's PeakEWMA score. Each pick samples two
// distinct endpoints at random and takes the one with the lower
//   score = ewma latency (decayed to now) × (requests in flight + 1) / weight.
// The estimates live in the balancer's EndpointState (peak-ewma/ewma.ts); this only reads them.

import type { Pick, PickContext, Picker } from '../picker.ts';
import { ALL_TRIED, failingPicker, type Candidate, type PickerOptions } from '../candidate.ts';
import { effectiveWeight } from '../weighted.ts';
import { systemClock, type Clock } from '../../../lib/clock.ts';
import { DEFAULT_PEAK_EWMA } from '../../../config/kinds/backend-policy-balancing.ts';

/** An endpoint's score (lower is better); `defaultRttMs` stands in for a candidate with no estimate. */
export function peakEwmaScore(c: Candidate, now: number, inverseWeight: number, defaultRttMs: number): number {
  const latency = c.ewma === undefined ? defaultRttMs : c.ewma.at(now);
  return latency * (c.active + 1) * inverseWeight;
}

class PeakEwmaPicker implements Picker {
  readonly #candidates: readonly Candidate[];
  readonly #random: () => number;
  readonly #clock: Clock;
  readonly #defaultRttMs: number;
  readonly #choices: number;
  /** 1 / (weight × slow start's factor) per candidate: a ramping endpoint scores as if it were slower. */
  readonly #inverseWeights: Float64Array;
  /** Candidate indexes, partially shuffled on each pick for distinct samples (as least-request.ts). */
  readonly #order: Int32Array;

  constructor(candidates: readonly Candidate[], options: PickerOptions) {
    this.#candidates = candidates;
    this.#random = options.random;
    this.#clock = options.clock ?? systemClock;
    this.#defaultRttMs = options.policy?.peakEwma?.defaultRttMs ?? DEFAULT_PEAK_EWMA.defaultRttMs;
    // Power of two choices (Mitzenmacher): a third sample buys little and herds more.
    this.#choices = 2;
    this.#inverseWeights = Float64Array.from(candidates, (c) => 1 / (effectiveWeight(c.endpoint.weight) * c.weightFactor()));
    this.#order = Int32Array.from(candidates, (_, i) => i);
  }

  pick(ctx?: PickContext): Pick {
    const candidates = this.#candidates;
    const order = this.#order;
    const n = candidates.length;
    const exclude = ctx?.exclude;
    const filter = exclude !== undefined && exclude.size > 0;
    // One endpoint: nothing to compare, no clock to read (its outcome reads the clock once, in done).
    if (n === 1) return filter && exclude.has(candidates[0].endpoint.id) ? ALL_TRIED : candidates[0].take();
    const now = this.#clock.now();
    let best = -1;
    let bestScore = Infinity;
    let sampled = 0;
    for (let k = 0; k < n && sampled < this.#choices; k++) {
      const left = n - k;
      const j = left === 1 ? k : k + (Math.floor(this.#random() * left) % left);
      const index = order[j];
      order[j] = order[k];
      order[k] = index;
      const c = candidates[index];
      if (filter && exclude.has(c.endpoint.id)) continue;
      sampled++;
      const score = peakEwmaScore(c, now, this.#inverseWeights[index], this.#defaultRttMs);
      if (score < bestScore) {
        bestScore = score;
        best = index;
      }
    }
    if (best < 0) return ALL_TRIED;
    return candidates[best].take(now);
  }
}

/** Builds the peak-ewma picker; weight-0 endpoints are never picked. */
export function createPeakEwmaPicker(candidates: readonly Candidate[], options: PickerOptions): Picker {
  const weighted = candidates.filter((c) => effectiveWeight(c.endpoint.weight) > 0);
  if (weighted.length === 0) return failingPicker('no-healthy-endpoints', 'every healthy endpoint has weight 0');
  return new PeakEwmaPicker(weighted, options);
}

// least-request: power of d choices. Each pick samples d distinct endpoints at random and takes the
// least loaded, where load is counted by the balancer as requests in flight. Endpoints with
// weight 0 are never picked.

import type { Pick, PickContext, Picker } from './picker.ts';
import { ALL_TRIED, failingPicker, type Candidate, type PickerOptions } from './candidate.ts';
import { effectiveWeight } from './weighted.ts';

// Load is (active + 1) / weight, Envoy's weighted least-request score with its default bias of 1.
// The "+ 1" matters: with plain active / weight every idle endpoint scores 0 and weights would be
// ignored exactly when the service is quiet. With equal weights the score is just `active`.
class LeastRequestPicker implements Picker {
  readonly #candidates: readonly Candidate[];
  readonly #random: () => number;
  readonly #choices: number;
  /** 1 / weight per candidate, or undefined when all weights are equal. */
  readonly #inverseWeights: Float64Array | undefined;
  /**
   * A permutation of candidate indexes, shuffled in place a little on every pick (partial
   * Fisher-Yates): it yields d distinct samples without allocating. Any permutation is a valid
   * starting point, so the shuffling never needs undoing.
   */
  readonly #order: Int32Array;

  constructor(candidates: readonly Candidate[], options: PickerOptions) {
    this.#candidates = candidates;
    this.#random = options.random;
    const d = Math.floor(options.choiceCount);
    this.#choices = d >= 1 ? d : 2;
    // Slow start scales the weight as Envoy's does for least request: the score uses weight × factor.
    const weights = Float64Array.from(candidates, (c) => effectiveWeight(c.endpoint.weight) * c.weightFactor());
    this.#inverseWeights = weights.every((w) => w === weights[0]) ? undefined : weights.map((w) => 1 / w);
    this.#order = Int32Array.from(candidates, (_, i) => i);
  }

  pick(ctx?: PickContext): Pick {
    const candidates = this.#candidates;
    const order = this.#order;
    const inverseWeights = this.#inverseWeights;
    const n = candidates.length;
    const exclude = ctx?.exclude;
    const filter = exclude !== undefined && exclude.size > 0;
    let best = -1;
    let bestScore = Infinity;
    let sampled = 0;
    // Draw until d untried endpoints are sampled or none are left. Without exclusions that is
    // exactly d draws; with d >= n it visits every endpoint in random order. Samples arrive in
    // random order and a later one must be strictly better to win, so ties go to a random one.
    for (let k = 0; k < n && sampled < this.#choices; k++) {
      const left = n - k;
      const j = left === 1 ? k : k + (Math.floor(this.#random() * left) % left);
      const index = order[j];
      order[j] = order[k];
      order[k] = index;
      const c = candidates[index];
      if (filter && exclude.has(c.endpoint.id)) continue;
      sampled++;
      const score = inverseWeights === undefined ? c.active : (c.active + 1) * inverseWeights[index];
      if (score < bestScore) {
        bestScore = score;
        best = index;
      }
    }
    if (best < 0) return ALL_TRIED;
    return candidates[best].take();
  }
}

export function createLeastRequestPicker(candidates: readonly Candidate[], options: PickerOptions): Picker {
  // See createWeightedPicker: the balancer filters already; this keeps the picker safe on its own.
  const weighted = candidates.filter((c) => effectiveWeight(c.endpoint.weight) > 0);
  if (weighted.length === 0) {
    return failingPicker('no-healthy-endpoints', 'every healthy endpoint has weight 0');
  }
  return new LeastRequestPicker(weighted, options);
}

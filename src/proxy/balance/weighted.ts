// weighted: smooth weighted round robin, as nginx does it. Over any run of W picks (W = the sum of
// the weights) each endpoint gets exactly its weight's share, spread out rather than in bursts.
// Deterministic; endpoints with weight 0 (or a weight that is not a positive number) are never picked.

import type { Pick, PickContext, Picker } from './picker.ts';
import { ALL_TRIED, failingPicker, type Candidate, type PickerOptions } from './candidate.ts';
import { createRoundRobinPicker } from './round-robin.ts';

/** The weight a weighted algorithm uses: anything not a positive finite number means "send nothing". */
export function effectiveWeight(weight: number): number {
  return weight > 0 && Number.isFinite(weight) ? weight : 0;
}

// Each pick is O(n) over the candidates (nginx's algorithm); mesh services have tens to a few
// hundred endpoints, and equal weights take the O(1) round-robin path instead.
class SmoothWeightedPicker implements Picker {
  readonly #candidates: readonly Candidate[];
  readonly #weights: Float64Array;
  /** nginx's `current_weight`: each pick adds every weight and takes the total from the winner. */
  readonly #current: Float64Array;

  constructor(candidates: readonly Candidate[]) {
    this.#candidates = candidates;
    this.#weights = Float64Array.from(candidates, (c) => effectiveWeight(c.endpoint.weight));
    this.#current = new Float64Array(candidates.length);
  }

  pick(ctx?: PickContext): Pick {
    const candidates = this.#candidates;
    const weights = this.#weights;
    const current = this.#current;
    const exclude = ctx?.exclude;
    const filter = exclude !== undefined && exclude.size > 0;
    let best = -1;
    let bestCurrent = -Infinity;
    let total = 0;
    for (let i = 0; i < candidates.length; i++) {
      // Tried endpoints sit this round out entirely, so the remaining ones keep their proportions.
      if (filter && exclude.has(candidates[i].endpoint.id)) continue;
      const w = weights[i];
      const cur = (current[i] += w);
      total += w;
      if (cur > bestCurrent) {
        bestCurrent = cur;
        best = i;
      }
    }
    if (best < 0) return ALL_TRIED;
    current[best] -= total;
    return candidates[best].take();
  }
}

export function createWeightedPicker(candidates: readonly Candidate[], options: PickerOptions): Picker {
  // The balancer already drops weight-0 endpoints (so ejection limits count the right set); this
  // filter keeps the picker correct when used on its own.
  const weighted = candidates.filter((c) => effectiveWeight(c.endpoint.weight) > 0);
  if (weighted.length === 0) {
    return failingPicker('no-healthy-endpoints', 'every healthy endpoint has weight 0');
  }
  const first = weighted[0].endpoint.weight;
  if (weighted.every((c) => c.endpoint.weight === first)) return createRoundRobinPicker(weighted, options);
  return new SmoothWeightedPicker(weighted);
}

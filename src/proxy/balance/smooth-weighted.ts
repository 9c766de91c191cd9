// Smooth weighted round robin, as nginx does it: over any run of picks each candidate gets its
// weight's share, spread out rather than in bursts. Used by `weighted`, and by `round-robin` while
// slow start ramps an endpoint up (weights are then the ramp factors).

import type { Pick, PickContext, Picker } from './picker.ts';
import { ALL_TRIED, type Candidate } from './candidate.ts';

// Each pick is O(n) over the candidates (nginx's algorithm); mesh services have tens to a few
// hundred endpoints, and equal weights take the O(1) round-robin path instead.
class SmoothWeightedPicker implements Picker {
  readonly #candidates: readonly Candidate[];
  readonly #weights: Float64Array;
  /** nginx's `current_weight`: each pick adds every weight and takes the total from the winner. */
  readonly #current: Float64Array;

  constructor(candidates: readonly Candidate[], weights: Float64Array) {
    this.#candidates = candidates;
    this.#weights = weights;
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

/** `weights[i]` (positive) is candidate i's; the arrays are owned by the picker from then on. */
export function createSmoothWeightedPicker(candidates: readonly Candidate[], weights: Float64Array): Picker {
  return new SmoothWeightedPicker(candidates, weights);
}

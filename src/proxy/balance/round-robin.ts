// round-robin: each pick takes the next endpoint in turn, ignoring weights. The balancer builds
// one per update/ejection; the cursor is the only thing that moves. While slow start ramps an
// endpoint up, turns are shared by ramp factor instead (smooth weighted round robin over them).

import type { Pick, PickContext, Picker } from './picker.ts';
import { ALL_TRIED, unevenFactors, type Candidate, type PickerOptions } from './candidate.ts';
import { createSmoothWeightedPicker } from './smooth-weighted.ts';

class RoundRobinPicker implements Picker {
  readonly #candidates: readonly Candidate[];
  #next: number;

  constructor(candidates: readonly Candidate[], options: PickerOptions) {
    this.#candidates = candidates;
    // Start at a random place so proxies that got the same snapshot at the same moment do not all
    // send their first requests to the first endpoint.
    this.#next = Math.floor(options.random() * candidates.length) % candidates.length;
  }

  pick(ctx?: PickContext): Pick {
    const candidates = this.#candidates;
    const n = candidates.length;
    const exclude = ctx?.exclude;
    let i = this.#next;
    if (exclude === undefined || exclude.size === 0) {
      this.#next = i + 1 === n ? 0 : i + 1;
      return candidates[i].take();
    }
    // A retry: walk on from the cursor to the first endpoint this request has not tried.
    for (let k = 0; k < n; k++) {
      const c = candidates[i];
      i = i + 1 === n ? 0 : i + 1;
      if (!exclude.has(c.endpoint.id)) {
        this.#next = i;
        return c.take();
      }
    }
    return ALL_TRIED;
  }
}

export function createRoundRobinPicker(candidates: readonly Candidate[], options: PickerOptions): Picker {
  if (unevenFactors(candidates)) return createSmoothWeightedPicker(candidates, Float64Array.from(candidates, (c) => c.weightFactor()));
  return new RoundRobinPicker(candidates, options);
}

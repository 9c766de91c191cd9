// random: each pick takes an endpoint uniformly at random, ignoring weights. Stateless apart from
// the injected random source. While slow start ramps an endpoint up, a draw of it is kept with
// probability equal to its ramp factor, else drawn again (rejection sampling: shares ∝ factor).

import type { Pick, PickContext, Picker } from './picker.ts';
import { ALL_TRIED, unevenFactors, type Candidate, type PickerOptions } from './candidate.ts';

/** Redraws allowed per pick while ramping; with factors of at least 0.1 more than 32 are vanishingly rare. */
const MAX_DRAWS = 32;

class RandomPicker implements Picker {
  readonly #candidates: readonly Candidate[];
  readonly #random: () => number;
  /** Slow-start factors when some differ, else undefined (the plain uniform draw). */
  readonly #factors: Float64Array | undefined;

  constructor(candidates: readonly Candidate[], options: PickerOptions) {
    this.#candidates = candidates;
    this.#random = options.random;
    this.#factors = unevenFactors(candidates) ? Float64Array.from(candidates, (c) => c.weightFactor()) : undefined;
  }

  pick(ctx?: PickContext): Pick {
    const candidates = this.#candidates;
    const n = candidates.length;
    let index = Math.floor(this.#random() * n) % n;
    const factors = this.#factors;
    if (factors !== undefined) {
      for (let k = 1; k < MAX_DRAWS && this.#random() >= factors[index]; k++) index = Math.floor(this.#random() * n) % n;
    }
    const first = candidates[index];
    const exclude = ctx?.exclude;
    if (exclude === undefined || exclude.size === 0 || !exclude.has(first.endpoint.id)) return first.take();
    // A retry landed on a tried endpoint. Re-drawing among the untried ones (rather than taking
    // the next one along) keeps the choice uniform; this O(n) walk happens only on retries.
    let untried = 0;
    for (let i = 0; i < n; i++) if (!exclude.has(candidates[i].endpoint.id)) untried++;
    if (untried === 0) return ALL_TRIED;
    let target = Math.floor(this.#random() * untried) % untried;
    for (let i = 0; i < n; i++) {
      const c = candidates[i];
      if (exclude.has(c.endpoint.id)) continue;
      if (target-- === 0) return c.take();
    }
    return ALL_TRIED; // unreachable: target < untried
  }
}

export function createRandomPicker(candidates: readonly Candidate[], options: PickerOptions): Picker {
  return new RandomPicker(candidates, options);
}

// weighted: smooth weighted round robin (smooth-weighted.ts). Over any run of W picks (W = the sum of
// the weights) each endpoint gets exactly its weight's share. Deterministic; endpoints with weight 0
// (or a weight that is not a positive number) are never picked. Slow start scales each weight by
// the candidate's weightFactor().

import type { Picker } from './picker.ts';
import { failingPicker, type Candidate, type PickerOptions } from './candidate.ts';
import { createRoundRobinPicker } from './round-robin.ts';
import { createSmoothWeightedPicker } from './smooth-weighted.ts';

/** The weight a weighted algorithm uses: anything not a positive finite number means "send nothing". */
export function effectiveWeight(weight: number): number {
  return weight > 0 && Number.isFinite(weight) ? weight : 0;
}

export function createWeightedPicker(candidates: readonly Candidate[], options: PickerOptions): Picker {
  // The balancer already drops weight-0 endpoints (so ejection limits count the right set); this
  // filter keeps the picker correct when used on its own.
  const weighted = candidates.filter((c) => effectiveWeight(c.endpoint.weight) > 0);
  if (weighted.length === 0) {
    return failingPicker('no-healthy-endpoints', 'every healthy endpoint has weight 0');
  }
  const weights = Float64Array.from(weighted, (c) => effectiveWeight(c.endpoint.weight) * c.weightFactor());
  if (weights.every((w) => w === weights[0])) return createRoundRobinPicker(weighted, options);
  return createSmoothWeightedPicker(weighted, weights);
}

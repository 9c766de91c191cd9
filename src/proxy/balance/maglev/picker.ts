// maglev: Google's Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4; Envoy's MAGLEV).
// A lookup table of a prime size M is filled from each endpoint's own permutation of the slots,
// taking turns, so each endpoint owns ~M/N slots (in proportion to weight) and a request's hash
// key picks slot key mod M in O(1). When an endpoint leaves, few slots other than its own change.

import type { Pick, PickContext, Picker } from '../picker.ts';
import { ALL_TRIED, failingPicker, type Candidate, type PickerOptions } from '../candidate.ts';
import { effectiveWeight } from '../weighted.ts';
import { DEFAULT_MAGLEV } from '../../../config/kinds/backend-policy-balancing.ts';
import { murmur3 } from '../hashing/murmur3.ts';

/**
 * Populates the table (the paper's Algorithm 1, with Envoy's weighting): endpoint i's permutation
 * is (offset_i + j·skip_i) mod M, with offset = h1(id) mod M and skip = h2(id) mod (M − 1) + 1 (M
 * prime, so every skip visits every slot). Turns go round the endpoints; an endpoint of weight w
 * (max weight W) takes a turn only in the rounds where its share is due, so it ends with ~w/W as
 * many slots as the heaviest. Returns the candidate index per slot. `size` must be prime.
 */
export function buildMaglevTable(candidates: readonly Candidate[], size: number): Int32Array {
  const n = candidates.length;
  const table = new Int32Array(size).fill(-1);
  const offset = new Float64Array(n);
  const skip = new Float64Array(n);
  const next = new Float64Array(n);
  const weight = new Float64Array(n);
  const target = new Float64Array(n);
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    const id = candidates[i].endpoint.id;
    offset[i] = murmur3(id, 0) % size;
    skip[i] = (murmur3(id, 0x9747b28c) % (size - 1)) + 1;
    weight[i] = effectiveWeight(candidates[i].endpoint.weight);
    if (weight[i] > maxWeight) maxWeight = weight[i];
  }
  let filled = 0;
  for (let round = 1; filled < size; round++) {
    for (let i = 0; i < n && filled < size; i++) {
      if (weight[i] === 0 || round * weight[i] < target[i]) continue;
      target[i] += maxWeight;
      let c = (offset[i] + next[i] * skip[i]) % size;
      while (table[c] >= 0) {
        next[i]++;
        c = (offset[i] + next[i] * skip[i]) % size;
      }
      table[c] = i;
      next[i]++;
      filled++;
    }
  }
  return table;
}

class MaglevPicker implements Picker {
  readonly #candidates: readonly Candidate[];
  readonly #table: Int32Array;
  readonly #random: () => number;

  constructor(candidates: readonly Candidate[], table: Int32Array, random: () => number) {
    this.#candidates = candidates;
    this.#table = table;
    this.#random = random;
  }

  pick(ctx?: PickContext): Pick {
    const table = this.#table;
    const size = table.length;
    const key = ctx?.hashKey;
    let k = key === undefined ? Math.floor(this.#random() * size) % size : (key >>> 0) % size;
    const exclude = ctx?.exclude;
    if (exclude === undefined || exclude.size === 0) return this.#candidates[table[k]].take();
    // A retry walks on through the table to the next slot of an endpoint not yet tried.
    for (let step = 0; step < size; step++) {
      const c = this.#candidates[table[k]];
      if (!exclude.has(c.endpoint.id)) return c.take();
      if (++k === size) k = 0;
    }
    return ALL_TRIED;
  }
}

/** Builds the maglev picker (table built here, on the slow path); weight-0 endpoints are never picked. */
export function createMaglevPicker(candidates: readonly Candidate[], options: PickerOptions): Picker {
  const weighted = candidates.filter((c) => effectiveWeight(c.endpoint.weight) > 0);
  if (weighted.length === 0) return failingPicker('no-healthy-endpoints', 'every healthy endpoint has weight 0');
  const size = options.policy?.maglev?.tableSize ?? DEFAULT_MAGLEV.tableSize;
  return new MaglevPicker(weighted, buildMaglevTable(weighted, size), options.random);
}

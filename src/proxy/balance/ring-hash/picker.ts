// ring-hash: Ketama-style consistent hashing (Karger et al. 1997; Envoy's RING_HASH). Each endpoint
// owns many points on a 32-bit ring, in proportion to its weight; a request's hash key goes to the
// first point at or after it. When an endpoint leaves, only the keys of its points move (~1/N).

import type { Pick, PickContext, Picker } from '../picker.ts';
import { ALL_TRIED, failingPicker, type Candidate, type PickerOptions } from '../candidate.ts';
import { effectiveWeight } from '../weighted.ts';
import { DEFAULT_RING_HASH, type RingHashConfig } from '../../../config/kinds/backend-policy-balancing.ts';
import { murmur3 } from '../hashing/murmur3.ts';

/** The built ring: point hashes ascending, and the candidate index owning each point. */
export interface Ring {
  readonly hashes: Uint32Array;
  readonly owners: Int32Array;
}

/**
 * Builds the ring. Weights are taken relative to the lightest endpoint (units = weight / min
 * weight); each unit owns P points, hashed from `<endpoint id>_<n>` (ids are the same on every
 * proxy, so every client builds the same ring). P is the power of two at or above
 * minimumRingSize / total units, so the ring has between minimumRingSize and twice that many points,
 * capped at maximumRingSize. Envoy scales the ring exactly to minimumRingSize instead, which changes
 * every endpoint's point count whenever one leaves and moves extra keys (~8% more with 5 endpoints);
 * on the power-of-two ladder P only changes when the endpoint count crosses a power of two, so
 * usually only the leaver's keys move. Weight-0 endpoints own none.
 */
export function buildRing(candidates: readonly Candidate[], config: RingHashConfig): Ring {
  let minWeight = Infinity;
  for (const c of candidates) {
    const w = effectiveWeight(c.endpoint.weight);
    if (w > 0 && w < minWeight) minWeight = w;
  }
  const units = candidates.map((c) => effectiveWeight(c.endpoint.weight) / minWeight);
  const totalUnits = units.reduce((a, b) => a + b, 0);
  let perUnit = 2 ** Math.max(0, Math.ceil(Math.log2(config.minimumRingSize / totalUnits)));
  if (perUnit * totalUnits > config.maximumRingSize) perUnit = Math.max(1, config.maximumRingSize / totalUnits);
  const counts = units.map((u) => Math.min(config.maximumRingSize, Math.round(u * perUnit)));
  const size = counts.reduce((a, b) => a + b, 0);
  // hash × 2^21 + index packs both in one exactly representable double, so one typed sort orders
  // the points by hash (ties by index, deterministically).
  const packed = new Float64Array(size);
  let at = 0;
  candidates.forEach((c, i) => {
    const id = c.endpoint.id;
    for (let n = 0; n < counts[i]; n++) packed[at++] = murmur3(`${id}_${n}`) * 2_097_152 + i;
  });
  packed.sort();
  const hashes = new Uint32Array(size);
  const owners = new Int32Array(size);
  for (let k = 0; k < size; k++) {
    const v = packed[k];
    const i = v % 2_097_152;
    owners[k] = i;
    hashes[k] = (v - i) / 2_097_152;
  }
  return { hashes, owners };
}

/** Index of the first ring point with hash ≥ key, wrapping to 0 past the last. */
export function ringIndex(hashes: Uint32Array, key: number): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

class RingHashPicker implements Picker {
  readonly #candidates: readonly Candidate[];
  readonly #ring: Ring;
  readonly #random: () => number;

  constructor(candidates: readonly Candidate[], ring: Ring, random: () => number) {
    this.#candidates = candidates;
    this.#ring = ring;
    this.#random = random;
  }

  pick(ctx?: PickContext): Pick {
    const { hashes, owners } = this.#ring;
    const key = ctx?.hashKey;
    // No hash key (no hashPolicy, or none of its sources in the request): a random point.
    let k = key === undefined ? Math.floor(this.#random() * hashes.length) % hashes.length : ringIndex(hashes, key >>> 0);
    const exclude = ctx?.exclude;
    if (exclude === undefined || exclude.size === 0) return this.#candidates[owners[k]].take();
    // A retry walks on round the ring to the next point of an endpoint not yet tried.
    for (let step = 0; step < hashes.length; step++) {
      const c = this.#candidates[owners[k]];
      if (!exclude.has(c.endpoint.id)) return c.take();
      if (++k === hashes.length) k = 0;
    }
    return ALL_TRIED;
  }
}

/** Builds the ring-hash picker (ring built here, on the slow path); weight-0 endpoints are never picked. */
export function createRingHashPicker(candidates: readonly Candidate[], options: PickerOptions): Picker {
  const weighted = candidates.filter((c) => effectiveWeight(c.endpoint.weight) > 0);
  if (weighted.length === 0) return failingPicker('no-healthy-endpoints', 'every healthy endpoint has weight 0');
  return new RingHashPicker(weighted, buildRing(weighted, options.policy?.ringHash ?? DEFAULT_RING_HASH), options.random);
}

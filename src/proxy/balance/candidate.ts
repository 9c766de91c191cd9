// What a picking algorithm sees of an endpoint: the balancer hands each algorithm a list of
// Candidates and the algorithm only chooses one; counting and feedback stay with the balancer.

import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import type { BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import type { Pick, Picker } from './picker.ts';
import type { Clock } from '../../lib/clock.ts';
import type { PeakEwma } from './peak-ewma/ewma.ts';

export interface Candidate {
  readonly endpoint: EndpointSnapshot;
  /** Requests in flight to this endpoint, counted across every picker the balancer published. */
  readonly active: number;
  /** peak-ewma: the endpoint's latency estimate, kept by the balancer across pickers. */
  readonly ewma?: PeakEwma;
  /**
   * The share of its full weight the endpoint gets now, in (0, 1]: below 1 while slow start ramps it
   * up (slow-start/), else 1. It changes only on the balancer's slow path, which then publishes a new
   * picker, so a picker reads it once, when built, and multiplies it into whatever weight it uses
   * (weighted: endpoint weight × factor; round robin and random: the factor alone).
   */
  weightFactor(): number;
  /**
   * Counts one request in and returns the pick whose `done` counts it out again. `pickedAt`: the
   * clock time the picker read to choose (peak-ewma), so that the outcome is stamped at
   * pickedAt + its latency instead of reading the clock once more; absent, it reads the clock.
   */
  take(pickedAt?: number): Pick;
}

export interface PickerOptions {
  /** Uniform in [0, 1); injected so tests are deterministic. */
  readonly random: () => number;
  /** least-request: endpoints sampled per pick. */
  readonly choiceCount: number;
  /** peak-ewma: reads time to decay the estimates; defaults to the system clock. */
  readonly clock?: Clock;
  /** The algorithm's own section of the policy (peakEwma, ringHash, maglev), as validated. */
  readonly policy?: BackendPolicySpec['loadBalancer'];
}

/**
 * Builds a picker over a non-empty candidate list (the balancer answers the empty cases itself).
 * The list is owned by the picker from then on and must not change.
 */
export type PickerFactory = (candidates: readonly Candidate[], options: PickerOptions) => Picker;

/** Whether any candidate is ramping up by a different share than the others (slow start). */
export function unevenFactors(candidates: readonly Candidate[]): boolean {
  const first = candidates[0]?.weightFactor() ?? 1;
  for (let i = 1; i < candidates.length; i++) if (candidates[i].weightFactor() !== first) return true;
  return false;
}

/** Shared, frozen failure so a retry that has run out of endpoints allocates nothing. */
export const ALL_TRIED: Pick = Object.freeze({
  kind: 'fail',
  reason: 'all-endpoints-tried',
  message: 'every available endpoint was already tried by this request',
});

/** A picker that always fails the same way; the pick is built once, on the slow path. */
export function failingPicker(reason: 'no-endpoints' | 'no-healthy-endpoints', message: string): Picker {
  const pick: Pick = Object.freeze({ kind: 'fail', reason, message });
  return { pick: () => pick };
}

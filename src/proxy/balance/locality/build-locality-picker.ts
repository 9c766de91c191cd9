// Locality, the assembly the balancer calls on its slow path: groups the endpoints into priority
// levels (locality-levels.ts), weighs the levels by health (priority-load.ts), builds one picker of
// the configured algorithm per level and the level-choosing picker over them (locality-picker.ts).

import type { Picker } from '../picker.ts';
import type { Candidate, PickerFactory, PickerOptions } from '../candidate.ts';
import { effectiveWeight } from '../weighted.ts';
import type { LevelAssigner } from './locality-levels.ts';
import { priorityLoad, type LevelHealth } from './priority-load.ts';
import { createLocalityPicker, type LevelCounter } from './locality-picker.ts';

export interface LocalityBuild<C extends Candidate> {
  readonly assigner: LevelAssigner;
  /** Percent, Envoy's overprovisioning_factor. */
  readonly overprovisioningFactor: number;
  /** Every endpoint of the update, any health: the levels' totals. */
  readonly members: Iterable<C>;
  /** The endpoints the algorithm may pick (healthy, weighted if it weighs); non-empty. */
  readonly eligible: readonly C[];
  /** Whether an endpoint is ejected right now (the balancer's outlier ejection). */
  readonly isEjected: (candidate: C) => boolean;
  /** The algorithm weighs endpoints: a weight-0 member is drained on purpose and counts in no level. */
  readonly weighted: boolean;
  readonly create: PickerFactory;
  readonly options: PickerOptions;
  /** The counter of picks at a level, bound once per build; optional. */
  readonly counter?: (level: number) => LevelCounter;
}

/** What a build decided, for the admin dump and tests: per level, counts and share. */
export interface LocalityLevelState {
  readonly level: number;
  readonly healthy: number;
  readonly total: number;
  /** Percent of new requests sent to this level. */
  readonly load: number;
}

/**
 * The level-choosing picker over `eligible`. "Healthy" is eligible and not ejected; a level's total
 * is its members (any health) except weight-0 ones under a weighing algorithm. When no eligible
 * endpoint is healthy (all ejected) the ejections are set aside, as the balancer does without
 * locality (an endpoint that refused a moment ago may accept now; failing outright is certain to
 * fail): the levels are then weighed by eligible endpoints. Levels without a healthy endpoint get no
 * picker; a retry that exhausts the drawn level moves on to the others in order.
 */
export function buildLocalityPicker<C extends Candidate>(b: LocalityBuild<C>): { picker: Picker; levels: LocalityLevelState[] } {
  const count = b.assigner.levelCount;
  const totals = new Array<number>(count).fill(0);
  for (const m of b.members) {
    if (b.weighted && effectiveWeight(m.endpoint.weight) === 0) continue;
    totals[b.assigner.levelOf(m.endpoint.labels)]++;
  }
  const eligibleByLevel: C[][] = Array.from({ length: count }, () => []);
  const healthyByLevel: C[][] = Array.from({ length: count }, () => []);
  let healthyCount = 0;
  for (const c of b.eligible) {
    const level = b.assigner.levelOf(c.endpoint.labels);
    eligibleByLevel[level].push(c);
    if (!b.isEjected(c)) {
      healthyByLevel[level].push(c);
      healthyCount++;
    }
  }
  const usable = healthyCount > 0 ? healthyByLevel : eligibleByLevel;
  // A level's total is never below what it can pick (an eligible member always counts).
  const health: LevelHealth[] = usable.map((list, i) => ({ healthy: list.length, total: Math.max(totals[i], eligibleByLevel[i].length) }));
  const loads = priorityLoad(health, b.overprovisioningFactor);
  // Healthy endpoints so few that every level's whole-percent health rounds to 0 (1 of 200): the
  // nearest level that has any takes it all rather than no level.
  if (!loads.some((l) => l > 0)) loads[usable.findIndex((list) => list.length > 0)] = 100;
  const pickers = usable.map((list) => (list.length > 0 ? b.create(list, b.options) : undefined));
  const counters = b.counter === undefined ? undefined : Array.from({ length: count }, (_, i) => b.counter!(i));
  return {
    picker: createLocalityPicker({ pickers, loads, counters }, b.options.random),
    levels: health.map((h, level) => ({ level, healthy: h.healthy, total: h.total, load: loads[level] })),
  };
}

// Locality, step 2 (slow path): how much of the traffic each priority level gets, from how healthy
// each level is. Envoy's priority load math, integer percentages as Envoy computes them:
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/priority

/** One level's endpoint counts: `healthy` can take traffic now, `total` is every member. */
export interface LevelHealth {
  readonly healthy: number;
  readonly total: number;
}

/**
 * A level's health in percent: min(100, healthy × factor / total), integer (Envoy's
 * `overprovisioning_factor` in percent, default 140). 0 for an empty level.
 */
export function levelHealth(level: LevelHealth, overprovisioningFactor: number): number {
  if (level.total <= 0 || level.healthy <= 0) return 0;
  return Math.min(100, Math.floor((level.healthy * overprovisioningFactor) / level.total));
}

/**
 * Each level's share of the traffic in whole percent, summing to 100; all zero when no level is
 * healthy at all (the caller decides what to do then, Envoy's "panic").
 *
 * Envoy's `distributeLoad`: the healths are summed and capped at 100 (the normalized total
 * health); level i gets min(what is left, health_i × 100 / normalized total), in order, so level 0
 * takes what its health allows and each next level takes the rest up to its own health. When the
 * total health is under 100 the shares are scaled up to fill 100. Rounding leftovers go to the first
 * level with any health. E.g. factor 140, level 0 with 3 of 5 healthy (84) and a healthy level 1:
 * [84, 16].
 */
export function priorityLoad(levels: readonly LevelHealth[], overprovisioningFactor: number): number[] {
  const health = levels.map((l) => levelHealth(l, overprovisioningFactor));
  let sum = 0;
  for (const h of health) sum += h;
  const normalized = Math.min(100, sum);
  const load = new Array<number>(levels.length).fill(0);
  if (normalized === 0) return load;
  let left = 100;
  let firstAvailable = -1;
  for (let i = 0; i < health.length; i++) {
    if (firstAvailable === -1 && health[i] > 0) firstAvailable = i;
    load[i] = Math.min(left, Math.floor((health[i] * 100) / normalized));
    left -= load[i];
  }
  if (left > 0 && firstAvailable !== -1) load[firstAvailable] += left;
  return load;
}

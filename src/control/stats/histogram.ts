// Latency histograms of the golden signals (control/stats/): bucket counts over the fixed bounds of
// config/stats-report.ts, merged by adding counts, and percentiles read from the merged counts.

import { STATS_BUCKETS, STATS_LATENCY_BOUNDS_MS } from '../../config/stats-report.ts';

/** A new histogram: STATS_BUCKETS zero counts. */
export function emptyHistogram(): number[] {
  return new Array<number>(STATS_BUCKETS).fill(0);
}

/** Adds `from`'s counts into `into` (same bounds), and returns `into`. */
export function mergeInto(into: number[], from: readonly number[]): number[] {
  for (let i = 0; i < into.length; i++) into[i] += from[i] ?? 0;
  return into;
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram, in ms, undefined when it is empty. Follows Prometheus's
 * histogram_quantile: the rank q·count falls in a bucket, and the value is interpolated linearly
 * between that bucket's lower and upper bound (the first bucket's lower bound is 0); a rank in the
 * +Inf bucket answers the highest finite bound, since nothing better is known.
 */
export function quantile(counts: readonly number[], q: number): number | undefined {
  let total = 0;
  for (const n of counts) total += n;
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i];
    if (n > 0 && seen + n >= rank) {
      if (i >= STATS_LATENCY_BOUNDS_MS.length) return STATS_LATENCY_BOUNDS_MS[STATS_LATENCY_BOUNDS_MS.length - 1];
      const lower = i === 0 ? 0 : STATS_LATENCY_BOUNDS_MS[i - 1];
      const upper = STATS_LATENCY_BOUNDS_MS[i];
      return lower + (upper - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return STATS_LATENCY_BOUNDS_MS[STATS_LATENCY_BOUNDS_MS.length - 1];
}

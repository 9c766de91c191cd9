// BackendPolicy `adaptiveConcurrency`: the settings of the adaptive concurrency limit that the
// targeted Service's own sidecars enforce on their inbound side, in front of the app (Envoy's
// adaptive concurrency HTTP filter, gradient controller). Read here; run in
// src/proxy/filters/adaptive-concurrency/.

import { Checker, join } from '../validate.ts';

/**
 * Envoy's `GradientControllerConfig`, with durations in milliseconds and percents as integers
 * 0–100. Absent from a BackendPolicy: no limit (the default).
 */
export interface AdaptiveConcurrencySpec {
  /** Percentile of a window's latency samples that stands for it (sample RTT and minRTT). Envoy default 50. */
  readonly sampleAggregatePercentile: number;
  readonly concurrencyLimitParams: {
    /** Upper bound of the limit. Envoy default 1000. */
    readonly maxConcurrencyLimit: number;
    /** How often the limit is recalculated from the samples of the last interval, ms. Default 100. */
    readonly concurrencyUpdateIntervalMs: number;
  };
  readonly minRttCalcParams: {
    /** Time between minRTT measurements, ms (plus up to jitterPercent of it). Envoy default 60 s. */
    readonly intervalMs: number;
    /** Samples that make a minRTT measurement. Envoy default 50. */
    readonly requestCount: number;
    /** Random delay added to each interval, as a percent of it, so sidecars do not measure in step. Default 10. */
    readonly jitterPercent: number;
    /** The limit while minRTT is measured, and its floor at all times. Envoy default 3. */
    readonly minConcurrency: number;
    /** Latency above minRTT still taken as healthy, as a percent of minRTT. Envoy default 25. */
    readonly bufferPercent: number;
  };
}

export const DEFAULT_ADAPTIVE_CONCURRENCY: AdaptiveConcurrencySpec = {
  sampleAggregatePercentile: 50,
  concurrencyLimitParams: { maxConcurrencyLimit: 1000, concurrencyUpdateIntervalMs: 100 },
  minRttCalcParams: { intervalMs: 60_000, requestCount: 50, jitterPercent: 10, minConcurrency: 3, bufferPercent: 25 },
};

const LIMIT_FIELDS = ['maxConcurrencyLimit', 'concurrencyUpdateIntervalMs'] as const;
const MIN_RTT_FIELDS = ['intervalMs', 'requestCount', 'jitterPercent', 'minConcurrency', 'bufferPercent'] as const;

/**
 * Reads `adaptiveConcurrency` at `path`: every field optional, defaults filled in, errors recorded
 * in `c` with their field paths. Undefined when `raw` is undefined (no limit) or not an object.
 * `lenient` (the proxy's snapshot check): fields a newer control plane may add are not refused.
 */
export function readAdaptiveConcurrency(c: Checker, raw: unknown, path: string, lenient = false): AdaptiveConcurrencySpec | undefined {
  if (raw === undefined) return undefined;
  const o = c.object(raw, path);
  if (!o) return undefined;
  if (!lenient) c.noUnknown(o, path, ['sampleAggregatePercentile', 'concurrencyLimitParams', 'minRttCalcParams']);
  const d = DEFAULT_ADAPTIVE_CONCURRENCY;
  const sampleAggregatePercentile = c.integer(o.sampleAggregatePercentile, join(path, 'sampleAggregatePercentile'), { min: 0, max: 100 }) ?? d.sampleAggregatePercentile;

  let concurrencyLimitParams = d.concurrencyLimitParams;
  if (o.concurrencyLimitParams !== undefined) {
    const lp = join(path, 'concurrencyLimitParams');
    const l = c.object(o.concurrencyLimitParams, lp);
    if (l) {
      if (!lenient) c.noUnknown(l, lp, LIMIT_FIELDS);
      concurrencyLimitParams = {
        maxConcurrencyLimit: c.integer(l.maxConcurrencyLimit, join(lp, 'maxConcurrencyLimit'), { min: 1, max: 1_000_000 }) ?? d.concurrencyLimitParams.maxConcurrencyLimit,
        // At least 10 ms: each update sorts the interval's samples; a shorter one would hold too few.
        concurrencyUpdateIntervalMs: c.integer(l.concurrencyUpdateIntervalMs, join(lp, 'concurrencyUpdateIntervalMs'), { min: 10, max: 3_600_000 }) ?? d.concurrencyLimitParams.concurrencyUpdateIntervalMs,
      };
    }
  }

  let minRttCalcParams = d.minRttCalcParams;
  if (o.minRttCalcParams !== undefined) {
    const mp = join(path, 'minRttCalcParams');
    const m = c.object(o.minRttCalcParams, mp);
    if (m) {
      if (!lenient) c.noUnknown(m, mp, MIN_RTT_FIELDS);
      const dm = d.minRttCalcParams;
      minRttCalcParams = {
        intervalMs: c.integer(m.intervalMs, join(mp, 'intervalMs'), { min: 1_000, max: 86_400_000 }) ?? dm.intervalMs,
        requestCount: c.integer(m.requestCount, join(mp, 'requestCount'), { min: 1, max: 10_000 }) ?? dm.requestCount,
        jitterPercent: c.integer(m.jitterPercent, join(mp, 'jitterPercent'), { min: 0, max: 100 }) ?? dm.jitterPercent,
        minConcurrency: c.integer(m.minConcurrency, join(mp, 'minConcurrency'), { min: 1, max: 1_000_000 }) ?? dm.minConcurrency,
        bufferPercent: c.integer(m.bufferPercent, join(mp, 'bufferPercent'), { min: 0, max: 100 }) ?? dm.bufferPercent,
      };
    }
  }
  if (minRttCalcParams.minConcurrency > concurrencyLimitParams.maxConcurrencyLimit) {
    c.fail(join(path, 'minRttCalcParams.minConcurrency'), `must be at most concurrencyLimitParams.maxConcurrencyLimit (${concurrencyLimitParams.maxConcurrencyLimit}), got ${minRttCalcParams.minConcurrency}`);
  }
  return { sampleAggregatePercentile, concurrencyLimitParams, minRttCalcParams };
}

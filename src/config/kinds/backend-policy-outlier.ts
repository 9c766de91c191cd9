// BackendPolicy's passive health sections: `outlierDetection` (which endpoints a client proxy stops
// picking, and for how long) and `slowStart` (how a new or readmitted endpoint's share ramps up).
// Read by the API validator, MeshConfig's default policy and the proxy's snapshot check alike.

import { Checker, join } from '../validate.ts';

/**
 * Passive health checking, per client proxy and per Service port, after Envoy's outlier detection
 * (envoy.config.cluster.v3.OutlierDetection; field names as Istio spells them). A count of 0 turns
 * its rule off. Times in milliseconds.
 */
export interface OutlierDetection {
  /** Consecutive 5xx answers (gateway errors included, as in Envoy) that eject an endpoint. Envoy: consecutive_5xx. */
  readonly consecutive5xx: number;
  /** Consecutive gateway errors (502, 503, 504, connect failure, reset, timeout). Envoy: consecutive_gateway_failure. */
  readonly consecutiveGatewayErrors: number;
  /**
   * Consecutive connect failures (refused, unreachable, connect timeout). weft's own rule, default 1:
   * an endpoint that cannot be reached at all is skipped at once, as weft always did. Envoy's closest
   * is consecutive_local_origin_failure.
   */
  readonly consecutiveConnectFailures: number;
  /** How often success rates are judged and ejection counts decay. Envoy: interval (10 s). */
  readonly intervalMs: number;
  /** An ejection lasts this times the number of times the endpoint was ejected. Envoy: base_ejection_time (30 s). */
  readonly baseEjectionTimeMs: number;
  /** The cap on one ejection's length. Envoy: max_ejection_time (300 s). */
  readonly maxEjectionTimeMs: number;
  /**
   * Most of a port's eligible endpoints ejected at once, in percent, rounded down but at least one;
   * 0 ejects nothing. Default 50 (Envoy's is 10): with 2 or 3 endpoints either lets one go.
   */
  readonly maxEjectionPercent: number;
  readonly successRate: SuccessRateOutlier;
}

/** Envoy's success-rate outlier detection: eject below mean − stdevFactor × stdev over one interval. */
export interface SuccessRateOutlier {
  readonly enabled: boolean;
  /** Endpoints with `requestVolume` requests in the interval needed before any is judged. Envoy: success_rate_minimum_hosts. */
  readonly minimumHosts: number;
  /** Requests an endpoint needs in the interval to be judged (and counted). Envoy: success_rate_request_volume. */
  readonly requestVolume: number;
  /** A plain factor (1.9), where Envoy's success_rate_stdev_factor writes 1900 (thousandths). */
  readonly stdevFactor: number;
}

/**
 * Envoy's slow_start_config: a new or readmitted endpoint's weight is scaled by
 * max(minWeightPercent / 100, (t / windowMs) ^ (1 / aggression)) for t ms after it arrived.
 */
export interface SlowStart {
  /** The ramp's length; 0 turns slow start off. */
  readonly windowMs: number;
  /** 1 ramps linearly; above 1 climbs faster early on, below 1 slower. Envoy: aggression. */
  readonly aggression: number;
  /** The least share, in percent of the full weight, an endpoint gets while ramping. Envoy: min_weight_percent. */
  readonly minWeightPercent: number;
}

export const DEFAULT_OUTLIER_DETECTION: OutlierDetection = {
  consecutive5xx: 5,
  consecutiveGatewayErrors: 5,
  consecutiveConnectFailures: 1,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 50,
  successRate: { enabled: true, minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 },
};

export const DEFAULT_SLOW_START: SlowStart = { windowMs: 0, aggression: 1, minWeightPercent: 10 };

const OUTLIER_FIELDS = ['consecutive5xx', 'consecutiveGatewayErrors', 'consecutiveConnectFailures', 'intervalMs', 'baseEjectionTimeMs', 'maxEjectionTimeMs', 'maxEjectionPercent', 'successRate'] as const;
const DAY_MS = 86_400_000;

/** A finite number in (min, max], or undefined (with an error unless absent). */
function positiveNumber(c: Checker, value: unknown, path: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    c.fail(path, `must be a number, got ${JSON.stringify(value)}`);
    return undefined;
  }
  if (value <= 0 || value > max) {
    c.fail(path, `must be above 0 and at most ${max}, got ${value}`);
    return undefined;
  }
  return value;
}

/**
 * Reads `outlierDetection` at `path`, filling each absent field with its default (an absent section
 * is all defaults). Errors go to `c`; the returned value is then meaningless.
 */
export function readOutlierDetection(c: Checker, raw: unknown, path: string): OutlierDetection {
  const d = DEFAULT_OUTLIER_DETECTION;
  if (raw === undefined) return d;
  const o = c.object(raw, path);
  if (!o) return d;
  c.noUnknown(o, path, OUTLIER_FIELDS);
  const count = (k: string, dv: number): number => c.integer(o[k], join(path, k), { min: 0, max: 10_000 }) ?? dv;
  const base = c.integer(o.baseEjectionTimeMs, join(path, 'baseEjectionTimeMs'), { min: 1, max: DAY_MS }) ?? d.baseEjectionTimeMs;
  const max = c.integer(o.maxEjectionTimeMs, join(path, 'maxEjectionTimeMs'), { min: 1, max: DAY_MS }) ?? d.maxEjectionTimeMs;
  // Envoy uses max(base, max); here a max below the base is a mistake worth saying so.
  if (max < base) c.fail(join(path, 'maxEjectionTimeMs'), `must be at least baseEjectionTimeMs (${base}), got ${max}`);
  let successRate = d.successRate;
  if (o.successRate !== undefined) {
    const sp = join(path, 'successRate');
    const s = c.object(o.successRate, sp);
    if (s) {
      c.noUnknown(s, sp, ['enabled', 'minimumHosts', 'requestVolume', 'stdevFactor']);
      successRate = {
        enabled: c.boolean(s.enabled, join(sp, 'enabled')) ?? d.successRate.enabled,
        minimumHosts: c.integer(s.minimumHosts, join(sp, 'minimumHosts'), { min: 1, max: 10_000 }) ?? d.successRate.minimumHosts,
        requestVolume: c.integer(s.requestVolume, join(sp, 'requestVolume'), { min: 1, max: 1_000_000 }) ?? d.successRate.requestVolume,
        stdevFactor: positiveNumber(c, s.stdevFactor, join(sp, 'stdevFactor'), 100) ?? d.successRate.stdevFactor,
      };
    }
  }
  return {
    consecutive5xx: count('consecutive5xx', d.consecutive5xx),
    consecutiveGatewayErrors: count('consecutiveGatewayErrors', d.consecutiveGatewayErrors),
    consecutiveConnectFailures: count('consecutiveConnectFailures', d.consecutiveConnectFailures),
    intervalMs: c.integer(o.intervalMs, join(path, 'intervalMs'), { min: 10, max: DAY_MS }) ?? d.intervalMs,
    baseEjectionTimeMs: base,
    maxEjectionTimeMs: max,
    maxEjectionPercent: c.integer(o.maxEjectionPercent, join(path, 'maxEjectionPercent'), { min: 0, max: 100 }) ?? d.maxEjectionPercent,
    successRate,
  };
}

/** Reads `slowStart` at `path`, filling absent fields with their defaults (absent: off). */
export function readSlowStart(c: Checker, raw: unknown, path: string): SlowStart {
  const d = DEFAULT_SLOW_START;
  if (raw === undefined) return d;
  const s = c.object(raw, path);
  if (!s) return d;
  c.noUnknown(s, path, ['windowMs', 'aggression', 'minWeightPercent']);
  return {
    windowMs: c.integer(s.windowMs, join(path, 'windowMs'), { min: 0, max: 3_600_000 }) ?? d.windowMs,
    aggression: positiveNumber(c, s.aggression, join(path, 'aggression'), 100) ?? d.aggression,
    minWeightPercent: c.integer(s.minWeightPercent, join(path, 'minWeightPercent'), { min: 0, max: 100 }) ?? d.minWeightPercent,
  };
}

/**
 * The sections a proxy runs with: a policy stored (or a snapshot sent by a control plane) from before
 * they existed lacks them, and gets the defaults. Never throws; the snapshot check ran before.
 */
export function completeOutlierDetection(raw: Partial<OutlierDetection> | undefined): OutlierDetection {
  if (raw === undefined) return DEFAULT_OUTLIER_DETECTION;
  return { ...DEFAULT_OUTLIER_DETECTION, ...raw, successRate: { ...DEFAULT_OUTLIER_DETECTION.successRate, ...raw.successRate } };
}

export function completeSlowStart(raw: Partial<SlowStart> | undefined): SlowStart {
  return raw === undefined ? DEFAULT_SLOW_START : { ...DEFAULT_SLOW_START, ...raw };
}

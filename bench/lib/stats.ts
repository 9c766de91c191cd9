// Per-contender summary over rounds: medians of throughput, latency percentiles and peak memory,
// error totals, and the two comparisons the report leads with (throughput ÷ nginx, p99 − direct).

import type { WrkResult } from './wrk.ts';
import type { FixedRateResult } from './fixed-rate.ts';

export interface Sample {
  readonly contender: string;
  readonly round: number;
  readonly loadAverage: number;
  readonly wrk?: WrkResult;
  /** At the fixed rate on the warm process (after wrk): the headline latency. */
  readonly latency?: FixedRateResult;
  /** At the fixed rate on the fresh process, before any other load (where its RSS is measured). */
  readonly coldLatency?: FixedRateResult;
  /**
   * Summed over the contender's headline processes. idle: VmRSS before any load; atRate: the peak
   * during the fixed-rate phase (the first load the process sees); headline: the peak by the end of
   * the wrk saturation phase.
   */
  readonly memory?: { headlineHwmKiB: number; atRateHwmKiB?: number; idleRssKiB: number; processes: { pid: number; role: string; hwmKiB: number; rssKiB: number }[] };
  /** CPU steal (percent of the phase's time) during the headline fixed-rate phase and during wrk. */
  readonly steal?: { latencyProxyCpuPct: number; latencyLoadCpuPct: number; saturationProxyCpuPct: number };
  readonly selfReport?: Record<string, unknown>;
  readonly error?: string;
}

export interface Summary {
  readonly id: string;
  readonly label: string;
  readonly note?: string;
  readonly rounds: number;
  readonly failedRounds: number;
  readonly rps: number;
  readonly rpsRatioToNginx: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly coldP99Ms: number;
  readonly addedP99Ms: number;
  /** Median CPU steal on the proxy CPU during the headline fixed-rate phase, percent. */
  readonly stealPct: number;
  readonly peakRssMiB: number;
  readonly peakRssAtRateMiB: number;
  readonly idleRssMiB: number;
  readonly wrkNon2xx: number;
  readonly wrkSocketErrors: number;
  readonly latencyNon2xx: number;
  readonly latencyErrors: number;
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const r1 = (n: number): number => Math.round(n * 10) / 10;
const r3 = (n: number): number => Math.round(n * 1000) / 1000;

export function summarize(contenders: readonly { id: string; label: string; note?: string }[], samples: readonly Sample[]): Summary[] {
  const base = contenders.map((c) => {
    const mine = samples.filter((s) => s.contender === c.id);
    const good = mine.filter((s) => !s.error);
    const sum = (f: (s: Sample) => number): number => mine.reduce((t, s) => t + f(s), 0);
    return {
      id: c.id,
      label: c.label,
      note: c.note,
      rounds: mine.length,
      failedRounds: mine.length - good.length,
      rps: Math.round(median(good.map((s) => s.wrk?.requestsPerSec ?? NaN))),
      p50Ms: r3(median(good.map((s) => s.latency?.p50Ms ?? NaN))),
      p99Ms: r3(median(good.map((s) => s.latency?.p99Ms ?? NaN))),
      p999Ms: r3(median(good.map((s) => s.latency?.p999Ms ?? NaN))),
      coldP99Ms: r3(median(good.map((s) => s.coldLatency?.p99Ms ?? NaN))),
      stealPct: r1(median(good.map((s) => s.steal?.latencyProxyCpuPct ?? NaN))),
      peakRssMiB: r1(median(good.map((s) => (s.memory?.headlineHwmKiB ?? NaN) / 1024))),
      peakRssAtRateMiB: r1(median(good.map((s) => (s.memory?.atRateHwmKiB ?? NaN) / 1024))),
      idleRssMiB: r1(median(good.map((s) => (s.memory?.idleRssKiB ?? NaN) / 1024))),
      wrkNon2xx: sum((s) => s.wrk?.non2xx3xx ?? 0),
      wrkSocketErrors: sum((s) => (s.wrk ? Object.values(s.wrk.socketErrors).reduce((a, b) => a + b, 0) : 0)),
      latencyNon2xx: sum((s) => (s.latency?.non2xx ?? 0) + (s.coldLatency?.non2xx ?? 0)),
      latencyErrors: sum((s) => (s.latency ? s.latency.errors + s.latency.unfinished : 0) + (s.coldLatency ? s.coldLatency.errors + s.coldLatency.unfinished : 0)),
    };
  });
  const nginx = base.find((b) => b.id === 'nginx');
  const direct = base.find((b) => b.id === 'direct');
  return base.map((b) => ({
    ...b,
    rpsRatioToNginx: nginx && nginx.rps > 0 ? Math.round((b.rps / nginx.rps) * 100) / 100 : NaN,
    addedP99Ms: direct && b.id !== 'direct' ? r3(b.p99Ms - direct.p99Ms) : b.id === 'direct' ? 0 : NaN,
  }));
}

// Per-contender summary over rounds: medians of throughput, latency percentiles and peak memory over
// all rounds and over the clean ones (proxy-CPU steal ≤ 2%), error totals, and the comparisons the
// report's tables show (throughput ÷ each reference row of its table, p99 − direct, RSS − the floor).

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

/** A round is "stolen" when the hypervisor took more than this share of the proxy CPU (percent) in a measured phase. */
export const STEAL_LIMIT_PCT = 2;

/** The proxy-CPU steal that marks a sample: the larger of the saturation and the headline fixed-rate phase's. */
export function sampleStealPct(s: Sample): number {
  return Math.max(s.steal?.latencyProxyCpuPct ?? 0, s.steal?.saturationProxyCpuPct ?? 0);
}

export const isClean = (s: Sample): boolean => !s.error && sampleStealPct(s) <= STEAL_LIMIT_PCT;

/**
 * The rows each table's ratios are taken against: one hop against nginx and the one-hop Node floor,
 * the mesh path against the nginx mTLS mesh and the Node TLS floor. The floor (last of each) is also
 * what the RSS − floor column subtracts, round by round.
 */
export const REFERENCES: Readonly<Record<string, readonly [string, string]>> = {
  'one-hop': ['nginx', 'node-floor'],
  mesh: ['nginx-mesh', 'node-floor-2hops-tls'],
};

/** A median over all rounds and over the clean rounds only (NaN when there are none). */
export interface Both {
  readonly all: number;
  readonly clean: number;
}

export interface Summary {
  readonly id: string;
  readonly label: string;
  readonly note?: string;
  readonly group: string;
  readonly rounds: number;
  readonly failedRounds: number;
  /** Rounds without failure whose proxy-CPU steal stayed ≤ STEAL_LIMIT_PCT. */
  readonly cleanRounds: number;
  readonly rps: number;
  readonly rpsRatioToNginx: number;
  /** Throughput ÷ each reference of this row's table (REFERENCES), keyed by the reference's id. */
  readonly ratios: Readonly<Record<string, Both>>;
  readonly rpsBoth: Both;
  readonly p99Both: Both;
  /** p99 − direct's p99, each over its own all / clean rounds. */
  readonly addedP99Both: Both;
  /** Median over rounds of this round's fresh-process p99 ÷ its warm p99. */
  readonly coldOverWarmP99: number;
  /** Median over rounds of peak RSS at the fixed rate − the table's Node floor's in the same round, MiB. */
  readonly rssOverFloorMiB: number;
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

export function summarize(contenders: readonly { id: string; label: string; note?: string; group: string }[], samples: readonly Sample[]): Summary[] {
  const base = contenders.map((c) => {
    const mine = samples.filter((s) => s.contender === c.id);
    const good = mine.filter((s) => !s.error);
    const clean = good.filter(isClean);
    const sum = (f: (s: Sample) => number): number => mine.reduce((t, s) => t + f(s), 0);
    const both = (f: (s: Sample) => number | undefined, round: (n: number) => number): Both => ({ all: round(median(good.map((s) => f(s) ?? NaN))), clean: round(median(clean.map((s) => f(s) ?? NaN))) });
    const floorId = REFERENCES[c.group]?.[1];
    const floorAtRate = (round: number): number => samples.find((s) => s.contender === floorId && s.round === round && !s.error)?.memory?.atRateHwmKiB ?? NaN;
    return {
      id: c.id,
      label: c.label,
      note: c.note,
      group: c.group,
      rounds: mine.length,
      failedRounds: mine.length - good.length,
      cleanRounds: clean.length,
      rpsBoth: both((s) => s.wrk?.requestsPerSec, Math.round),
      p99Both: both((s) => s.latency?.p99Ms, r3),
      coldOverWarmP99: Math.round(median(good.map((s) => (s.coldLatency?.p99Ms ?? NaN) / (s.latency?.p99Ms ?? NaN))) * 100) / 100,
      rssOverFloorMiB: floorId && floorId !== c.id ? r1(median(good.map((s) => ((s.memory?.atRateHwmKiB ?? NaN) - floorAtRate(s.round)) / 1024))) : NaN,
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
  const r2 = (n: number): number => Math.round(n * 100) / 100;
  const ratio = (a: number, b: number | undefined): number => (b !== undefined && b > 0 ? r2(a / b) : NaN);
  return base.map((b) => ({
    ...b,
    rpsRatioToNginx: ratio(b.rps, nginx?.rps),
    ratios: Object.fromEntries((REFERENCES[b.group] ?? []).map((refId) => {
      const ref = base.find((x) => x.id === refId);
      return [refId, { all: ratio(b.rpsBoth.all, ref?.rpsBoth.all), clean: ratio(b.rpsBoth.clean, ref?.rpsBoth.clean) }];
    })),
    addedP99Ms: direct && b.id !== 'direct' ? r3(b.p99Ms - direct.p99Ms) : b.id === 'direct' ? 0 : NaN,
    addedP99Both: direct && b.id !== 'direct'
      ? { all: r3(b.p99Both.all - direct.p99Both.all), clean: r3(b.p99Both.clean - direct.p99Both.clean) }
      : b.id === 'direct' ? { all: 0, clean: 0 } : { all: NaN, clean: NaN },
  }));
}

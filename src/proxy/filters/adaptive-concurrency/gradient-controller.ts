// The adaptive concurrency limit's arithmetic (Envoy's gradient controller, after Netflix's
// concurrency-limits Gradient): admits or sheds each inbound request and learns the limit from
// latency samples. Pure and clocked (an injected Clock and random), so tests drive it without sleeping.

import type { Clock, Timer } from '../../../lib/clock.ts';
import type { AdaptiveConcurrencySpec } from '../../../config/kinds/backend-policy-adaptive-concurrency.ts';

/** Samples kept per window; beyond it a uniform reservoir sample stands for the window. */
const SAMPLE_CAPACITY = 4096;
/** Envoy: a limit pinned at minConcurrency this many windows in a row means the minRTT is stale: measure it again. */
const MIN_LIMIT_WINDOWS_BEFORE_RECALC = 5;

export interface GradientControllerOptions {
  readonly config: AdaptiveConcurrencySpec;
  readonly clock: Clock;
  /** Uniform in [0, 1): the jitter of the minRTT interval and the reservoir's choices. Default Math.random. */
  readonly random?: () => number;
  /** Called on the slow path whenever the limit or minRTT changes (metrics). minRttMs is 0 before the first measurement. */
  readonly onChange?: (limit: number, minRttMs: number) => void;
}

/**
 * The gradient controller, as Envoy's adaptive concurrency filter documents it:
 *  - minRTT: the latency of `requestCount` requests admitted while the limit is held at
 *    `minConcurrency`, aggregated at `sampleAggregatePercentile`; measured at start, then every
 *    `intervalMs` plus a random jitter of up to `jitterPercent` %, and at once when the limit has
 *    sat at minConcurrency for 5 windows in a row.
 *  - every `concurrencyUpdateIntervalMs`: sampleRTT = the window's percentile,
 *    gradient = clamp((minRTT + minRTT × bufferPercent/100) / sampleRTT, 0.5, 2),
 *    limit = limit × gradient + sqrt(limit × gradient) (headroom for bursts), floored and
 *    clamped to [minConcurrency, maxConcurrencyLimit].
 * Per request (hot path): `admit` and then exactly one of `release` / `cancel`; no allocation.
 */
export class GradientController {
  readonly config: AdaptiveConcurrencySpec;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #onChange: ((limit: number, minRttMs: number) => void) | undefined;
  /** Requests admitted and not yet released. */
  inFlight = 0;
  /** Requests the app may have at once now. */
  limit: number;
  /** 0 before the first measurement. */
  minRttMs = 0;
  /** The last window's aggregate latency; 0 before the first. */
  sampleRttMs = 0;
  /** Bumped when a minRTT measurement starts: samples of requests admitted before it are not counted in it. */
  #epoch = 0;
  #measuring = false;
  /** The limit to go back to when a minRTT measurement ends. */
  #deferredLimit = 0;
  #minLimitWindows = 0;
  readonly #samples = new Float64Array(SAMPLE_CAPACITY);
  /** Samples offered in this window (may exceed the capacity: reservoir). */
  #seen = 0;
  #updateTimer: Timer | undefined;
  #minRttTimer: Timer | undefined;
  #closed = false;

  constructor(o: GradientControllerOptions) {
    this.config = o.config;
    this.#clock = o.clock;
    this.#random = o.random ?? Math.random;
    this.#onChange = o.onChange;
    // Envoy starts at minConcurrency and measures minRTT first.
    this.limit = o.config.minRttCalcParams.minConcurrency;
    this.#startMinRttMeasurement();
  }

  /** Whether a minRTT measurement is under way (the limit is held at minConcurrency). */
  get measuringMinRtt(): boolean {
    return this.#measuring;
  }

  /**
   * Hot path: a slot for one request, or -1 when the limit is reached (shed it). The value returned
   * is a token to hand back to `release`.
   */
  admit(): number {
    if (this.inFlight >= this.limit) return -1;
    this.inFlight++;
    return this.#epoch;
  }

  /** The request admitted with `token` is done and the app answered after `latencyMs`: its slot frees and its latency counts. */
  release(token: number, latencyMs: number): void {
    this.inFlight--;
    if (this.#closed) return;
    // A request admitted before a minRTT measurement began ran at the old concurrency: not a minRTT sample.
    if (this.#measuring && token !== this.#epoch) return;
    this.#record(latencyMs);
    if (this.#measuring && this.#seen >= this.config.minRttCalcParams.requestCount) this.#finishMinRttMeasurement();
  }

  /** The request is done without an answer from the app (client gone, app unreachable): its slot frees, no sample. */
  cancel(): void {
    this.inFlight--;
  }

  /** Stops the timers (the config changed or the sidecar stops); admitted requests may still release. */
  close(): void {
    this.#closed = true;
    this.#updateTimer?.cancel();
    this.#minRttTimer?.cancel();
    this.#updateTimer = this.#minRttTimer = undefined;
  }

  #record(latencyMs: number): void {
    const i = this.#seen++;
    if (i < SAMPLE_CAPACITY) this.#samples[i] = latencyMs;
    else {
      // Algorithm R: each of the window's samples ends up kept with the same probability.
      const j = Math.floor(this.#random() * (i + 1));
      if (j < SAMPLE_CAPACITY) this.#samples[j] = latencyMs;
    }
  }

  /** The window's samples at sampleAggregatePercentile (nearest rank), and the window cleared. */
  #aggregate(): number {
    const n = Math.min(this.#seen, SAMPLE_CAPACITY);
    const sorted = this.#samples.subarray(0, n).sort();
    const rank = Math.ceil((this.config.sampleAggregatePercentile / 100) * n);
    const value = sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
    this.#seen = 0;
    return value;
  }

  #startMinRttMeasurement(): void {
    if (this.#closed) return;
    this.#minRttTimer?.cancel();
    this.#minRttTimer = undefined;
    this.#updateTimer?.cancel();
    this.#updateTimer = undefined;
    this.#measuring = true;
    this.#epoch++;
    this.#deferredLimit = this.limit;
    this.limit = this.config.minRttCalcParams.minConcurrency;
    // Samples from before ran at another concurrency.
    this.#seen = 0;
    this.#minLimitWindows = 0;
    this.#onChange?.(this.limit, this.minRttMs);
  }

  #finishMinRttMeasurement(): void {
    this.minRttMs = this.#aggregate();
    this.#measuring = false;
    this.limit = this.#deferredLimit;
    const p = this.config.minRttCalcParams;
    // Envoy's jitter: the next measurement comes interval + [0, jitter% × interval) later.
    const jitter = Math.floor(this.#random() * (p.intervalMs * p.jitterPercent) / 100);
    this.#minRttTimer = this.#clock.setTimeout(() => this.#startMinRttMeasurement(), p.intervalMs + jitter);
    this.#armUpdate();
    this.#onChange?.(this.limit, this.minRttMs);
  }

  #armUpdate(): void {
    this.#updateTimer = this.#clock.setTimeout(() => this.#update(), this.config.concurrencyLimitParams.concurrencyUpdateIntervalMs);
  }

  /** The end of an update window: a new limit from its samples (none: the limit stands). */
  #update(): void {
    this.#updateTimer = undefined;
    if (this.#closed || this.#measuring) return;
    if (this.#seen > 0) {
      this.sampleRttMs = this.#aggregate();
      const limit = nextLimit(this.limit, this.minRttMs, this.sampleRttMs, this.config);
      const changed = limit !== this.limit;
      this.limit = limit;
      if (changed) this.#onChange?.(this.limit, this.minRttMs);
      this.#minLimitWindows = limit === this.config.minRttCalcParams.minConcurrency ? this.#minLimitWindows + 1 : 0;
      if (this.#minLimitWindows >= MIN_LIMIT_WINDOWS_BEFORE_RECALC) {
        this.#startMinRttMeasurement();
        return;
      }
    }
    this.#armUpdate();
  }
}

/**
 * One step of the gradient controller (Envoy `calculateNewLimit`): the limit after a window whose
 * aggregate latency was `sampleRttMs`, given `minRttMs`. Pure.
 */
export function nextLimit(limit: number, minRttMs: number, sampleRttMs: number, config: AdaptiveConcurrencySpec): number {
  const p = config.minRttCalcParams;
  const buffered = minRttMs + (minRttMs * p.bufferPercent) / 100;
  // A window of instant answers (0 ms) is as good as it gets: the largest step up.
  const gradient = sampleRttMs > 0 ? Math.max(0.5, Math.min(2, buffered / sampleRttMs)) : 2;
  const scaled = limit * gradient;
  const next = Math.floor(scaled + Math.sqrt(scaled));
  return Math.max(p.minConcurrency, Math.min(config.concurrencyLimitParams.maxConcurrencyLimit, next));
}

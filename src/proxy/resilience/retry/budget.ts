// The retry budget of one destination Service in one client sidecar (Linkerd's retryBudget, after
// Finagle's RetryBudget): forward.ts records every request and asks it before each retry, so that
// when a Service fails, retries add at most a bounded share to its load instead of multiplying it.

import { systemClock, type Clock } from '../../../lib/clock.ts';

/** performance.timeOrigin, read once: `TIME_ORIGIN + performance.now()` is epoch ms on the monotonic clock. */
const TIME_ORIGIN = performance.timeOrigin;

/**
 * The budgets' default clock: epoch milliseconds from the monotonic clock (a wall-clock step does
 * not move the window), in the same base as `requestTime`, so the request path can deposit at the
 * arrival time it already read instead of reading a clock again.
 */
export const monotonicClock: Clock = { now: () => TIME_ORIGIN + performance.now(), setTimeout: systemClock.setTimeout };

/** A performance.now() reading (the request path's) as a time on monotonicClock. */
export function requestTime(performanceNow: number): number {
  return TIME_ORIGIN + performanceNow;
}

/** A budget's parameters (BackendPolicy `retries.budget`, completed with its defaults). */
export interface RetryBudgetConfig {
  /** Share of requests that may be retried, 0–1. */
  readonly ratio: number;
  /** Retries allowed per second on top of the ratio. */
  readonly minRetriesPerSecond: number;
  /** The window, in ms: whole seconds. */
  readonly ttlMs: number;
}

/**
 * Requests and retries counted over the last `ttlMs` in a ring of one-second buckets (no allocation
 * after construction). A retry is allowed while, over the window,
 *
 *     retries + 1 ≤ ratio × requests + minRetriesPerSecond × ttlMs / 1000
 *
 * (Finagle's reserve of minRetriesPerSec × ttl plus a deposit of `ratio` per request, withdrawn
 * one per retry; retries themselves deposit nothing). The window is the current second and the
 * ttl/1000 − 1 before it, so a count leaves the window between ttl − 1 s and ttl after it was made.
 */
export class RetryBudget {
  #ratio: number;
  #minPerSecond: number;
  #reserve: number;
  #requests: Float64Array;
  #retries: Float64Array;
  /** The second (clock ms / 1000, floored) the newest bucket belongs to. */
  #second = -1;
  #sumRequests = 0;
  #sumRetries = 0;
  readonly #clock: Clock;

  constructor(config: RetryBudgetConfig, clock: Clock = monotonicClock) {
    this.#clock = clock;
    const n = Math.max(1, Math.ceil(config.ttlMs / 1000));
    this.#requests = new Float64Array(n);
    this.#retries = new Float64Array(n);
    this.#ratio = config.ratio;
    this.#minPerSecond = config.minRetriesPerSecond;
    this.#reserve = config.minRetriesPerSecond * n;
  }

  /** Whether this budget was made for `config` (its window length); ratio and minimum can change in place. */
  fits(config: RetryBudgetConfig): boolean {
    return this.#requests.length === Math.max(1, Math.ceil(config.ttlMs / 1000));
  }

  /** A new policy's ratio and minimum, keeping what was counted (same window length: see fits). */
  reconfigure(config: RetryBudgetConfig): void {
    this.#ratio = config.ratio;
    this.#minPerSecond = config.minRetriesPerSecond;
    this.#reserve = config.minRetriesPerSecond * this.#requests.length;
  }

  /**
   * Moves the ring to the second of `now` (this budget's clock), emptying the buckets that left the
   * window. A reading older than the newest second (taken before another caller rolled on) counts
   * in the newest bucket: the ring never moves back.
   */
  #roll(now: number): number {
    const second = Math.floor(now / 1000);
    const n = this.#requests.length;
    if (second <= this.#second) return this.#second % n;
    const idx = second % n;
    const steps = this.#second < 0 ? n : Math.min(n, second - this.#second);
    for (let i = 1; i <= steps; i++) {
      const j = (this.#second + i) % n;
      const k = j < 0 ? j + n : j;
      this.#sumRequests -= this.#requests[k];
      this.#sumRetries -= this.#retries[k];
      this.#requests[k] = 0;
      this.#retries[k] = 0;
    }
    this.#second = second;
    return idx;
  }

  /**
   * One request (not a retry) went to the Service: deposits `ratio` into the budget. `now`: the
   * time on this budget's clock if the caller has it (forward.ts passes the request's arrival as
   * `requestTime(arrivedAt)`, which is the default clock's base); absent, the clock is read.
   */
  recordRequest(now: number = this.#clock.now()): void {
    const idx = this.#roll(now);
    this.#requests[idx]++;
    this.#sumRequests++;
  }

  /** Whether one more retry fits now (it is not counted: see recordRetry). */
  canRetry(): boolean {
    this.#roll(this.#clock.now());
    return this.#sumRetries + 1 <= this.#ratio * this.#sumRequests + this.#reserve;
  }

  /** A retry is being made: withdraws one. */
  recordRetry(): void {
    const idx = this.#roll(this.#clock.now());
    this.#retries[idx]++;
    this.#sumRetries++;
  }

  /** Retries that would be allowed now, floored (for metrics and tests). */
  allowance(): number {
    this.#roll(this.#clock.now());
    return Math.max(0, Math.floor(this.#ratio * this.#sumRequests + this.#reserve - this.#sumRetries));
  }

  get minRetriesPerSecond(): number {
    return this.#minPerSecond;
  }
}

/**
 * The budgets of one client sidecar's data plane, one per destination Service, kept across
 * snapshots (a policy change adjusts a budget in place; a new window length starts it afresh).
 * Lookup is one Map get per request, plus one compare when the policy value changed.
 */
export class RetryBudgets {
  readonly #budgets = new Map<string, { budget: RetryBudget; config: RetryBudgetConfig }>();
  readonly #clock: Clock;

  constructor(clock: Clock = monotonicClock) {
    this.#clock = clock;
  }

  /** The budget for `service` (e.g. `reviews.default`) under `config` (a compiled policy's, compared by identity first). */
  of(service: string, config: RetryBudgetConfig): RetryBudget {
    const have = this.#budgets.get(service);
    if (have !== undefined && have.config === config) return have.budget;
    if (have !== undefined && have.budget.fits(config)) {
      have.budget.reconfigure(config);
      have.config = config;
      return have.budget;
    }
    const budget = new RetryBudget(config, this.#clock);
    // Bounded by the Services of the mesh (and `passthrough`), like the metrics' labels.
    this.#budgets.set(service, { budget, config });
    return budget;
  }
}

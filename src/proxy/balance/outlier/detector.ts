// Outlier detection, the bookkeeping: which endpoints of one Service port are ejected, until when,
// how long the next ejection lasts, the maxEjectionPercent cap, and the interval timer that judges
// success rates and lets ejection counts decay. Envoy's model (outlier_detection.proto, DetectorImpl);
// the balancer (balancer.ts) asks it what to leave out of the picker it publishes.

import { DEFAULT_OUTLIER_DETECTION, type OutlierDetection } from '../../../config/kinds/backend-policy-outlier.ts';
import type { Clock, Timer } from '../../../lib/clock.ts';
import { resetConsecutive, type EjectionReason, type OutlierCounters } from './outcome.ts';
import { isSuccessRateOutlier, successRateThreshold } from './success-rate.ts';

/** What the detector keeps per endpoint: EndpointState implements it. */
export interface OutlierEndpoint extends OutlierCounters {
  readonly id: string;
  /** The algorithm in force may pick it (set by the balancer). */
  eligible: boolean;
  ejected: boolean;
  /** Clock ms the current ejection ends; meaningful while `ejected`. */
  ejectedUntil: number;
  /** Envoy's ejection multiplier: ejections so far, less one per interval spent healthy. */
  ejectionCount: number;
  lastEjectionReason: EjectionReason | undefined;
}

/** Where ejections are reported (the proxy's metrics); all calls are on the slow path. */
export interface EjectionObserver {
  ejected(reason: EjectionReason): void;
  /** An ejection ended: readmitted, its endpoint left, or the balancer closed. */
  ended(): void;
}

export interface DetectorHooks<E> {
  /** The ejected set changed: publish a new picker. */
  changed(): void;
  /** `e` is back after an ejection (slow start begins its ramp here). */
  readmitted(e: E): void;
}

/**
 * How long ejection number `count` lasts: base × count, capped at max(base, max). Envoy:
 * base_ejection_time × num_ejections, bounded by max_ejection_time.
 */
export function ejectionTimeMs(count: number, rules: OutlierDetection): number {
  return Math.min(rules.baseEjectionTimeMs * count, Math.max(rules.baseEjectionTimeMs, rules.maxEjectionTimeMs));
}

/**
 * How many of `eligible` endpoints may be ejected at once: maxEjectionPercent of them rounded down,
 * but at least one (as Envoy does), and none when the percent is 0.
 */
export function ejectionLimit(eligible: number, maxEjectionPercent: number): number {
  if (maxEjectionPercent <= 0 || eligible === 0) return 0;
  return Math.max(1, Math.floor((eligible * maxEjectionPercent) / 100));
}

export class OutlierDetector<E extends OutlierEndpoint> {
  /** Read by EndpointState on each outcome; replaced (not mutated) by configure. */
  rules: OutlierDetection = DEFAULT_OUTLIER_DETECTION;
  readonly #clock: Clock;
  readonly #hooks: DetectorHooks<E>;
  readonly #observer: EjectionObserver | undefined;
  #current: ReadonlyMap<string, E> = new Map();
  #eligible: readonly E[] = [];
  /** Ejected endpoints still in #current; small, so scanning it on the slow path is fine. */
  readonly #ejected = new Set<E>();
  #readmitTimer: Timer | undefined;
  #readmitAt = Infinity;
  #intervalTimer: Timer | undefined;
  readonly #onReadmitTimer = (): void => this.#readmit();
  readonly #onIntervalTimer = (): void => this.#interval();

  constructor(clock: Clock, hooks: DetectorHooks<E>, observer?: EjectionObserver) {
    this.#clock = clock;
    this.#hooks = hooks;
    this.#observer = observer;
  }

  /**
   * A new endpoint set and policy. Endpoints that left forget their ejection (in-flight outcomes
   * still settle on their old state objects, which no longer count). Does not call `changed`: the
   * balancer rebuilds after an update anyway.
   */
  update(current: ReadonlyMap<string, E>, eligible: readonly E[], rules: OutlierDetection): void {
    this.rules = rules;
    this.#current = current;
    this.#eligible = eligible;
    for (const e of this.#ejected) {
      if (current.get(e.id) === e) continue;
      this.#ejected.delete(e);
      e.ejected = false;
      this.#observer?.ended();
    }
    this.#scheduleReadmit();
    this.#scheduleInterval();
  }

  /**
   * Ends `e`'s ejection now: the catalog saw it fail its health and pass again, a stronger verdict
   * than the wait (Envoy: successful_active_health_check_uneject_host, default true). Like update,
   * leaves the rebuild to the caller; the readmitted hook is not called (the caller ramps what
   * becomes pickable anyway).
   */
  readmitNow(e: E): void {
    if (!e.ejected || !this.#ejected.delete(e)) return;
    e.ejected = false;
    resetConsecutive(e);
    this.#observer?.ended();
    this.#scheduleReadmit();
  }

  isEjected(e: E): boolean {
    return e.ejected && this.#ejected.has(e);
  }

  get ejectedCount(): number {
    return this.#ejected.size;
  }

  /**
   * A rule tripped on `e` (called from its outcome, so only the trip itself reaches the slow path).
   * Ejects unless `e` is stale, ineligible, already ejected, or the cap is reached; in that last case
   * the run goes on counting and the next failure tries again, as a cap that frees up should allow.
   */
  trip(e: E, reason: EjectionReason): void {
    if (this.#current.get(e.id) !== e || !e.eligible || e.ejected) return;
    if (!this.#eject(e, reason)) return;
    this.#scheduleReadmit();
    this.#scheduleInterval();
    this.#hooks.changed();
  }

  /** Ends every ejection and timer (the service or port left the snapshot). */
  close(): void {
    for (const e of this.#ejected) {
      e.ejected = false;
      this.#observer?.ended();
    }
    this.#ejected.clear();
    this.#readmitTimer?.cancel();
    this.#readmitTimer = undefined;
    this.#intervalTimer?.cancel();
    this.#intervalTimer = undefined;
  }

  #eject(e: E, reason: EjectionReason): boolean {
    let ejectedEligible = 0;
    for (const s of this.#ejected) if (s.eligible) ejectedEligible++;
    if (ejectedEligible >= ejectionLimit(this.#eligible.length, this.rules.maxEjectionPercent)) return false;
    const rules = this.rules;
    // The multiplier stops growing once the cap is reached, so decay from the cap takes as many
    // intervals as it took ejections to get there, not more.
    const ceiling = Math.max(1, Math.ceil(Math.max(rules.baseEjectionTimeMs, rules.maxEjectionTimeMs) / rules.baseEjectionTimeMs));
    e.ejectionCount = Math.min(e.ejectionCount + 1, ceiling);
    e.ejected = true;
    e.ejectedUntil = this.#clock.now() + ejectionTimeMs(e.ejectionCount, rules);
    e.lastEjectionReason = reason;
    resetConsecutive(e);
    this.#ejected.add(e);
    this.#observer?.ejected(reason);
    return true;
  }

  /** One timer, for the earliest ejection to end; none when nothing is ejected. */
  #scheduleReadmit(): void {
    let earliest = Infinity;
    for (const e of this.#ejected) if (e.ejectedUntil < earliest) earliest = e.ejectedUntil;
    if (earliest === this.#readmitAt && this.#readmitTimer !== undefined) return;
    this.#readmitTimer?.cancel();
    this.#readmitTimer = undefined;
    this.#readmitAt = earliest;
    if (earliest === Infinity) return;
    this.#readmitTimer = this.#clock.setTimeout(this.#onReadmitTimer, Math.max(0, earliest - this.#clock.now()));
  }

  /**
   * Readmits on the dot rather than at the next interval (where Envoy does it): a short ejection
   * time means what it says.
   */
  #readmit(): void {
    this.#readmitTimer = undefined;
    this.#readmitAt = Infinity;
    const now = this.#clock.now();
    let changed = false;
    for (const e of this.#ejected) {
      if (e.ejectedUntil > now) continue;
      this.#ejected.delete(e);
      e.ejected = false;
      resetConsecutive(e);
      this.#observer?.ended();
      this.#hooks.readmitted(e);
      changed = true;
    }
    this.#scheduleReadmit();
    if (changed) this.#hooks.changed();
  }

  /** The interval timer runs only when there is something to do: success rates to judge or counts to decay. */
  #scheduleInterval(): void {
    const sr = this.rules.successRate;
    let needed = sr.enabled && this.#eligible.length >= sr.minimumHosts;
    if (!needed) for (const e of this.#current.values()) if (e.ejectionCount > 0) { needed = true; break; }
    if (!needed) {
      this.#intervalTimer?.cancel();
      this.#intervalTimer = undefined;
      return;
    }
    if (this.#intervalTimer !== undefined) return;
    // A fresh interval: counts gathered while nobody judged them would be stale.
    for (const e of this.#current.values()) {
      e.intervalRequests = 0;
      e.intervalSuccesses = 0;
    }
    this.#intervalTimer = this.#clock.setTimeout(this.#onIntervalTimer, this.rules.intervalMs);
  }

  /** Envoy's DetectorImpl::onIntervalTimer: decay, then success-rate ejections, then a new interval. */
  #interval(): void {
    this.#intervalTimer = undefined;
    const rules = this.rules;
    for (const e of this.#current.values()) if (!e.ejected && e.ejectionCount > 0) e.ejectionCount--;
    let changed = false;
    if (rules.successRate.enabled) {
      const judged = this.#eligible.filter((e) => !e.ejected);
      const threshold = successRateThreshold(judged, rules.successRate);
      if (threshold !== undefined) {
        for (const e of judged) {
          if (isSuccessRateOutlier(e, threshold, rules.successRate) && this.#eject(e, 'success-rate')) changed = true;
        }
      }
    }
    if (changed) this.#scheduleReadmit();
    this.#scheduleInterval();
    if (changed) this.#hooks.changed();
  }
}

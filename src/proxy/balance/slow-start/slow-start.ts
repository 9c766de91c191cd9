// Slow start, the bookkeeping: which endpoints are ramping, and a timer every windowMs / 10 that
// moves their weight factors on and asks the balancer to publish a new picker. Idle (no timer) when
// nothing ramps.

import type { SlowStart } from '../../../config/kinds/backend-policy-outlier.ts';
import { DEFAULT_SLOW_START } from '../../../config/kinds/backend-policy-outlier.ts';
import type { Clock, Timer } from '../../../lib/clock.ts';
import { slowStartFactor } from './ramp.ts';

/** What the tracker moves: EndpointState implements it. */
export interface RampingEndpoint {
  /** Clock ms the ramp began. */
  rampStart: number;
  /** The current share of the full weight, in (0, 1]; read by pickers through Candidate.weightFactor(). */
  slowStartFactor: number;
}

/** Recomputation steps per window: fine enough for a smooth ramp, coarse enough to cost nothing. */
const STEPS = 10;

export class SlowStartTracker<E extends RampingEndpoint> {
  readonly #clock: Clock;
  readonly #onChange: () => void;
  #config: SlowStart = DEFAULT_SLOW_START;
  readonly #ramping = new Set<E>();
  #timer: Timer | undefined;
  readonly #onTimer = (): void => this.#tick();

  /** `onChange` runs (on the slow path) after factors moved, to publish a picker that uses them. */
  constructor(clock: Clock, onChange: () => void) {
    this.#clock = clock;
    this.#onChange = onChange;
  }

  /** A new policy. Turning slow start off ends every ramp at once (the caller rebuilds anyway). */
  configure(config: SlowStart): void {
    this.#config = config;
    if (config.windowMs > 0) return;
    for (const e of this.#ramping) e.slowStartFactor = 1;
    this.#ramping.clear();
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Starts (or restarts) `e`'s ramp now; does nothing when slow start is off. The caller rebuilds. */
  start(e: E): void {
    if (this.#config.windowMs <= 0) return;
    e.rampStart = this.#clock.now();
    e.slowStartFactor = slowStartFactor(0, this.#config);
    this.#ramping.add(e);
    this.#timer ??= this.#clock.setTimeout(this.#onTimer, this.#step());
  }

  /** `e` left the balancer: its ramp is of no interest any more. */
  forget(e: E): void {
    this.#ramping.delete(e);
  }

  get size(): number {
    return this.#ramping.size;
  }

  /** Cancels the timer; the tracker is not used again. */
  close(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#ramping.clear();
  }

  #step(): number {
    return Math.max(1, Math.ceil(this.#config.windowMs / STEPS));
  }

  #tick(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (const e of this.#ramping) {
      e.slowStartFactor = slowStartFactor(now - e.rampStart, this.#config);
      if (e.slowStartFactor >= 1) this.#ramping.delete(e);
    }
    if (this.#ramping.size > 0) this.#timer = this.#clock.setTimeout(this.#onTimer, this.#step());
    this.#onChange();
  }
}

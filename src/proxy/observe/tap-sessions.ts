// The sidecar's taps as the admin listener opens them (GET /tap): at most TAP_MAX_SESSIONS at once,
// each one a Tap on the main thread's data plane plus, with --workers, a relay on every worker
// thread whose events come back here and pass the same bucket (the rate is the sidecar's).

import { TAP_MAX_SESSIONS, type TapQuery, type TapRequestEvent } from '../../config/tap.ts';
import type { Clock } from '../../lib/clock.ts';
import { Tap, type TapHub } from './tap.ts';

/** How taps reach worker threads (workers/worker-pool.ts implements it). */
export interface TapRelay {
  /** Open tap `id` on every worker (and on workers started later) with this query. */
  openTap(id: number, query: TapQuery): void;
  closeTap(id: number): void;
}

/** An open tap, for the stream that serves it. */
export interface TapSession {
  /** Drops since the last call, here and on the workers. */
  takeDropped(): number;
  /** Detaches the tap everywhere at once (idempotent). */
  close(): void;
}

export interface TapSessionsOptions {
  readonly hub: TapHub;
  readonly relay?: TapRelay;
  readonly clock: Clock;
  readonly max?: number;
  /** Counters of events sent and dropped, and the gauge of taps open (admin/proxy-metrics.ts). */
  readonly metrics?: {
    readonly events: { inc(labels: { result: string }, by?: number): void };
    readonly active: { set(labels: Record<string, string>, value: number): void };
  };
}

export class TapSessions {
  readonly #o: TapSessionsOptions;
  readonly #open = new Map<number, Tap>();
  #nextId = 0;

  constructor(o: TapSessionsOptions) {
    this.#o = o;
  }

  /** Taps open now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Opens a tap whose events go to `deliver` (false: the reader is full, the event is dropped).
   * Undefined when TAP_MAX_SESSIONS (or `max`) are open already.
   */
  open(query: TapQuery, deliver: (e: TapRequestEvent) => boolean): TapSession | undefined {
    if (this.#open.size >= (this.#o.max ?? TAP_MAX_SESSIONS)) return undefined;
    const id = ++this.#nextId;
    const metrics = this.#o.metrics;
    const tap = new Tap(query, () => this.#o.clock.now(), (e) => {
      const sent = deliver(e);
      if (sent) metrics?.events.inc({ result: 'sent' });
      return sent;
    }, metrics && ((n) => metrics.events.inc({ result: 'dropped' }, n)));
    this.#open.set(id, tap);
    this.#o.hub.add(tap);
    this.#o.relay?.openTap(id, query);
    metrics?.active.set({}, this.#open.size);
    let closed = false;
    return {
      // Counted in the metric as they happen (Tap's onDropped); this is only the stream's line.
      takeDropped: () => tap.takeDropped(),
      close: () => {
        if (closed) return;
        closed = true;
        this.#open.delete(id);
        this.#o.hub.remove(tap);
        this.#o.relay?.closeTap(id);
        metrics?.active.set({}, this.#open.size);
      },
    };
  }

  /** An event a worker's relay of tap `id` passed (late ones, after the tap closed, are ignored). */
  fromWorker(id: number, event: TapRequestEvent): void {
    this.#open.get(id)?.offerEvent(event);
  }

  /** Events a worker's relay of tap `id` dropped. */
  droppedOnWorker(id: number, n: number): void {
    this.#open.get(id)?.addDropped(n);
  }
}

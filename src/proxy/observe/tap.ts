// Live taps on a data plane's finished requests: the Observer hands each ended fate to the hub, but
// only while a tap is open (one boolean check on the request path, nothing allocated otherwise). A
// tap filters, rate-limits with a token bucket and counts what it drops; it never queues.

import type { TapFilter, TapQuery, TapRequestEvent } from '../../config/tap.ts';
import type { FateRecord } from './fate.ts';
import { TokenBucket } from '../filters/rate-limit/token-bucket.ts';

/** Whether a finished request passes a tap's filter (config/tap.ts TapFilter: every given field must match). */
export function tapMatches(filter: TapFilter, f: FateRecord): boolean {
  if (filter.direction !== undefined && f.direction !== filter.direction) return false;
  if (filter.method !== undefined && f.method !== filter.method) return false;
  if (filter.pathPrefix !== undefined && !f.path.startsWith(filter.pathPrefix)) return false;
  if (filter.authority !== undefined && f.authority.toLowerCase() !== filter.authority) return false;
  if (filter.to !== undefined) {
    const d = f.destinationService;
    // `NAME` names the service in any namespace: `NAME.` begins its `name.namespace`.
    if (filter.to.includes('.') ? d !== filter.to : !(d.startsWith(filter.to) && d.charCodeAt(filter.to.length) === 46)) return false;
  }
  return true;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** The tap line of a finished request (built only for a request a tap shows). */
export function tapEvent(f: FateRecord, proxy: string): TapRequestEvent {
  const attempts = f.attempts;
  const last = attempts?.[attempts.length - 1];
  return {
    type: 'request',
    proxy,
    time: new Date(performance.timeOrigin + f.startedAt).toISOString(),
    direction: f.direction,
    requestId: f.requestId,
    method: f.method,
    authority: f.authority,
    path: f.path,
    status: f.status,
    latencyMs: round((f.endedAt || performance.now()) - f.startedAt),
    ...(f.route !== undefined && { route: f.route }),
    ...(f.rule !== undefined && { rule: f.rule }),
    ...(last !== undefined && { endpoint: last.endpoint }),
    attempts: attempts?.length ?? 0,
    ...(f.reason !== undefined && { reason: f.reason }),
    source: { service: f.sourceService, ...(f.sourceIdentity !== undefined && { identity: f.sourceIdentity }) },
    destination: { service: f.destinationService, ...(f.destinationIdentity !== undefined && { identity: f.destinationIdentity }) },
  };
}

/**
 * One tap: its filter, a token bucket of `maxRps` per second holding one second's worth (at least
 * one event), and the count of events it did not pass on. `deliver` returns false when the reader
 * cannot take more now (a full socket buffer): the event is counted as dropped, never queued.
 */
export class Tap {
  readonly query: TapQuery;
  readonly #bucket: TokenBucket;
  readonly #now: () => number;
  readonly #deliver: (e: TapRequestEvent) => boolean;
  readonly #onDropped: ((n: number) => void) | undefined;
  #dropped = 0;

  /**
   * `now`: ms (Clock.now()). `onDropped` hears of every drop as it happens (the sidecar's
   * counter): a reader stuck for an hour never calls takeDropped, and its drops must still show.
   */
  constructor(query: TapQuery, now: () => number, deliver: (e: TapRequestEvent) => boolean, onDropped?: (n: number) => void) {
    this.query = query;
    this.#now = now;
    this.#bucket = new TokenBucket(query.maxRps, Math.max(1, query.maxRps), now());
    this.#deliver = deliver;
    this.#onDropped = onDropped;
  }

  /** A request this data plane finished: shown if it matches and the rate allows. */
  offer(f: FateRecord, proxy: string): void {
    if (!tapMatches(this.query.filter, f)) return;
    if (!this.#bucket.take(this.#now()) || !this.#deliver(tapEvent(f, proxy))) this.addDropped(1);
  }

  /** An event another thread already filtered (and limited on its own): limited again here, for the whole sidecar. */
  offerEvent(e: TapRequestEvent): void {
    if (!this.#bucket.take(this.#now()) || !this.#deliver(e)) this.addDropped(1);
  }

  /** Events not passed on: dropped here, or by another thread for this tap. */
  addDropped(n: number): void {
    this.#dropped += n;
    this.#onDropped?.(n);
  }

  /** The drops since the last call (the periodic `{"type":"dropped"}` line). */
  takeDropped(): number {
    const n = this.#dropped;
    this.#dropped = 0;
    return n;
  }
}

/** The taps open on one data plane. `active` is what the request path reads. */
export class TapHub {
  /** True while at least one tap is open: Observer.end checks only this. */
  active = false;
  readonly #taps = new Set<Tap>();
  readonly #proxy: string;

  constructor(proxy: string) {
    this.#proxy = proxy;
  }

  get size(): number {
    return this.#taps.size;
  }

  add(tap: Tap): void {
    this.#taps.add(tap);
    this.active = true;
  }

  remove(tap: Tap): void {
    this.#taps.delete(tap);
    this.active = this.#taps.size > 0;
  }

  /** A request ended: every open tap sees it. */
  publish(f: FateRecord): void {
    for (const tap of this.#taps) tap.offer(f, this.#proxy);
  }
}

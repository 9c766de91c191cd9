// The bounded memory of a sidecar's recent requests: the last N fates, plus a separate ring of the
// last failures (so a burst of successes cannot push a 503 out before anyone asks `weft why`).

import type { FateRecord } from './fate.ts';
import { FAILED_FATES, RECENT_FATES } from '../../config/fate-view.ts';

/** A fixed-size ring of fates, oldest overwritten first. */
export class FateRing {
  readonly capacity: number;
  readonly #slots: (FateRecord | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a fate ring holds at least 1 record, got ${capacity}`);
    this.capacity = capacity;
    this.#slots = new Array<FateRecord | undefined>(capacity).fill(undefined);
  }

  push(f: FateRecord): void {
    this.#slots[this.#next] = f;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** The most recent first, at most `limit`. */
  recent(limit = this.capacity): FateRecord[] {
    const out: FateRecord[] = [];
    for (let i = 1; i <= this.capacity && out.length < limit; i++) {
      const f = this.#slots[(this.#next - i + this.capacity) % this.capacity];
      if (f === undefined) break;
      out.push(f);
    }
    return out;
  }

  /** Every fate held with this request id, most recent first (a sidecar may see one id both ways). */
  find(requestId: string): FateRecord[] {
    return this.recent().filter((f) => f.requestId === requestId);
  }
}

/*
 * Default sizes (config/fate-view.ts): the last 256 requests and the last 500 failures. The recent
 * ring is small on purpose: a fate that outlives a young-generation GC is copied and then promoted,
 * and with 2,000 kept every fate did at 1,000 req/s; that cost a one-hop sidecar ~15 MiB of peak RSS
 * at that rate and ~90 MiB at saturation (docs/performance.md, entry 21). Failures, which `weft why`
 * is for, keep 500.
 */
export { RECENT_FATES, FAILED_FATES };

/** Both rings of a data plane. A failed fate goes into both; lookups merge them without duplicates. */
export class FateStore {
  readonly recentRing: FateRing;
  readonly failedRing: FateRing;

  constructor(recent = RECENT_FATES, failed = FAILED_FATES) {
    this.recentRing = new FateRing(recent);
    this.failedRing = new FateRing(failed);
  }

  add(f: FateRecord): void {
    this.recentRing.push(f);
    if (f.failed) this.failedRing.push(f);
  }

  find(requestId: string): FateRecord[] {
    const found = this.recentRing.find(requestId);
    for (const f of this.failedRing.find(requestId)) if (!found.includes(f)) found.push(f);
    return found.sort((a, b) => a.startedAt - b.startedAt);
  }
}

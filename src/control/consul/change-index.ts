// Consul's blocking queries over weft's catalog: a raft-like index that grows with every change, the
// index at which each service last changed (X-Consul-Index), and waiters parked until their service
// changes past the index they hold or their wait runs out.

import type { Clock, Timer } from '../../lib/clock.ts';

/** What a blocking query waits on: one service's changes, or `*` for any change (the service list). */
export type WaitKey = string;
export const ANY_SERVICE: WaitKey = '*';

interface Waiter {
  readonly key: WaitKey;
  readonly after: number;
  readonly done: () => void;
}

/**
 * Modify indexes per service. The index starts at the clock's milliseconds since the epoch (at
 * least 1), so it keeps growing across a control-plane restart as Consul's raft index does, and
 * clients holding an index from before the restart are not left waiting on a number that went back.
 */
export class ChangeIndex {
  readonly #clock: Clock;
  #index: number;
  readonly #services = new Map<string, { index: number; fingerprint: string | undefined }>();
  readonly #waiters = new Set<Waiter>();

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#index = Math.max(1, Math.floor(clock.now()));
  }

  /** The index of the last change to any service. */
  get current(): number {
    return this.#index;
  }

  /** The index at which `key` last changed; for a service never seen (or `*`), the last change to any. */
  of(key: WaitKey): number {
    if (key === ANY_SERVICE) return this.#index;
    return this.#services.get(key)?.index ?? this.#index;
  }

  /**
   * Records the services as they are now, each with a fingerprint of what Consul shows for it:
   * every service whose fingerprint changed (or that appeared or went away) moves to one new index,
   * and the waiters on it (and on `*`) wake. Nothing changed: no new index, no wakeup.
   */
  update(fingerprints: ReadonlyMap<string, string>): void {
    const changed: string[] = [];
    for (const [service, fingerprint] of fingerprints) {
      if (this.#services.get(service)?.fingerprint !== fingerprint) changed.push(service);
    }
    for (const [service, entry] of this.#services) {
      if (!fingerprints.has(service) && entry.fingerprint !== undefined) changed.push(service);
    }
    if (changed.length === 0) return;
    const index = ++this.#index;
    for (const service of changed) this.#services.set(service, { index, fingerprint: fingerprints.get(service) });
    for (const w of [...this.#waiters]) if (this.of(w.key) > w.after) w.done();
  }

  /**
   * Resolves when `key`'s index passes `after`, after `waitMs`, or when `signal` aborts (the client
   * went away), whichever comes first. Resolves at once if the index already passed `after`.
   */
  wait(key: WaitKey, after: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (this.of(key) > after || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: Timer | undefined;
      const waiter: Waiter = {
        key,
        after,
        done: () => {
          this.#waiters.delete(waiter);
          timer?.cancel();
          signal?.removeEventListener('abort', waiter.done);
          resolve();
        },
      };
      this.#waiters.add(waiter);
      timer = this.#clock.setTimeout(waiter.done, waitMs);
      signal?.addEventListener('abort', waiter.done, { once: true });
    });
  }

  /** Parked blocking queries (for tests and metrics). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Releases every waiter (on close). */
  close(): void {
    for (const w of [...this.#waiters]) w.done();
  }
}

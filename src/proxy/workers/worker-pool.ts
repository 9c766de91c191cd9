// The main thread's side of --workers N: starts N-1 data-plane worker threads on the main data
// plane's ports, forwards each accepted snapshot to them, gathers their metrics for /metrics,
// relays the taps open on the admin listener to them and their events back, restarts one that
// dies, and closes them with the sidecar.

import type { FateView } from '../observe/fate.ts';
import { Worker } from 'node:worker_threads';
import type { ProxySnapshot } from '../../config/snapshot-types.ts';
import type { Credentials } from '../transport/mesh-tls.ts';
import type { RegistryDump } from '../../lib/metrics.ts';
import type { Logger } from '../../lib/log.ts';
import type { DataPlaneOptions } from '../data-plane.ts';
import type { FateQuery, FromWorker, ToWorker } from './messages.ts';
import type { TapQuery, TapRequestEvent } from '../../config/tap.ts';
import type { TapRelay } from '../observe/tap-sessions.ts';

/** Where the workers' tap events go (observe/tap-sessions.ts TapSessions). */
export interface TapSink {
  fromWorker(tap: number, event: TapRequestEvent): void;
  droppedOnWorker(tap: number, dropped: number): void;
}

// The worker's entry sits beside this file: .ts when running from src/, .js from dist/.
const WORKER_ENTRY = new URL(`./data-plane-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
const START_TIMEOUT_MS = 10_000;
const METRICS_TIMEOUT_MS = 1_000;
const RESTART_DELAY_MS = 1_000;

interface Slot {
  worker?: Worker;
  ready: boolean;
}

export class WorkerPool implements TapRelay {
  readonly #options: Omit<DataPlaneOptions, 'worker'>;
  readonly #log: Logger;
  readonly #slots: Slot[] = [];
  #latest?: ProxySnapshot;
  #credentials?: Credentials;
  #closing = false;
  #nextRequest = 0;
  readonly #pending = new Map<number, (answer: never) => void>();
  /** The taps open now: sent to workers that start (or restart) while they are. */
  readonly #taps = new Map<number, TapQuery>();
  /** Set by the sidecar once its tap sessions exist. */
  tapSink: TapSink | undefined = undefined;

  private constructor(options: Omit<DataPlaneOptions, 'worker'>, log: Logger) {
    this.#options = options;
    this.#log = log;
  }

  /** Starts `count` workers (numbered from 1: the main thread is worker 0) and waits until each listens. */
  static async start(count: number, options: Omit<DataPlaneOptions, 'worker'>, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(options, log);
    try {
      await Promise.all(Array.from({ length: count }, (_, i) => pool.#spawn(i)));
    } catch (err) {
      pool.destroy();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Forwards a new certificate (and its private key: worker threads share the process). */
  setCredentials(credentials: Credentials): void {
    this.#credentials = credentials;
    for (const slot of this.#slots) if (slot.ready) this.#post(slot, { type: 'credentials', credentials });
  }

  /** Forwards a snapshot the main thread accepted; workers started later get the latest one. */
  apply(snapshot: ProxySnapshot): void {
    this.#latest = snapshot;
    for (const slot of this.#slots) if (slot.ready) this.#post(slot, { type: 'snapshot', snapshot });
  }

  /** Each live worker's metrics; one that does not answer within a second is left out. */
  async metrics(): Promise<RegistryDump[]> {
    return this.#ask<RegistryDump>((id) => ({ type: 'metrics', id }));
  }

  /** The fates the workers hold (observe/fate-ring.ts) for a query; one that does not answer within a second is left out. */
  async fates(query: FateQuery): Promise<FateView[]> {
    return (await this.#ask<readonly FateView[]>((id) => ({ type: 'fates', id, query }))).flat();
  }

  /** Opens tap `tap` on every worker, now and on any worker started while it is open. */
  openTap(tap: number, query: TapQuery): void {
    this.#taps.set(tap, query);
    for (const slot of this.#slots) if (slot.ready) this.#post(slot, { type: 'tap-open', tap, query });
  }

  /** Closes tap `tap` on every worker. */
  closeTap(tap: number): void {
    this.#taps.delete(tap);
    for (const slot of this.#slots) if (slot.ready) this.#post(slot, { type: 'tap-close', tap });
  }

  /** Asks every live worker and gathers the answers that come within METRICS_TIMEOUT_MS. */
  async #ask<T>(message: (id: number) => ToWorker): Promise<T[]> {
    const answers = this.#slots.filter((s) => s.ready).map((slot) => new Promise<T | undefined>((resolve) => {
      const id = ++this.#nextRequest;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, METRICS_TIMEOUT_MS);
      this.#pending.set(id, ((answer: T) => {
        clearTimeout(timer);
        resolve(answer);
      }) as (answer: never) => void);
      this.#post(slot, message(id));
    }));
    return (await Promise.all(answers)).filter((d): d is Awaited<T> => d !== undefined) as T[];
  }

  /** Asks every worker to stop accepting and finish its requests; resolves when all have. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#slots.map((slot) => new Promise<void>((resolve) => {
      const w = slot.worker;
      if (!w || !slot.ready) return resolve();
      w.once('exit', () => resolve());
      w.on('message', (m: FromWorker) => m.type === 'closed' && resolve());
      this.#post(slot, { type: 'close' });
    })));
  }

  /** Ends every worker now (their open connections with them). */
  destroy(): void {
    this.#closing = true;
    for (const slot of this.#slots) void slot.worker?.terminate();
  }

  #post(slot: Slot, message: ToWorker): void {
    slot.worker?.postMessage(message);
  }

  #spawn(index: number, slot: Slot = { ready: false }): Promise<void> {
    if (!this.#slots.includes(slot)) this.#slots[index] = slot;
    const workerNumber = index + 1;
    const worker = new Worker(WORKER_ENTRY, { workerData: { ...this.#options, worker: workerNumber } satisfies DataPlaneOptions });
    slot.worker = worker;
    slot.ready = false;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`data-plane worker ${workerNumber} did not start listening within ${START_TIMEOUT_MS / 1000}s`));
        void worker.terminate();
      }, START_TIMEOUT_MS);
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          slot.ready = true;
          if (this.#credentials) this.#post(slot, { type: 'credentials', credentials: this.#credentials });
          if (this.#latest) this.#post(slot, { type: 'snapshot', snapshot: this.#latest });
          for (const [tap, query] of this.#taps) this.#post(slot, { type: 'tap-open', tap, query });
          resolve();
        } else if (m.type === 'metrics' || m.type === 'fates') {
          (this.#pending.get(m.id) as ((answer: unknown) => void) | undefined)?.(m.type === 'metrics' ? m.dump : m.items);
          this.#pending.delete(m.id);
        } else if (m.type === 'tap-event') {
          this.tapSink?.fromWorker(m.tap, m.event);
        } else if (m.type === 'tap-dropped') {
          this.tapSink?.droppedOnWorker(m.tap, m.dropped);
        } else if (m.type === 'apply-failed') {
          this.#log.error('a data-plane worker could not apply a snapshot the main thread accepted', { worker: workerNumber, version: m.version, err: m.message });
        }
      });
      worker.on('error', (err) => {
        clearTimeout(timer);
        this.#log.error('data-plane worker failed', { worker: workerNumber, err: err.message });
        reject(new Error(`data-plane worker ${workerNumber} failed to start: ${err.message}`));
      });
      worker.on('exit', (code) => {
        slot.ready = false;
        if (this.#closing || slot.worker !== worker) return;
        // Its listeners went with it; the kernel sends new connections to the others meanwhile.
        this.#log.error('data-plane worker exited; restarting it', { worker: workerNumber, code, inMs: RESTART_DELAY_MS });
        setTimeout(() => {
          if (!this.#closing) this.#spawn(index, slot).catch((err) => this.#log.error('could not restart a data-plane worker', { worker: workerNumber, err: (err as Error).message }));
        }, RESTART_DELAY_MS).unref();
      });
    });
  }
}

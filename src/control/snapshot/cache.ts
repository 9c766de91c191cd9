// The snapshot cache: one snapshot per node key, rebuilt (debounced) when the store or catalog
// changes, versioned only when its content changes (the version is the store revision the build
// read, so replicas on one etcd number one state alike), and pushed to every subscribed stream as
// pre-serialized lines (the full snapshot, and the delta from the previous version) so a thousand
// proxies cost one JSON.stringify each.

import type { Clock, Timer } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { ProxySnapshot } from '../../config/snapshot-types.ts';
import { buildSnapshotContent, serviceModels, type BuildInput } from './builder.ts';
import { nodeKey, type NodeScope } from './node-key.ts';
import { diffSnapshots } from './delta.ts';

export interface CachedSnapshot {
  readonly snapshot: ProxySnapshot;
  /** The stream message carrying it, serialized once for all subscribers. */
  readonly line: string;
  /**
   * The `delta` message from the previous version of this key, for streams that hold exactly
   * `base`. Absent for a key's first snapshot, and when the delta would not be smaller.
   */
  readonly delta?: { readonly base: string; readonly line: string };
}

type Subscriber = (cached: CachedSnapshot) => void;

interface KeyEntry {
  readonly scope: NodeScope;
  current?: CachedSnapshot;
  /** The last version published for this key, as a number (versions of a key only go up). */
  version: number;
  readonly subscribers: Set<Subscriber>;
}

export interface SnapshotCacheOptions {
  readonly load: () => Promise<BuildInput>;
  readonly clock: Clock;
  readonly log: Logger;
  /** Quiet time after a change before rebuilding: bursts of changes become one push. */
  readonly debounceMs?: number;
  /** Upper bound on how long a change can wait while changes keep coming. */
  readonly maxDelayMs?: number;
  /**
   * The store revision the last load saw (etcd). A snapshot's version is that revision, or one more
   * than the key's previous version if that is higher; absent (SQLite): a per-process counter.
   */
  readonly revision?: () => number;
}

export class SnapshotCache {
  readonly #opts: Required<Omit<SnapshotCacheOptions, 'revision'>> & Pick<SnapshotCacheOptions, 'revision'>;
  readonly #entries = new Map<string, KeyEntry>();
  #version = 0;
  #timer?: Timer;
  #firstPendingAt = 0;
  /** When changed() was last called (clock ms); -Infinity: never, so the first change is a leading edge. */
  #lastChangeAt = -Infinity;
  #building?: Promise<void>;
  #dirtyWhileBuilding = false;
  readonly #firstBuilds = new Map<KeyEntry, Promise<void>>();

  constructor(options: SnapshotCacheOptions) {
    this.#opts = { debounceMs: 100, maxDelayMs: 1000, ...options };
  }

  /** A change is waiting for its debounced rebuild: versions handed out now are about to be stale. */
  pending(): boolean {
    return this.#timer !== undefined || this.#building !== undefined;
  }

  /** The version a proxy of this scope should be at, if one was built. */
  currentVersion(scope: NodeScope): string | undefined {
    return this.#entries.get(nodeKey(scope))?.current?.snapshot.version;
  }

  /** Registers a stream; it receives the current snapshot at once (built if needed), then every change. */
  async subscribe(scope: NodeScope, subscriber: Subscriber): Promise<() => void> {
    const key = nodeKey(scope);
    let entry = this.#entries.get(key);
    if (!entry) this.#entries.set(key, (entry = { scope, subscribers: new Set(), version: 0 }));
    // The first build may already deliver to this subscriber; never send the same version twice.
    let delivered: string | undefined;
    const deliver: Subscriber = (cached) => {
      if (cached.snapshot.version === delivered) return;
      delivered = cached.snapshot.version;
      subscriber(cached);
    };
    entry.subscribers.add(deliver);
    // A new node key needs one build, not a rebuild of every key: with many distinct keys that
    // would make a fleet's first connections cost keys² builds.
    if (!entry.current) await this.#buildFirst(entry);
    if (entry.current && entry.subscribers.has(deliver)) deliver(entry.current);
    const e = entry;
    return () => {
      e.subscribers.delete(deliver);
    };
  }

  /**
   * Something changed. After a quiet spell (no change and no rebuild for debounceMs) the rebuild
   * starts at once, so a lone `weft apply` is in force without waiting out the debounce; changes
   * that follow within the debounce are batched into one more rebuild, never later than maxDelay
   * after the first of them (a leading- and trailing-edge debounce).
   */
  changed(): void {
    const now = this.#opts.clock.now();
    const quiet = this.#timer === undefined && this.#building === undefined && now - this.#lastChangeAt >= this.#opts.debounceMs;
    this.#lastChangeAt = now;
    if (quiet) {
      this.#firstPendingAt = now;
      this.#timer = this.#opts.clock.setTimeout(() => {
        this.#timer = undefined;
        void this.rebuildNow();
      }, 0);
      return;
    }
    if (!this.#timer) this.#firstPendingAt = now;
    this.#timer?.cancel();
    const waited = now - this.#firstPendingAt;
    const delay = Math.max(0, Math.min(this.#opts.debounceMs, this.#opts.maxDelayMs - waited));
    this.#timer = this.#opts.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.rebuildNow();
    }, delay);
  }

  /** Rebuilds every key now; concurrent calls coalesce into one extra pass. */
  async rebuildNow(): Promise<void> {
    if (this.#building) {
      this.#dirtyWhileBuilding = true;
      return this.#building;
    }
    this.#building = (async () => {
      do {
        this.#dirtyWhileBuilding = false;
        try {
          await this.#rebuildAll();
        } catch (err) {
          this.#opts.log.error('snapshot rebuild failed; proxies keep their last snapshot', { err });
        }
      } while (this.#dirtyWhileBuilding);
    })();
    try {
      await this.#building;
    } finally {
      this.#building = undefined;
    }
  }

  async #buildFirst(entry: KeyEntry): Promise<void> {
    const pending = this.#firstBuilds.get(entry);
    if (pending) return pending;
    const build = (async () => {
      try {
        const input = await this.#opts.load();
        // A full rebuild may have filled it meanwhile; never replace a newer snapshot.
        if (!entry.current) this.#publish(entry, buildSnapshotContent(input, entry.scope));
      } catch (err) {
        this.#opts.log.error('snapshot build failed', { err });
      } finally {
        this.#firstBuilds.delete(entry);
      }
    })();
    this.#firstBuilds.set(entry, build);
    return build;
  }

  #publish(entry: KeyEntry, content: ReturnType<typeof buildSnapshotContent>): void {
    // Per key: within one rebuild every changed key gets the revision the load saw, whatever the
    // order keys are visited in, so two replicas that loaded the same revision agree.
    const version = this.#opts.revision ? Math.max(this.#opts.revision(), entry.version + 1) : ++this.#version;
    entry.version = version;
    const snapshot: ProxySnapshot = { version: String(version), ...content };
    const line = JSON.stringify({ type: 'snapshot', snapshot }) + '\n';
    entry.current = { snapshot, line, delta: entry.current && deltaLine(entry.current.snapshot, snapshot, line) };
    for (const subscriber of entry.subscribers) subscriber(entry.current);
  }

  async #rebuildAll(): Promise<void> {
    const input = await this.#opts.load();
    const models = serviceModels(input);
    for (const [key, entry] of this.#entries) {
      if (entry.subscribers.size === 0) {
        this.#entries.delete(key);
        continue;
      }
      const content = buildSnapshotContent(input, entry.scope, models);
      if (entry.current?.snapshot.hash === content.hash) continue;
      this.#publish(entry, content);
    }
  }

  stop(): void {
    this.#timer?.cancel();
  }
}

/** The delta line from `prev` to `next`, unless it would be no smaller than the full line. */
function deltaLine(prev: ProxySnapshot, next: ProxySnapshot, fullLine: string): CachedSnapshot['delta'] {
  const line = JSON.stringify({ type: 'delta', ...diffSnapshots(prev, next) }) + '\n';
  return line.length < fullLine.length ? { base: prev.version, line } : undefined;
}

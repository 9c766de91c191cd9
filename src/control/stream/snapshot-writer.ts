// What one proxy stream writes of the cache's snapshots: the delta when the proxy holds exactly the
// delta's base, the full snapshot otherwise; only the newest while the socket is backed up. A proxy
// that resumes (moved from another replica, or back after a restart) holding the same content gets
// an empty delta that renumbers it, and one holding a newer version than ours waits for our rebuild.

import type { CachedSnapshot } from '../snapshot/cache.ts';
import { diffSnapshots } from '../snapshot/delta.ts';

export interface StreamSink {
  /** Writes a line; false means the socket is backed up until the next drain. */
  write(line: string): boolean;
  /** The socket is still backed up from an earlier write. */
  needsDrain(): boolean;
}

export interface SnapshotWriter {
  /** A new snapshot from the cache: write it now, or keep it as the one to write at drain. */
  push(cached: CachedSnapshot): void;
  /** The socket drained: write what waited, if anything. */
  drain(): void;
  /** The proxy refused a version: it may hold anything older, so the next write is a full snapshot. */
  refused(): void;
  /** The proxy could not apply the delta for `version`: write the newest full snapshot now (or at drain). */
  resync(version: string): void;
  /**
   * The proxy's hello said it holds `version` with `hash`. Until the first write: a snapshot with
   * that hash is sent as an empty delta from `version`; one older than `version` with another hash
   * is held back (this replica has not caught up yet) until a newer one comes or `release()`.
   */
  resume(version: string, hash: string): void;
  /** Stop holding back: write the newest snapshot even if it is older than the proxy's. */
  release(): void;
  /** True while a snapshot is held back by resume(). */
  holding(): boolean;
}

export function createSnapshotWriter(sink: StreamSink, onWrite: (version: string) => void): SnapshotWriter {
  let latest: CachedSnapshot | undefined;
  let waiting = false;
  // The version whose full content the proxy should now hold: the last one actually written (a
  // snapshot replaced while waiting for drain never reached it), cleared when it refuses one.
  let holds: string | undefined;
  let lastFull = 0;
  let resumed: { version: string; hash: string } | undefined;
  let held = false;

  const write = (cached: CachedSnapshot): void => {
    const from = resumed;
    resumed = undefined;
    held = false;
    if (from !== undefined && from.hash === cached.snapshot.hash) {
      // Same content: renumber what the proxy holds (a few hundred bytes, made once per resume).
      holds = cached.snapshot.version;
      onWrite(holds);
      sink.write(JSON.stringify({ type: 'delta', ...diffSnapshots({ ...cached.snapshot, version: from.version }, cached.snapshot) }) + '\n');
      return;
    }
    const delta = holds !== undefined && cached.delta?.base === holds ? cached.delta : undefined;
    holds = cached.snapshot.version;
    if (!delta) lastFull = Number(holds);
    onWrite(holds);
    sink.write(delta ? delta.line : cached.line);
  };
  const writeOrWait = (): void => {
    if (!latest) return;
    if (resumed !== undefined && resumed.hash !== latest.snapshot.hash && Number(latest.snapshot.version) < Number(resumed.version)) {
      held = true;
      return;
    }
    // A slow proxy only ever needs the newest snapshot: replace what waits instead of queueing.
    if (sink.needsDrain()) waiting = true;
    else {
      waiting = false;
      write(latest);
    }
  };

  return {
    push(cached) {
      latest = cached;
      writeOrWait();
    },
    drain() {
      if (waiting) writeOrWait();
    },
    refused() {
      holds = undefined;
    },
    resume(version, hash) {
      resumed = { version, hash };
    },
    release() {
      if (!held) return;
      resumed = undefined;
      held = false;
      writeOrWait();
    },
    holding: () => held,
    resync(version) {
      // Deltas written before the full snapshot that answers the first resync fail too (their base
      // is wrong as well); the stream is ordered, so a full snapshot at least as new covers them.
      if (lastFull >= Number(version)) return;
      holds = undefined;
      writeOrWait();
    },
  };
}

// What one proxy stream writes of the cache's snapshots: the delta when the proxy holds exactly the
// delta's base, the full snapshot otherwise; only the newest while the socket is backed up.

import type { CachedSnapshot } from '../snapshot/cache.ts';

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
}

export function createSnapshotWriter(sink: StreamSink, onWrite: (version: string) => void): SnapshotWriter {
  let latest: CachedSnapshot | undefined;
  let waiting = false;
  // The version whose full content the proxy should now hold: the last one actually written (a
  // snapshot replaced while waiting for drain never reached it), cleared when it refuses one.
  let holds: string | undefined;
  let lastFull = 0;

  const write = (cached: CachedSnapshot): void => {
    const delta = holds !== undefined && cached.delta?.base === holds ? cached.delta : undefined;
    holds = cached.snapshot.version;
    if (!delta) lastFull = Number(holds);
    onWrite(holds);
    sink.write(delta ? delta.line : cached.line);
  };
  const writeOrWait = (): void => {
    if (!latest) return;
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
    resync(version) {
      // Deltas written before the full snapshot that answers the first resync fail too (their base
      // is wrong as well); the stream is ordered, so a full snapshot at least as new covers them.
      if (lastFull >= Number(version)) return;
      holds = undefined;
      writeOrWait();
    },
  };
}

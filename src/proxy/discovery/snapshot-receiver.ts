// One stream's worth of snapshot handling on the proxy: a full snapshot or a delta in, the ACK or
// NACK to send back out, and the snapshot to run if it was accepted. The base for the next delta is
// the last snapshot accepted on this stream; a refused one leaves everything as it was.

import type { ProxySnapshot } from '../../config/snapshot-types.ts';
import type { ProxyMessage } from '../../config/stream-protocol.ts';
import { validateSnapshot } from '../../config/validate-snapshot.ts';
import { validateDelta } from '../../config/validate-delta.ts';
import { applyDelta } from '../../config/apply-delta.ts';
import { errorMessage, type FieldError } from '../../lib/errors.ts';

export interface Received {
  readonly reply: Extract<ProxyMessage, { type: 'ack' | 'nack' }>;
  /** Set when accepted: the snapshot to put in force. */
  readonly snapshot?: ProxySnapshot;
  /** 'delta' or 'snapshot': what arrived, for logs. */
  readonly kind: 'snapshot' | 'delta';
}

export interface SnapshotReceiver {
  /** `raw` is the `snapshot` field of a snapshot message. */
  snapshot(raw: unknown): Received;
  /** `raw` is a whole delta message. */
  delta(raw: unknown): Received;
}

/** `accept` is the extra check before ACK (e.g. building balancers); a thrown error becomes a NACK. */
export function createSnapshotReceiver(accept?: (snapshot: ProxySnapshot) => void): SnapshotReceiver {
  let base: ProxySnapshot | undefined;

  const nack = (kind: Received['kind'], version: string, errors: readonly FieldError[], resync = false): Received => ({
    kind,
    reply: resync ? { type: 'nack', version, errors, resync } : { type: 'nack', version, errors },
  });
  const take = (kind: Received['kind'], next: ProxySnapshot): Received => {
    try {
      accept?.(next);
    } catch (err) {
      return nack(kind, next.version, [{ path: 'snapshot', message: errorMessage(err) }]);
    }
    base = next;
    return { kind, reply: { type: 'ack', version: next.version }, snapshot: next };
  };

  return {
    snapshot(raw) {
      const result = validateSnapshot(raw);
      if (!result.ok) return nack('snapshot', versionOf(raw), result.errors);
      return take('snapshot', result.value);
    },
    delta(raw) {
      const version = versionOf(raw);
      const result = validateDelta(raw);
      if (!result.ok) return nack('delta', version, result.errors);
      if (!base) return nack('delta', version, [{ path: 'delta.base', message: `applies to version ${result.value.base}, but no snapshot was accepted on this stream yet` }], true);
      const applied = applyDelta(base, result.value);
      if (!applied.ok) return nack('delta', version, applied.errors, true);
      return take('delta', applied.value);
    },
  };
}

function versionOf(raw: unknown): string {
  return String((raw as { version?: unknown } | null)?.version ?? '');
}

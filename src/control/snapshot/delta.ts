// The difference between two snapshots of one node key, as the stream's `delta` message carries it:
// services that are new or changed (compared by their serialized digest) and services that are gone.

import type { ProxySnapshot, ServiceSnapshot } from '../../config/snapshot-types.ts';
import type { SnapshotDelta } from '../../config/stream-protocol.ts';
import { serviceKey, type ServiceRef } from '../../config/service-order.ts';
import { serviceDigest } from '../../config/snapshot-hash.ts';

export function diffSnapshots(prev: ProxySnapshot, next: ProxySnapshot): SnapshotDelta {
  const before = new Map<string, ServiceSnapshot>();
  for (const s of prev.services) before.set(serviceKey(s), s);
  const upsert: ServiceSnapshot[] = [];
  for (const s of next.services) {
    const key = serviceKey(s);
    const old = before.get(key);
    before.delete(key);
    // Digests are memoized per object (the builder computed them for the hash): no re-serializing.
    if (!old || serviceDigest(old) !== serviceDigest(s)) upsert.push(s);
  }
  const remove: ServiceRef[] = [...before.values()].map((s) => ({ namespace: s.namespace, name: s.name }));
  return { version: next.version, base: prev.version, hash: next.hash, outboundTrafficPolicy: next.outboundTrafficPolicy, mtlsMode: next.mtlsMode, ...(next.observability && { observability: next.observability }), upsert, remove };
}

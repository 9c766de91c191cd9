// The content hash of a ProxySnapshot, shared by the builder (control plane) and the stream client
// (proxy), so a proxy can check that a delta applied to its snapshot gives what the builder built.

import { createHash } from 'node:crypto';
import type { MtlsMode, ProxySnapshot, ServiceSnapshot } from './snapshot-types.ts';

// Snapshots are immutable, so a service's digest can be remembered by identity: a delta leaves most
// service objects in place, and only the upserted ones are serialized again.
const digests = new WeakMap<ServiceSnapshot, string>();

/** sha256 of the service's JSON, as it travels on the stream. */
export function serviceDigest(service: ServiceSnapshot): string {
  let d = digests.get(service);
  if (d === undefined) {
    d = createHash('sha256').update(JSON.stringify(service)).digest('hex');
    digests.set(service, d);
  }
  return d;
}

/**
 * Hash of the policy and the per-service digests, in snapshot order. Built from per-service digests
 * (not one JSON of everything) so that checking a delta costs the changed services only: hashing a
 * whole 10,000-endpoint snapshot costs a proxy ~7 ms per change, a changed service ~0.1 ms.
 */
export function snapshotHash(outboundTrafficPolicy: ProxySnapshot['outboundTrafficPolicy'], services: readonly ServiceSnapshot[], mtlsMode: MtlsMode = 'PERMISSIVE', observability?: ProxySnapshot['observability']): string {
  // Without observability settings the hash is what it was before they existed.
  const parts: unknown[] = [outboundTrafficPolicy, mtlsMode, services.map(serviceDigest)];
  if (observability !== undefined) parts.push(observability);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

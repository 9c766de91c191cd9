// A proxy's side of a delta: the snapshot it holds plus a (validated) delta gives the next snapshot,
// checked against the delta's hash. Pure; the stream client decides what to ACK or NACK.

import type { FieldError } from '../lib/errors.ts';
import type { ProxySnapshot, ServiceSnapshot } from './snapshot-types.ts';
import type { SnapshotDelta } from './stream-protocol.ts';
import { compareServices, serviceKey } from './service-order.ts';
import { snapshotHash } from './snapshot-hash.ts';

/** On failure `resync` is always true: what the proxy holds is not what the delta was made for. */
export type ApplyDeltaResult =
  | { readonly ok: true; readonly value: ProxySnapshot }
  | { readonly ok: false; readonly resync: true; readonly errors: readonly FieldError[] };

export function applyDelta(base: ProxySnapshot, delta: SnapshotDelta): ApplyDeltaResult {
  if (delta.base !== base.version) {
    return refuse('delta.base', `applies to version ${delta.base}, but this proxy holds version ${base.version}`);
  }
  const services = new Map<string, ServiceSnapshot>();
  for (const s of base.services) services.set(serviceKey(s), s);
  for (const [i, ref] of delta.remove.entries()) {
    if (!services.delete(serviceKey(ref))) return refuse(`delta.remove[${i}]`, `service ${serviceKey(ref)} is not in version ${base.version}`);
  }
  for (const s of delta.upsert) services.set(serviceKey(s), s);
  const sorted = [...services.values()].sort(compareServices);
  // The hash is recomputed, not trusted: it is the one check that the result is exactly what the
  // control plane built, and with per-service digests it costs only the upserted services.
  const hash = snapshotHash(delta.outboundTrafficPolicy, sorted, delta.mtlsMode, delta.observability);
  if (hash !== delta.hash) return refuse('delta.hash', `the result of applying it to version ${base.version} hashes to ${hash}, not ${delta.hash}`);
  return { ok: true, value: { version: delta.version, hash, outboundTrafficPolicy: delta.outboundTrafficPolicy, ...(delta.mtlsMode ? { mtlsMode: delta.mtlsMode } : {}), ...(delta.observability ? { observability: delta.observability } : {}), services: sorted } };
}

function refuse(path: string, message: string): ApplyDeltaResult {
  return { ok: false, resync: true, errors: [{ path, message }] };
}

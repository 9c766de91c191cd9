// What a proxy checks in a delta before applying it: the message's own fields, each upserted service
// as a full snapshot's services are checked, and removals. Errors name paths in the delta message.

import { checkObservabilitySnapshot } from './kinds/mesh-config-observability.ts';
import type { SnapshotDelta } from './stream-protocol.ts';
import type { ValidationResult } from './resource.ts';
import { serviceKey } from './service-order.ts';
import { Checker, join } from './validate.ts';
import { checkServiceSnapshot, OUTBOUND_TRAFFIC_POLICIES } from './validate-snapshot.ts';
import { MTLS_MODES } from './snapshot-types.ts';

export function validateDelta(raw: unknown): ValidationResult<SnapshotDelta> {
  const c = new Checker();
  const d = c.object(raw, 'delta');
  if (!d) return { ok: false, errors: c.errors };
  c.string(d.version, 'delta.version', { required: true });
  c.string(d.base, 'delta.base', { required: true });
  // Required here (optional in a full snapshot): it is how a proxy knows the delta landed right.
  c.string(d.hash, 'delta.hash', { required: true });
  c.oneOf(d.outboundTrafficPolicy, 'delta.outboundTrafficPolicy', OUTBOUND_TRAFFIC_POLICIES, { required: true });
  c.oneOf(d.mtlsMode, 'delta.mtlsMode', MTLS_MODES);
  checkObservabilitySnapshot(c, d.observability, 'delta.observability');
  const seen = new Map<string, string>();
  const once = (ref: Record<string, unknown>, path: string): void => {
    if (typeof ref.namespace !== 'string' || typeof ref.name !== 'string') return;
    const key = serviceKey({ namespace: ref.namespace, name: ref.name });
    const first = seen.get(key);
    if (first) c.fail(path, `service ${key} is already named at ${first}`);
    else seen.set(key, path);
  };
  (c.array(d.upsert, 'delta.upsert', { required: true }) ?? []).forEach((rawService, i) => {
    const path = join('delta.upsert', i);
    const before = c.errors.length;
    checkServiceSnapshot(c, rawService, path);
    if (c.errors.length === before) once(rawService as Record<string, unknown>, path);
  });
  (c.array(d.remove, 'delta.remove', { required: true }) ?? []).forEach((rawRef, i) => {
    const path = join('delta.remove', i);
    const ref = c.object(rawRef, path);
    if (!ref) return;
    const ns = c.string(ref.namespace, join(path, 'namespace'), { required: true });
    const name = c.string(ref.name, join(path, 'name'), { required: true });
    if (ns !== undefined && name !== undefined) once(ref, path);
  });
  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: raw as SnapshotDelta };
}

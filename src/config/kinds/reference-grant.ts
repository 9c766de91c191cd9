// ReferenceGrant (gateway.networking.k8s.io/v1beta1): lets routes in one namespace send traffic to
// Services in the grant's own namespace. The snapshot builder consults it for cross-namespace backendRefs.

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from '../validate.ts';
import { compact } from './route-common.ts';

export const REFERENCE_GRANT_API_VERSION = 'gateway.networking.k8s.io/v1beta1';
export const MAX_GRANT_ENTRIES = 16;

/** Who may refer: resources of this group and kind in this namespace (Gateway API ReferenceGrantFrom). */
export interface ReferenceGrantFrom {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
}

/** What may be referred to in the grant's namespace (ReferenceGrantTo); no name: every one of the kind. */
export interface ReferenceGrantTo {
  readonly group: string;
  readonly kind: string;
  readonly name?: string;
}

export interface ReferenceGrantSpec {
  readonly from: readonly ReferenceGrantFrom[];
  readonly to: readonly ReferenceGrantTo[];
}

const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/** `group` is required, and "" (the core group) is a value, not an omission. */
function checkGroup(c: Checker, raw: unknown, path: string): string | undefined {
  if (raw === undefined) {
    c.fail(path, 'is required ("" for the core group)');
    return undefined;
  }
  return c.string(raw, path, { max: 253, pattern: GROUP, patternHint: 'a DNS subdomain, or "" for the core group' });
}

function validateSpec(raw: unknown, path: string): ValidationResult<ReferenceGrantSpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['from', 'to']);
  const from: ReferenceGrantFrom[] = [];
  (c.array(spec.from, join(path, 'from'), { required: true, min: 1, max: MAX_GRANT_ENTRIES }) ?? []).forEach((item, i) => {
    const p = join(join(path, 'from'), i);
    const o = c.object(item, p);
    if (!o) return;
    c.noUnknown(o, p, ['group', 'kind', 'namespace']);
    const group = checkGroup(c, o.group, join(p, 'group'));
    const kind = c.string(o.kind, join(p, 'kind'), { required: true, max: 63, pattern: KIND, patternHint: 'a kind name such as "HTTPRoute"' });
    const namespace = c.string(o.namespace, join(p, 'namespace'), { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    if (group !== undefined && kind !== undefined && namespace !== undefined) from.push({ group, kind, namespace });
  });
  const to: ReferenceGrantTo[] = [];
  (c.array(spec.to, join(path, 'to'), { required: true, min: 1, max: MAX_GRANT_ENTRIES }) ?? []).forEach((item, i) => {
    const p = join(join(path, 'to'), i);
    const o = c.object(item, p);
    if (!o) return;
    c.noUnknown(o, p, ['group', 'kind', 'name']);
    const group = checkGroup(c, o.group, join(p, 'group'));
    const kind = c.string(o.kind, join(p, 'kind'), { required: true, max: 63, pattern: KIND, patternHint: 'a kind name such as "Service"' });
    const name = c.string(o.name, join(p, 'name'), { required: o.name !== undefined, max: 253 });
    if (group !== undefined && kind !== undefined) to.push(compact({ group, kind, name }));
  });
  return c.errors.length ? { ok: false, errors: c.errors } : { ok: true, value: { from, to } };
}

/**
 * Whether a grant in `targetNamespace` lets a `fromKind` (group gateway.networking.k8s.io) in
 * `fromNamespace` refer to the core Service `serviceName` there. Gateway API ReferenceGrant semantics:
 * any one matching grant suffices; `to` without a name covers every Service.
 */
export function grantsServiceReference(grants: readonly { namespace: string; spec: ReferenceGrantSpec }[], fromKind: string, fromNamespace: string, targetNamespace: string, serviceName: string): boolean {
  return grants.some(
    (g) =>
      g.namespace === targetNamespace &&
      g.spec.from.some((f) => f.group === 'gateway.networking.k8s.io' && f.kind === fromKind && f.namespace === fromNamespace) &&
      g.spec.to.some((t) => (t.group === '' || t.group === 'core') && t.kind === 'Service' && (t.name === undefined || t.name === serviceName)),
  );
}

export const referenceGrantType: ResourceType<ReferenceGrantSpec> = {
  kind: 'ReferenceGrant',
  apiVersion: REFERENCE_GRANT_API_VERSION,
  plural: 'referencegrants',
  aliases: ['referencegrant', 'refgrant'],
  namespaced: true,
  validateSpec,
};

// Validation of the `hello` a proxy sends: who it is and what it needs. Used by the stream server.

import type { NodeInfo } from './snapshot-types.ts';
import type { ValidationResult } from './resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from './validate.ts';
import { DEFAULT_NAMESPACE } from './resource.ts';

export function validateNodeInfo(raw: unknown): ValidationResult<NodeInfo> {
  const c = new Checker();
  const node = c.object(raw, 'node');
  if (!node) return { ok: false, errors: c.errors };
  const id = c.string(node.id, 'node.id', { required: true, pattern: /^[A-Za-z0-9][-A-Za-z0-9_.:]{0,127}$/, patternHint: 'an id of letters, digits, -, _, . or :' });
  const service = c.string(node.service, 'node.service', { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
  const namespace = c.string(node.namespace, 'node.namespace', { pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT }) ?? DEFAULT_NAMESPACE;
  const labels = c.stringMap(node.labels, 'node.labels') ?? {};
  const upstreams: string[] = [];
  (c.array(node.upstreams, 'node.upstreams', { max: 1000 }) ?? []).forEach((u, i) => {
    const s = c.string(u, join('node.upstreams', i), { pattern: /^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})?$/, patternHint: 'NAME or NAME.NAMESPACE' });
    if (s) upstreams.push(s);
  });
  const weftVersion = c.string(node.weftVersion, 'node.weftVersion') ?? 'unknown';
  const admin = c.string(node.admin, 'node.admin', { pattern: /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, patternHint: 'HOST:PORT of the admin listener', max: 300 });
  if (c.errors.length || !id || !service) return { ok: false, errors: c.errors };
  return { ok: true, value: { id, service, namespace, labels, upstreams, weftVersion, ...(admin && { admin }) } };
}

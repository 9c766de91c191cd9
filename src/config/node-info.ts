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
  // host:port, host an IPv4 address, a [bracketed] IPv6 one or a DNS name.
  const adminAddress = c.string(node.adminAddress, 'node.adminAddress', { pattern: /^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9][-A-Za-z0-9.]{0,252}):[0-9]{1,5}$/, patternHint: 'HOST:PORT' });
  if (c.errors.length || !id || !service) return { ok: false, errors: c.errors };
  return { ok: true, value: { id, service, namespace, labels, upstreams, weftVersion, ...(adminAddress !== undefined && { adminAddress }) } };
}

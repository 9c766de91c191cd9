// What GET /v1/proxies (and `weft status`) shows of each proxy: the registry's view of its stream
// against the snapshot built for it. Replicas on etcd publish these rows for one another
// (proxy-directory.ts), so any replica can list every proxy.

import type { SnapshotCache } from '../snapshot/cache.ts';
import { nodeScope } from '../snapshot/node-key.ts';
import type { ProxyRegistry } from './proxy-registry.ts';
import type { FieldError } from '../../lib/errors.ts';

export interface ProxyRow {
  readonly id: string;
  readonly service: string;
  readonly namespace: string;
  readonly remote: string;
  /** The proxy's admin listener as it reported it (`weft why` asks its /fates). */
  readonly admin?: string;
  readonly connected: boolean;
  /** ISO 8601. */
  readonly connectedAt: string;
  readonly currentVersion?: string;
  readonly sentVersion?: string;
  readonly ackedVersion?: string;
  readonly nackedVersion?: string;
  readonly nackErrors?: readonly FieldError[];
  readonly certificate?: { readonly identity: string; readonly serial: string; readonly notAfter: string };
  readonly inSync: boolean;
  /** The control-plane replica the proxy's stream is on (its API URL), when known. */
  readonly replica?: string;
}

/** Every proxy this replica knows (connected, or gone within the registry's retention), sorted by service then id. */
export function proxyRows(registry: ProxyRegistry, cache: SnapshotCache, now: number, replica?: string): ProxyRow[] {
  const pending = cache.pending();
  return registry.list(now).map((s) => {
    const current = cache.currentVersion(nodeScope(s.node));
    const c = registry.certificate(s.node.id);
    return {
      id: s.node.id,
      service: s.node.service,
      namespace: s.node.namespace,
      remote: s.remote,
      ...(s.node.adminAddress !== undefined && { admin: s.node.adminAddress }),
      connected: s.connected,
      connectedAt: new Date(s.connectedAt).toISOString(),
      currentVersion: current,
      sentVersion: s.sentVersion,
      ackedVersion: s.ackedVersion,
      nackedVersion: s.nackedVersion,
      nackErrors: s.nackErrors,
      certificate: c && { identity: c.identity, serial: c.serial, notAfter: new Date(c.notAfter).toISOString() },
      // While a rebuild is pending, the current version is about to change: nobody is in sync.
      inSync: s.connected && current !== undefined && s.ackedVersion === current && !pending,
      ...(replica !== undefined && { replica }),
    };
  });
}

/**
 * This replica's rows with other replicas' (as they last published them) merged in: per proxy id
 * a connected row beats a disconnected one, and this replica's row beats another's.
 */
export function mergeProxyRows(own: readonly ProxyRow[], others: readonly ProxyRow[]): ProxyRow[] {
  const byId = new Map<string, ProxyRow>();
  for (const row of own) byId.set(row.id, row);
  for (const row of others) {
    const have = byId.get(row.id);
    if (have === undefined || (!have.connected && row.connected)) byId.set(row.id, row);
  }
  return [...byId.values()].sort((a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id));
}

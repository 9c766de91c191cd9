// Proxies that need the same configuration share one snapshot: the node key is what the builder's
// output depends on (namespace and the upstream list), so 1,000 sidecars of one service cost one build.

import type { NodeInfo } from '../../config/snapshot-types.ts';

export interface NodeScope {
  readonly namespace: string;
  readonly service: string;
  /** `name` or `name.namespace`; empty means every service. */
  readonly upstreams: readonly string[];
}

export function nodeScope(node: NodeInfo): NodeScope {
  const upstreams = [...new Set(node.upstreams)].sort();
  // With no upstream list a proxy gets the whole mesh, so its own service changes nothing: every
  // such proxy of a namespace shares one snapshot.
  return { namespace: node.namespace, service: upstreams.length ? node.service : '', upstreams };
}

export function nodeKey(scope: NodeScope): string {
  return `${scope.namespace}|${scope.service}|${scope.upstreams.join(',')}`;
}

// How services are identified and ordered in a ProxySnapshot. The builder sorts with it and a proxy
// re-sorts with it after applying a delta; the snapshot hash covers the order, so both must agree.

export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

/** `namespace/name`: unique within a snapshot. */
export function serviceKey(s: ServiceRef): string {
  return `${s.namespace}/${s.name}`;
}

/**
 * By namespace, then name. Code-unit order, not localeCompare: the control plane and a proxy may run
 * under different locales and must still agree on the order (the hash covers it). For DNS labels
 * (a-z, 0-9, '-') this is the order localeCompare gave before.
 */
export function compareServices(a: ServiceRef, b: ServiceRef): number {
  return cmp(a.namespace, b.namespace) || cmp(a.name, b.name);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

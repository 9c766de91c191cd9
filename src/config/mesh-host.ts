// How a request names a service: `NAME`, `NAME.NAMESPACE` or `NAME.NAMESPACE.svc.cluster.local`,
// optionally with `:PORT`, as in Kubernetes. Shared by the proxy (routing) and the CLI (display).

export interface MeshHost {
  readonly name: string;
  /** Undefined when the host did not say: the caller's own namespace applies. */
  readonly namespace: string | undefined;
  /** Undefined when the host did not say: the scheme's default (80 for http) applies. */
  readonly port: number | undefined;
}

const CLUSTER_SUFFIX = '.svc.cluster.local';

/** Parses a Host header or URL authority; returns undefined for anything that cannot be a mesh host. */
export function parseMeshHost(authority: string): MeshHost | undefined {
  let host = authority.toLowerCase();
  let port: number | undefined;
  const colon = host.lastIndexOf(':');
  if (colon !== -1 && !host.endsWith(']')) {
    const digits = host.slice(colon + 1);
    if (!/^\d{1,5}$/.test(digits)) return undefined;
    port = Number(digits);
    if (port < 1 || port > 65535) return undefined;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.endsWith(CLUSTER_SUFFIX)) host = host.slice(0, -CLUSTER_SUFFIX.length);
  else if (host.endsWith('.svc')) host = host.slice(0, -4);
  const parts = host.split('.');
  if (parts.length > 2 || parts.some((p) => !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(p))) return undefined;
  return { name: parts[0], namespace: parts[1], port };
}

/** The fully qualified form, used in logs and metrics labels. */
export function meshHostName(name: string, namespace: string): string {
  return `${name}.${namespace}${CLUSTER_SUFFIX}`;
}

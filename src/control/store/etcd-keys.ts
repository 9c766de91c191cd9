// Where the etcd store keeps what, under its prefix (default /weft): one key per resource, per
// catalog instance, per token and per heartbeat, and the replicas' shared state under cluster/. Each path segment is percent-encoded so that no name can reach
// into another key's space, and keys decode back to their identity (used for watch deletes).

/** The identity a key names; `undefined` for keys weft does not own. */
export type EtcdKeyIdentity =
  | { readonly area: 'resources'; readonly kind: string; readonly namespace: string; readonly name: string }
  | { readonly area: 'instances'; readonly namespace: string; readonly service: string; readonly id: string }
  | { readonly area: 'tokens'; readonly id: string }
  | { readonly area: 'heartbeats'; readonly namespace: string; readonly service: string; readonly id: string }
  | { readonly area: 'bindings'; readonly proxyId: string };

const enc = encodeURIComponent;

/** Key builders for one prefix (no trailing slash, e.g. `/weft`). */
export class EtcdKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix.replace(/\/+$/, '');
  }

  /** Everything weft writes: what the store watches. */
  all(): string {
    return `${this.prefix}/`;
  }

  resources(kind?: string): string {
    return kind === undefined ? `${this.prefix}/resources/` : `${this.prefix}/resources/${enc(kind)}/`;
  }

  resource(kind: string, namespace: string, name: string): string {
    return `${this.prefix}/resources/${enc(kind)}/${enc(namespace)}/${enc(name)}`;
  }

  instances(): string {
    return `${this.prefix}/instances/`;
  }

  instance(namespace: string, service: string, id: string): string {
    return `${this.prefix}/instances/${enc(namespace)}/${enc(service)}/${enc(id)}`;
  }

  /** Heartbeats received by any replica (see Store.publishHeartbeat): the leader judges TTLs by them. */
  heartbeats(): string {
    return `${this.prefix}/heartbeats/`;
  }

  heartbeat(namespace: string, service: string, id: string): string {
    return `${this.prefix}/heartbeats/${enc(namespace)}/${enc(service)}/${enc(id)}`;
  }

  bindings(): string {
    return `${this.prefix}/bindings/`;
  }

  /** Which workload and keys a proxy id belongs to (see ProxyRegistry), shared by replicas. */
  binding(proxyId: string): string {
    return `${this.prefix}/bindings/${enc(proxyId)}`;
  }

  /** Control-plane replicas' shared state (the generated CA, the leader election): not watched as StoreEvents. */
  cluster(name: string): string {
    return `${this.prefix}/cluster/${enc(name)}`;
  }

  tokens(): string {
    return `${this.prefix}/tokens/`;
  }

  token(id: string): string {
    return `${this.prefix}/tokens/${enc(id)}`;
  }

  /** Decodes a key written by the builders above; undefined for anything else under the prefix. */
  parse(key: string): EtcdKeyIdentity | undefined {
    if (!key.startsWith(`${this.prefix}/`)) return undefined;
    const parts = key.slice(this.prefix.length + 1).split('/');
    let decoded: string[];
    try {
      decoded = parts.map((p) => decodeURIComponent(p));
    } catch {
      return undefined;
    }
    const [area, a, b, c] = decoded;
    if (area === 'resources' && decoded.length === 4) return { area, kind: a, namespace: b, name: c };
    if (area === 'instances' && decoded.length === 4) return { area, namespace: a, service: b, id: c };
    if (area === 'tokens' && decoded.length === 2) return { area, id: a };
    if (area === 'heartbeats' && decoded.length === 4) return { area, namespace: a, service: b, id: c };
    if (area === 'bindings' && decoded.length === 2) return { area, proxyId: a };
    return undefined;
  }
}

// DNS interface of the control plane: the catalog as DNS answers need it, indexed by namespace and
// service. Rebuilt from the catalog's memory on the first query after a catalog change, so a
// health change shows in the next answer and no query touches the store.

import { isIP } from 'node:net';
import type { InstanceState } from '../../config/catalog-types.ts';
import { instanceLabel } from './names.ts';

/** One instance as DNS answers use it. */
export interface DnsInstance {
  readonly id: string;
  /** Its name under the service (names.ts instanceLabel). */
  readonly label: string;
  readonly address: string;
  /** 4 or 6 for an IP address; undefined for a host name (no A/AAAA, SRV target is the host name). */
  readonly family: 4 | 6 | undefined;
  /** `targetPort`s, where the instance listens, with their names (SRV). */
  readonly ports: readonly { readonly port: number; readonly name?: string }[];
  /** Lower-case Consul tags: its `version` label and the comma-separated values of its `tags` label. */
  readonly tags: ReadonlySet<string>;
  /** The instance weight (0–1000), used as SRV weight (RFC 2782). */
  readonly weight: number;
  /** Passing or warning, as the catalog says; only these are answered. */
  readonly healthy: boolean;
}

/** What answers read. Implementations must be cheap per call: they run once or twice per query. */
export interface DnsCatalogView {
  /** True while the catalog holds at least one instance (any health) in `namespace`. */
  hasNamespace(namespace: string): boolean;
  /** Every instance of a service, in any health; empty when the catalog has none (the name does not exist). */
  instances(namespace: string, service: string): readonly DnsInstance[];
  /** The SOA serial (RFC 1035 §3.3.13): grows with every catalog change, wraps at 2^32. */
  serial(): number;
}

/** The instance labels that name Consul tags: `version` is one tag, `tags` a comma-separated list. */
export const TAG_LABELS = { version: 'version', list: 'tags' } as const;

/** Converts one catalog instance (pure; exported for tests). */
export function toDnsInstance(s: InstanceState): DnsInstance {
  const ipFamily = isIP(s.address);
  const tags = new Set<string>();
  const version = s.labels[TAG_LABELS.version];
  if (version) tags.add(version.toLowerCase());
  for (const t of (s.labels[TAG_LABELS.list] ?? '').split(',')) if (t.trim()) tags.add(t.trim().toLowerCase());
  return {
    id: s.id,
    label: instanceLabel(s.id, s.address),
    address: s.address,
    family: ipFamily === 4 ? 4 : ipFamily === 6 ? 6 : undefined,
    ports: s.ports.map((p) => ({ port: p.targetPort, name: p.name })),
    tags,
    weight: s.weight,
    healthy: s.health === 'passing' || s.health === 'warning',
  };
}

/** The source the view reads: the catalog's list and change notifications (Catalog fits). */
export interface CatalogSource {
  list(): readonly InstanceState[];
  subscribe(listener: () => void): () => void;
}

/**
 * The DnsCatalogView over a live catalog. A change only marks the index stale; the next query
 * rebuilds it (O(instances)), so a burst of heartbeats or health changes costs one rebuild.
 */
export class CatalogDnsView implements DnsCatalogView {
  readonly #source: CatalogSource;
  readonly #unsubscribe: () => void;
  #stale = true;
  #serial: number;
  #byService = new Map<string, DnsInstance[]>();
  #namespaces = new Set<string>();

  /** `startSerial`: the first SOA serial, e.g. seconds since the epoch, so restarts rarely go back. */
  constructor(source: CatalogSource, startSerial: number) {
    this.#source = source;
    this.#serial = startSerial >>> 0;
    this.#unsubscribe = source.subscribe(() => {
      this.#stale = true;
      this.#serial = (this.#serial + 1) >>> 0;
    });
  }

  close(): void {
    this.#unsubscribe();
  }

  hasNamespace(namespace: string): boolean {
    this.#refresh();
    return this.#namespaces.has(namespace);
  }

  instances(namespace: string, service: string): readonly DnsInstance[] {
    this.#refresh();
    return this.#byService.get(`${namespace}/${service}`) ?? [];
  }

  serial(): number {
    return this.#serial;
  }

  #refresh(): void {
    if (!this.#stale) return;
    this.#stale = false;
    const byService = new Map<string, DnsInstance[]>();
    const namespaces = new Set<string>();
    for (const s of this.#source.list()) {
      // Service and namespace names are DNS labels already (registration.ts); case is folded for lookups.
      const key = `${s.namespace.toLowerCase()}/${s.service.toLowerCase()}`;
      let list = byService.get(key);
      if (!list) byService.set(key, (list = []));
      list.push(toDnsInstance(s));
      namespaces.add(s.namespace.toLowerCase());
    }
    this.#byService = byService;
    this.#namespaces = namespaces;
  }
}

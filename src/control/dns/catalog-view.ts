// DNS interface of the control plane: the mesh's services as DNS answers need them, indexed by
// namespace and service. Rebuilt in memory on the first query after a change (service-source.ts),
// so a health change shows in the next answer and no query touches the store.

import { isIP } from 'node:net';
import type { InstanceState } from '../../config/catalog-types.ts';
import { endpointPort, type ServiceModel } from '../snapshot/builder.ts';
import { instanceLabel } from './names.ts';
import type { DnsSource } from './service-source.ts';

/** One instance as DNS answers use it. */
export interface DnsInstance {
  readonly id: string;
  /** Its name under the service (names.ts instanceLabel). */
  readonly label: string;
  readonly address: string;
  /** 4 or 6 for an IP address; undefined for a host name (no A/AAAA, SRV target is the host name). */
  readonly family: 4 | 6 | undefined;
  /**
   * Where the instance serves each of the service's ports (its `targetPort`, as the mesh resolves
   * it), named by the service port's name (SRV, `_NAME._tcp`).
   */
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
  /** True while the mesh has at least one service (declared, or with instances in any health) in `namespace`. */
  hasNamespace(namespace: string): boolean;
  /** Every instance of a service, in any health; undefined when no such service exists (NXDOMAIN). */
  instances(namespace: string, service: string): readonly DnsInstance[] | undefined;
  /** The SOA serial (RFC 1035 §3.3.13): grows with every catalog change, wraps at 2^32. */
  serial(): number;
}

/** The instance labels that name Consul tags: `version` is one tag, `tags` a comma-separated list. */
export const TAG_LABELS = { version: 'version', list: 'tags' } as const;

/**
 * One member of a service as DNS sees it (pure; exported for tests). Undefined when it serves
 * none of the service's ports: the mesh does not send it traffic either.
 */
export function toDnsInstance(s: InstanceState, model: Pick<ServiceModel, 'ports'>): DnsInstance | undefined {
  const ports: { port: number; name?: string }[] = [];
  for (const p of model.ports) {
    const port = endpointPort(s, p.targetPort);
    if (port !== undefined) ports.push({ port, name: p.name });
  }
  if (ports.length === 0 && model.ports.length > 0) return undefined;
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
    ports,
    tags,
    weight: s.weight,
    healthy: s.health === 'passing' || s.health === 'warning',
  };
}

/**
 * The DnsCatalogView over a live source. A change only marks the index stale; the next query
 * rebuilds it (O(services + instances)), so a burst of health changes costs one rebuild.
 */
export class CatalogDnsView implements DnsCatalogView {
  readonly #source: DnsSource;
  readonly #unsubscribe: () => void;
  #stale = true;
  #serial: number;
  #byService = new Map<string, DnsInstance[]>();
  #namespaces = new Set<string>();

  /** `startSerial`: the first SOA serial, e.g. seconds since the epoch, so restarts rarely go back. */
  constructor(source: DnsSource, startSerial: number) {
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

  instances(namespace: string, service: string): readonly DnsInstance[] | undefined {
    this.#refresh();
    return this.#byService.get(`${namespace}/${service}`);
  }

  serial(): number {
    return this.#serial;
  }

  #refresh(): void {
    if (!this.#stale) return;
    this.#stale = false;
    const byService = new Map<string, DnsInstance[]>();
    const namespaces = new Set<string>();
    for (const model of this.#source.services()) {
      // Service and namespace names are DNS labels already (validated); case is folded for lookups.
      const list: DnsInstance[] = [];
      for (const member of model.members) {
        const inst = toDnsInstance(member, model);
        if (inst) list.push(inst);
      }
      byService.set(`${model.namespace.toLowerCase()}/${model.name.toLowerCase()}`, list);
      namespaces.add(model.namespace.toLowerCase());
    }
    this.#byService = byService;
    this.#namespaces = namespaces;
  }
}

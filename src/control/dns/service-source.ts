// DNS interface of the control plane: where answers come from. The mesh's services as the snapshot
// builder models them (implicit services of registered instances, and Service resources with their
// selectors and ports), from the catalog's memory and an in-memory copy of the Service resources
// kept current by the store's watch: no query reads the store.

import type { Resource } from '../../config/resource.ts';
import type { InstanceState } from '../../config/catalog-types.ts';
import { serviceModels, type ServiceModel } from '../snapshot/builder.ts';
import type { Store } from '../store/store.ts';

/** What the DNS view reads: the services, and a signal when they may have changed. */
export interface DnsSource {
  services(): readonly ServiceModel[];
  subscribe(listener: () => void): () => void;
}

/** The catalog as the source needs it (Catalog fits). */
export interface InstanceSource {
  list(): readonly InstanceState[];
  subscribe(listener: () => void): () => void;
}

/**
 * A DnsSource over the live catalog and the store's Service resources. Loads the resources once,
 * then follows the store's watch; `close` stops watching.
 */
export async function openDnsSource(store: Store, catalog: InstanceSource): Promise<DnsSource & { close(): void }> {
  const services = new Map<string, Resource>();
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of listeners) l();
  };
  const key = (r: Resource): string => `${r.metadata.namespace}/${r.metadata.name}`;
  // Watch before listing, so a change between the two is not lost (a put seen twice is harmless).
  const reload = async (): Promise<void> => {
    const fresh = await store.listResources({ kind: 'Service' });
    services.clear();
    for (const r of fresh) services.set(key(r), r);
    notify();
  };
  const unwatch = store.watch((event) => {
    if (event.type === 'resync') {
      // The store may have missed changes (etcd: a watch lost to compaction): read them all again.
      // A failed read leaves the copy as it was, until the next event.
      reload().catch(() => {});
      return;
    }
    if (event.type !== 'resource-put' && event.type !== 'resource-delete') return;
    if (event.resource.kind !== 'Service') return;
    if (event.type === 'resource-put') services.set(key(event.resource), event.resource);
    else services.delete(key(event.resource));
    notify();
  });
  for (const r of await store.listResources({ kind: 'Service' })) if (!services.has(key(r))) services.set(key(r), r);
  const unsubscribe = catalog.subscribe(notify);
  return {
    services: () => serviceModels({ resources: [...services.values()], instances: catalog.list() }),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      unwatch();
      unsubscribe();
    },
  };
}

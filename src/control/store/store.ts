// The store behind the control plane: mesh resources (validated before they get here) and the
// persisted part of the catalog, behind one interface so that an etcd backend can replace the
// embedded SQLite one. Writes bump a store-wide revision used as each object's resourceVersion.

import type { Resource } from '../../config/resource.ts';
import type { InstanceState } from '../../config/catalog-types.ts';

export type StoreEvent =
  | { readonly type: 'resource-put'; readonly resource: Resource }
  | { readonly type: 'resource-delete'; readonly resource: Resource }
  | { readonly type: 'instance-put'; readonly instance: InstanceState }
  | { readonly type: 'instance-delete'; readonly namespace: string; readonly service: string; readonly id: string };

export interface ApplyOptions {
  /**
   * Optimistic concurrency: when set, the write succeeds only if the stored object's
   * resourceVersion equals it (WEFT_ERR_STORE_CONFLICT, 409, otherwise). `metadata.resourceVersion`
   * on the applied object is used when this is absent.
   */
  readonly expectedVersion?: string;
}

export interface ApplyResult {
  /** The object as stored, with resourceVersion, creationTimestamp and generation set. */
  readonly resource: Resource;
  readonly created: boolean;
  /** Spec, labels and annotations equal to what was stored: nothing written, version kept. */
  readonly unchanged: boolean;
}

export interface ResourceFilter {
  readonly kind?: string;
  readonly namespace?: string;
}

export interface Store {
  listResources(filter?: ResourceFilter): Promise<Resource[]>;
  getResource(kind: string, namespace: string, name: string): Promise<Resource | undefined>;
  applyResource(resource: Resource, options?: ApplyOptions): Promise<ApplyResult>;
  /** Throws WEFT_ERR_STORE_NOT_FOUND (404) when absent, WEFT_ERR_STORE_CONFLICT on a version mismatch. */
  deleteResource(kind: string, namespace: string, name: string, options?: ApplyOptions): Promise<Resource>;

  listInstances(): Promise<InstanceState[]>;
  putInstance(instance: InstanceState): Promise<void>;
  deleteInstance(namespace: string, service: string, id: string): Promise<void>;

  /** Every successful write, after it is durable. */
  watch(listener: (event: StoreEvent) => void): () => void;
  close(): Promise<void>;
}

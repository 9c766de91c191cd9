// The store behind the control plane: mesh resources (validated before they get here) and the
// persisted part of the catalog, behind one interface so that an etcd backend can replace the
// embedded SQLite one. Writes bump a store-wide revision used as each object's resourceVersion
// (SQLite: a counter of resource writes; etcd: the cluster revision, so versions only increase).

import type { Resource } from '../../config/resource.ts';
import type { InstanceState } from '../../config/catalog-types.ts';

export type StoreEvent =
  | { readonly type: 'resource-put'; readonly resource: Resource }
  | { readonly type: 'resource-delete'; readonly resource: Resource }
  | { readonly type: 'instance-put'; readonly instance: InstanceState }
  | { readonly type: 'instance-delete'; readonly namespace: string; readonly service: string; readonly id: string }
  /**
   * The backend may have missed changes made by others (etcd: its watch was cancelled because the
   * history it needed to resume was compacted away, and it now watches from the present): re-read
   * whatever you keep from the store.
   */
  | { readonly type: 'resync' };

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

/**
 * An API credential as the store keeps it: never the secret itself, only its SHA-256 (see
 * src/control/auth/tokens.ts). Admin tokens carry a role; join tokens a service, namespace and expiry.
 */
export interface StoredToken {
  /** Public part of the token (`weft-admin.<id>.<secret>`), its key here. */
  readonly id: string;
  readonly kind: 'admin' | 'join';
  /** Admin tokens: what the caller may do. */
  readonly role?: 'admin' | 'read-only';
  /** Join tokens: the one identity a proxy may get with it. */
  readonly service?: string;
  readonly namespace?: string;
  /** Lower-case hex SHA-256 of the secret part. */
  readonly secretSha256: string;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms; absent: never expires. */
  readonly expiresAt?: number;
  readonly description?: string;
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
  /**
   * A heartbeat arrived for a stored instance. Backends that expire instances themselves (etcd:
   * each instance on a lease) extend its life here, paced by the backend; others leave it out.
   * May write the instance again when the backend had already dropped it.
   */
  refreshInstance?(instance: InstanceState): Promise<void>;

  listTokens(): Promise<StoredToken[]>;
  putToken(token: StoredToken): Promise<void>;
  /** True when a token was deleted. */
  deleteToken(id: string): Promise<boolean>;

  /** Every successful write, after it is durable. */
  watch(listener: (event: StoreEvent) => void): () => void;
  close(): Promise<void>;
}

// The store behind the control plane: mesh resources (validated before they get here) and the
// persisted part of the catalog, behind one interface so that an etcd backend can replace the
// embedded SQLite one. Writes bump a store-wide revision used as each object's resourceVersion
// (SQLite: a counter of resource writes; etcd: the cluster revision, so versions only increase).

import type { Resource } from '../../config/resource.ts';
import type { InstanceState } from '../../config/catalog-types.ts';

export type StoreEvent =
  | { readonly type: 'resource-put'; readonly resource: Resource }
  | { readonly type: 'resource-delete'; readonly resource: Resource }
  /** `remote`: written by another control-plane replica (etcd's watch), not by this process. */
  | { readonly type: 'instance-put'; readonly instance: InstanceState; readonly remote?: boolean }
  | { readonly type: 'instance-delete'; readonly namespace: string; readonly service: string; readonly id: string; readonly remote?: boolean }
  /** Another replica received a heartbeat for this instance at `at` (epoch ms); see publishHeartbeat. */
  | { readonly type: 'heartbeat'; readonly namespace: string; readonly service: string; readonly id: string; readonly at: number }
  /** A token created or revoked through another replica (etcd's watch only; this process's own writes are not echoed). */
  | { readonly type: 'token-put'; readonly token: StoredToken }
  | { readonly type: 'token-delete'; readonly id: string }
  /** A proxy-id binding written by any replica (etcd's watch), or gone with its lease. */
  | { readonly type: 'binding-put'; readonly proxyId: string; readonly binding: StoredBinding }
  | { readonly type: 'binding-delete'; readonly proxyId: string }
  /**
   * The backend may have missed changes made by others (etcd: its watch was cancelled because the
   * history it needed to resume was compacted away, and it now watches from the present): re-read
   * whatever you keep from the store.
   */
  | { readonly type: 'resync' };

/** Which workload (SPIFFE id) and keys (hex SHA-256 of SPKI, newest first) a proxy id belongs to. */
export interface StoredBinding {
  readonly identity: string;
  readonly keys: readonly string[];
}

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

  /**
   * A heartbeat for a stored instance arrived at this replica at `at` (epoch ms). Backends shared by
   * several control-plane replicas (etcd) record it, so the replica that judges TTLs (the leader)
   * sees heartbeats sent to any replica; others leave it out. Callers pace it (see Catalog).
   */
  publishHeartbeat?(namespace: string, service: string, id: string, at: number): Promise<void>;

  /**
   * The highest store revision this process has seen (etcd: the cluster revision of its last read,
   * write or watch event; SQLite: its revision counter). Snapshot versions derive from it, so
   * replicas on one etcd give the same store state comparable versions.
   */
  revision?(): number;

  /**
   * Proxy-id bindings, shared by replicas (etcd): each on a lease of `ttlSeconds` (the life of the
   * certificate that made it), so the store forgets them as the registry does. Absent: kept in
   * memory only (SQLite, one control plane).
   */
  putBinding?(proxyId: string, binding: StoredBinding, ttlSeconds: number): Promise<void>;
  listBindings?(): Promise<{ readonly proxyId: string; readonly binding: StoredBinding }[]>;

  /** Coordination between control-plane replicas sharing this store; absent: one replica only (SQLite). */
  readonly cluster?: StoreCluster;

  listTokens(): Promise<StoredToken[]>;
  putToken(token: StoredToken): Promise<void>;
  /** True when a token was deleted. */
  deleteToken(id: string): Promise<boolean>;

  /** Every successful write, after it is durable. */
  watch(listener: (event: StoreEvent) => void): () => void;
  close(): Promise<void>;
}

/** A leadership campaign in progress (see StoreCluster.campaign). */
export interface Campaign {
  /** True while this replica holds the leadership. */
  isLeader(): boolean;
  /** The leader's value (its API URL) as last observed; undefined when none is known. */
  leader(): string | undefined;
  /** Resigns (if leader) and stops campaigning. */
  stop(): Promise<void>;
}

/**
 * What several control-plane replicas on one store share beyond resources and instances: values
 * created once (the generated CA) and a lease-based leader election for the work that must run once.
 */
export interface StoreCluster {
  /**
   * Stores `value` under `name` unless a value is already there, in one transaction; returns the
   * value stored (ours, or the first replica's).
   */
  createIfAbsent(name: string, value: string): Promise<string>;
  /**
   * Campaigns for leadership with `value` (this replica's URL) on a lease of `ttlSeconds`.
   * `onChange(true)` when elected; `onChange(false)` at once when the lease is lost, after which it
   * campaigns again. Follows etcd's concurrency/election (lowest create revision under a prefix).
   */
  campaign(value: string, ttlSeconds: number, onChange: (leader: boolean) => void): Campaign;
  /**
   * Publishes `value` as this replica's `name` (e.g. its connected proxies) on a lease of its own
   * that ends about `ttlSeconds` after the replica stops renewing it (it died), so a dead replica's
   * values disappear by themselves.
   */
  publish(replica: string, name: string, value: string, ttlSeconds: number): Promise<void>;
  /** Every replica's current `name` value, this one's included. */
  published(name: string): Promise<{ readonly replica: string; readonly value: string }[]>;
  /** Stops renewing the lease of published values and deletes them (a clean shutdown). */
  withdraw(): Promise<void>;
}

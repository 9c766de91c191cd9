// The etcd Store backend (`weft control --store etcd://…`): resources, catalog instances and tokens
// as keys under a prefix, etcd's mod_revision as each resource's resourceVersion, optimistic
// concurrency with transactions, and one watch feeding StoreEvents so every control plane on the
// same etcd sees every write. Shared apply/delete rules live in apply-semantics.ts.

import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Resource } from '../../config/resource.ts';
import type { InstanceState } from '../../config/catalog-types.ts';
import type { ApplyOptions, ApplyResult, ResourceFilter, Store, StoreCluster, StoreEvent, StoredBinding, StoredToken } from './store.ts';
import { EtcdCluster } from './etcd-cluster.ts';
import { WeftError, errorMessage } from '../../lib/errors.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { STORE_CLOSED, checkDelete, createStoreEvents, parseResource, parseInstance, parseStoredObject, planApply, type StoreEvents } from './apply-semantics.ts';
import { EtcdKeys } from './etcd-keys.ts';
import { connectEtcd } from './etcd-connect.ts';
import { InstanceLeases } from './etcd-instance-leases.ts';
import { DEFAULT_ETCD_PREFIX } from './store-url.ts';

export interface EtcdStoreOptions {
  /** `http://HOST:PORT` of one or more members. */
  readonly endpoints: readonly string[];
  /** Key prefix, no trailing slash (default `/weft`). Two meshes can share an etcd with two prefixes. */
  readonly prefix?: string;
  /** How long to keep retrying an unreachable etcd at open before failing (ms, default 60 000). */
  readonly connectTimeoutMs?: number;
  /** Source of creationTimestamp and of lease refresh pacing. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Jitter of the connect backoff (tests seed it). */
  readonly random?: () => number;
}

/** A transaction lost to a concurrent writer is re-read and retried; past this, something is wrong. */
const MAX_TXN_ATTEMPTS = 50;

/**
 * Keys per range request when listing. gRPC caps a message at 4 MiB by default: 10,000 instances
 * in one response would pass it, so lists are read in pages, all at one revision.
 */
const LIST_PAGE_SIZE = 500;

/** The end of the key range holding every key that starts with `prefix` (etcd's prefix+1). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/**
 * Opens the store: connects (retrying, see etcd-connect.ts), then watches the prefix from the
 * revision it connected at. Throws WEFT_ERR_STORE_UNREACHABLE when etcd does not answer in time.
 */
export async function openEtcdStore(options: EtcdStoreOptions): Promise<Store> {
  const log = options.logger ?? createLogger('store/etcd');
  const clock = options.clock ?? systemClock;
  const keys = new EtcdKeys(options.prefix ?? DEFAULT_ETCD_PREFIX);
  const { client, revision } = await connectEtcd({
    endpoints: options.endpoints,
    probeKey: keys.all(),
    timeoutMs: options.connectTimeoutMs ?? 60_000,
    clock,
    log,
    random: options.random,
  });
  const store = new EtcdStore(client, keys, clock, log);
  try {
    await store.startWatch(revision + 1);
  } catch (err) {
    await store.close();
    throw new WeftError('WEFT_ERR_STORE_OPEN', `cannot watch etcd at ${options.endpoints.join(',')}: ${errorMessage(err)}`, 503);
  }
  log.info('etcd store opened', { endpoints: options.endpoints.join(','), prefix: keys.prefix, revision });
  return store;
}

/** The stored form leaves resourceVersion out: etcd's mod_revision is the only source of it. */
function encodeResource(resource: Resource): string {
  const { resourceVersion: _omit, ...metadata } = resource.metadata;
  return JSON.stringify({ ...resource, metadata });
}

class EtcdStore implements Store {
  readonly #client: Etcd3;
  readonly #keys: EtcdKeys;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #events: StoreEvents;
  readonly #leases: InstanceLeases;
  #watcher: Watcher | undefined;
  #closed = false;
  /**
   * Our own writes are emitted as soon as they commit (so a caller's watcher has seen the event
   * when the write returns, as with SQLite) and again arrive through the watch. Each key's last
   * emitted revision, and the highest revision the watch delivered, drop the echo and anything
   * older than what was already emitted.
   */
  readonly #emitted = new Map<string, number>();
  #watchedRevision = 0;
  /** The highest cluster revision any read, write or watch event showed (see Store.revision). */
  #seenRevision = 0;
  readonly cluster: StoreCluster;

  constructor(client: Etcd3, keys: EtcdKeys, clock: Clock, log: Logger) {
    this.#client = client;
    this.#keys = keys;
    this.#clock = clock;
    this.#log = log;
    this.#events = createStoreEvents(log);
    this.#leases = new InstanceLeases({ client, clock, log, put: (instance) => this.#putInstance(instance) });
    this.cluster = new EtcdCluster({ client, keys, clock, log });
  }

  revision(): number {
    return this.#seenRevision;
  }

  #saw(revision: string | number): void {
    const r = Number(revision);
    if (r > this.#seenRevision) this.#seenRevision = r;
  }

  async startWatch(fromRevision: number): Promise<void> {
    const watcher = await this.#client.watch().prefix(this.#keys.all()).withPreviousKV().startRevision(String(fromRevision)).create();
    this.#watcher = watcher;
    watcher.on('put', (kv, previous) => this.#onWatch('put', kv, previous));
    watcher.on('delete', (kv, previous) => this.#onWatch('delete', kv, previous));
    watcher.on('disconnected', () => this.#log.warn('etcd watch disconnected; reconnecting'));
    watcher.on('connected', () => this.#log.debug('etcd watch connected'));
    watcher.on('error', (err) => {
      // A watch that etcd cancelled (its start revision compacted away) does not come back by itself.
      if (this.#closed) return;
      this.#log.error('etcd watch failed; watching again from now and asking watchers to re-read', { error: errorMessage(err) });
      this.#watcher = undefined;
      void this.#rewatch();
    });
  }

  async #rewatch(): Promise<void> {
    try {
      const res = await this.#client.get(this.#keys.all()).exec();
      if (this.#closed) return;
      await this.startWatch(Number(res.header.revision) + 1);
      // Whatever happened between the lost watch and this revision was not announced.
      this.#events.emit({ type: 'resync' });
    } catch (err) {
      this.#log.error('etcd watch could not be re-established', { error: errorMessage(err) });
      if (!this.#closed) this.#clock.setTimeout(() => void this.#rewatch(), 2000);
    }
  }

  async listResources(filter: ResourceFilter = {}): Promise<Resource[]> {
    this.#requireOpen();
    const rows: { kind: string; namespace: string; name: string; resource: Resource }[] = [];
    for (const kv of await this.#list(this.#keys.resources(filter.kind))) {
      const id = this.#keys.parse(kv.key.toString());
      if (id?.area !== 'resources') continue;
      if (filter.namespace !== undefined && id.namespace !== filter.namespace) continue;
      const resource = this.#decodeResource(kv);
      if (resource !== undefined) rows.push({ kind: id.kind, namespace: id.namespace, name: id.name, resource });
    }
    // etcd returns keys in byte order of their encoded form; the Store promises (kind, namespace, name).
    rows.sort((a, b) => cmp(a.kind, b.kind) || cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
    return rows.map((r) => r.resource);
  }

  async getResource(kind: string, namespace: string, name: string): Promise<Resource | undefined> {
    const kv = await this.#get(this.#keys.resource(kind, namespace, name));
    return kv === undefined ? undefined : this.#decodeResource(kv);
  }

  async applyResource(incoming: Resource, options?: ApplyOptions): Promise<ApplyResult> {
    const { kind } = incoming;
    const { namespace, name } = incoming.metadata;
    const key = this.#keys.resource(kind, namespace, name);
    for (let attempt = 1; attempt <= MAX_TXN_ATTEMPTS; attempt++) {
      const kv = await this.#get(key);
      const plan = planApply({
        existing: kv === undefined ? undefined : this.#decodeResource(kv),
        existingVersion: kv?.mod_revision,
        incoming,
        options,
        // etcd assigns the revision at commit; it replaces this placeholder below.
        nextRevision: () => '0',
        now: () => new Date(this.#clock.now()).toISOString(),
      });
      if (plan.action === 'unchanged') return { resource: plan.resource, created: false, unchanged: true };
      // The write happens only if nobody wrote the key since we read it (mod_revision 0: absent),
      // which makes the read-check-write above one atomic step.
      const txn = await this.#client
        .if(key, 'Mod', '==', kv?.mod_revision ?? '0')
        .then(this.#client.put(key).value(encodeResource(plan.resource)))
        .commit();
      if (!txn.succeeded) continue;
      const revision = txn.header.revision;
      this.#saw(revision);
      const resource: Resource = { ...plan.resource, metadata: { ...plan.resource.metadata, resourceVersion: revision } };
      this.#emitLocal(key, Number(revision), { type: 'resource-put', resource });
      return { resource, created: plan.created, unchanged: false };
    }
    throw this.#contended(`${kind} ${namespace}/${name}`);
  }

  async deleteResource(kind: string, namespace: string, name: string, options?: ApplyOptions): Promise<Resource> {
    const key = this.#keys.resource(kind, namespace, name);
    for (let attempt = 1; attempt <= MAX_TXN_ATTEMPTS; attempt++) {
      const kv = await this.#get(key);
      checkDelete(kind, namespace, name, kv?.mod_revision, options);
      const txn = await this.#client.if(key, 'Mod', '==', kv!.mod_revision).then(this.#client.delete().key(key)).commit();
      if (!txn.succeeded) continue;
      // A corrupt value can still be deleted (that is how an operator gets rid of it); the caller
      // gets back what identity we have.
      const deleted = this.#decodeResource(kv!) ?? placeholder(kind, namespace, name, kv!.mod_revision);
      this.#emitLocal(key, Number(txn.header.revision), { type: 'resource-delete', resource: deleted });
      return deleted;
    }
    throw this.#contended(`${kind} ${namespace}/${name}`);
  }

  async listInstances(): Promise<InstanceState[]> {
    this.#requireOpen();
    const out: InstanceState[] = [];
    for (const kv of await this.#list(this.#keys.instances())) {
      const key = kv.key.toString();
      const instance = parseInstance(kv.value.toString());
      if (instance === undefined) {
        this.#log.warn('skipping corrupt instance key', { key });
        continue;
      }
      this.#leases.adopt(key, kv.lease);
      out.push(instance);
    }
    // Keys sort by their encoded form; the Store promises (namespace, service, id).
    out.sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.service, b.service) || cmp(a.id, b.id));
    return out;
  }

  async putInstance(instance: InstanceState): Promise<void> {
    this.#requireOpen();
    await this.#putInstance(instance);
  }

  /** Puts the instance on a fresh lease (see etcd-instance-leases.ts) and emits. */
  async #putInstance(instance: InstanceState): Promise<void> {
    const key = this.#keys.instance(instance.namespace, instance.service, instance.id);
    const json = JSON.stringify(instance);
    const revision = await this.#leases.put(key, instance, json);
    // Watchers get the stored form, not the caller's (possibly later mutated) object.
    this.#emitLocal(key, revision, { type: 'instance-put', instance: JSON.parse(json) as InstanceState });
  }

  async refreshInstance(instance: InstanceState): Promise<void> {
    if (this.#closed) return;
    await this.#leases.refresh(this.#keys.instance(instance.namespace, instance.service, instance.id), instance);
  }

  async deleteInstance(namespace: string, service: string, id: string): Promise<void> {
    this.#requireOpen();
    const key = this.#keys.instance(namespace, service, id);
    const res = await this.#client.delete().key(key).exec();
    this.#leases.forget(key);
    if (Number(res.deleted) > 0) this.#emitLocal(key, Number(res.header.revision), { type: 'instance-delete', namespace, service, id });
    // Its heartbeat record goes too (it shares the instance's lease when it was written on one).
    await this.#client.delete().key(this.#keys.heartbeat(namespace, service, id)).exec();
  }

  async publishHeartbeat(namespace: string, service: string, id: string, at: number): Promise<void> {
    this.#requireOpen();
    const key = this.#keys.heartbeat(namespace, service, id);
    const value = JSON.stringify({ at });
    // On the instance's lease when known, so an instance that expires in etcd takes its record along.
    const lease = this.#leases.leaseOf(this.#keys.instance(namespace, service, id));
    if (lease !== undefined) {
      try {
        await this.#client.put(key).value(value).lease(lease).exec();
        return;
      } catch {
        // The lease is gone (the instance is being written again on a new one): plain put below.
      }
    }
    await this.#client.put(key).value(value).exec();
  }

  async putBinding(proxyId: string, binding: StoredBinding, ttlSeconds: number): Promise<void> {
    this.#requireOpen();
    const lease = await this.#client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlSeconds)), ID: 0 });
    await this.#client.put(this.#keys.binding(proxyId)).value(JSON.stringify(binding)).lease(lease.ID).exec();
  }

  async listBindings(): Promise<{ readonly proxyId: string; readonly binding: StoredBinding }[]> {
    const out: { proxyId: string; binding: StoredBinding }[] = [];
    for (const kv of await this.#list(this.#keys.bindings())) {
      const id = this.#keys.parse(kv.key.toString());
      const binding = bindingOf(kv.value.toString());
      if (id?.area === 'bindings' && binding) out.push({ proxyId: id.proxyId, binding });
    }
    return out;
  }

  async listTokens(): Promise<StoredToken[]> {
    this.#requireOpen();
    const out: StoredToken[] = [];
    for (const kv of await this.#list(this.#keys.tokens())) {
      const value = parseStoredObject(kv.value.toString());
      if (value === undefined || typeof value.id !== 'string') {
        this.#log.warn('skipping corrupt token key', { key: kv.key.toString() });
        continue;
      }
      out.push(value as unknown as StoredToken);
    }
    return out.sort((a, b) => cmp(a.id, b.id));
  }

  async putToken(token: StoredToken): Promise<void> {
    this.#requireOpen();
    await this.#client.put(this.#keys.token(token.id)).value(JSON.stringify(token)).exec();
  }

  async deleteToken(id: string): Promise<boolean> {
    this.#requireOpen();
    const res = await this.#client.delete().key(this.#keys.token(id)).exec();
    return Number(res.deleted) > 0;
  }

  watch(listener: (event: StoreEvent) => void): () => void {
    return this.#events.watch(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.clear();
    const watcher = this.#watcher;
    this.#watcher = undefined;
    try {
      await watcher?.cancel();
    } catch {
      // The client is going away anyway.
    }
    this.#client.close();
  }

  #requireOpen(): void {
    if (this.#closed) throw new WeftError(STORE_CLOSED, 'store is closed', 503);
  }

  /** Every key under `prefix`, in pages of LIST_PAGE_SIZE read at the first page's revision. */
  async #list(prefix: string): Promise<IKeyValue[]> {
    this.#requireOpen();
    const end = prefixEnd(Buffer.from(prefix));
    const out: IKeyValue[] = [];
    let from = Buffer.from(prefix);
    let revision: string | undefined;
    for (;;) {
      const res = await this.#client.kv.range({ key: from, range_end: end, limit: LIST_PAGE_SIZE, ...(revision ? { revision } : {}) });
      revision ??= res.header.revision;
      this.#saw(res.header.revision);
      out.push(...res.kvs);
      if (!res.more || res.kvs.length === 0) return out;
      // The next page starts just after the last key read.
      from = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
    }
  }

  async #get(key: string): Promise<IKeyValue | undefined> {
    this.#requireOpen();
    const res = await this.#client.get(key).exec();
    this.#saw(res.header.revision);
    return res.kvs[0];
  }

  #decodeResource(kv: IKeyValue): Resource | undefined {
    const resource = parseResource(kv.value.toString());
    if (resource === undefined) {
      this.#log.warn('skipping corrupt resource key', { key: kv.key.toString() });
      return undefined;
    }
    return { ...resource, metadata: { ...resource.metadata, resourceVersion: kv.mod_revision } };
  }

  #contended(what: string): WeftError {
    return new WeftError('WEFT_ERR_STORE_CONTENDED', `${what}: gave up after ${MAX_TXN_ATTEMPTS} attempts lost to concurrent writers`, 503);
  }

  #emitLocal(key: string, revision: number, event: StoreEvent): void {
    // The watch already delivered this revision (or a later one of this key): emitted already.
    if (revision <= this.#watchedRevision || revision <= (this.#emitted.get(key) ?? 0)) return;
    this.#emitted.set(key, revision);
    this.#events.emit(event);
  }

  #onWatch(type: 'put' | 'delete', kv: IKeyValue, previous: IKeyValue | undefined): void {
    if (this.#closed) return;
    const key = kv.key.toString();
    const revision = Number(kv.mod_revision);
    this.#saw(revision);
    const event = this.#eventFor(type, key, kv, previous);
    if (event !== undefined && revision > (this.#emitted.get(key) ?? 0)) this.#events.emit(event);
    if (revision > this.#watchedRevision) {
      this.#watchedRevision = revision;
      // Watch events come in revision order: entries at or below it can no longer suppress anything.
      for (const [k, r] of this.#emitted) if (r <= revision) this.#emitted.delete(k);
    }
  }

  #eventFor(type: 'put' | 'delete', key: string, kv: IKeyValue, previous: IKeyValue | undefined): StoreEvent | undefined {
    const id = this.#keys.parse(key);
    if (id?.area === 'resources') {
      if (type === 'put') {
        const resource = this.#decodeResource(kv);
        return resource === undefined ? undefined : { type: 'resource-put', resource };
      }
      const resource = (previous && this.#decodeResource(previous)) ?? placeholder(id.kind, id.namespace, id.name, previous?.mod_revision);
      return { type: 'resource-delete', resource };
    }
    if (id?.area === 'instances') {
      if (type === 'delete') {
        // An expired lease deletes the key too (see etcd-instance-leases.ts).
        this.#leases.forget(key);
        return { type: 'instance-delete', namespace: id.namespace, service: id.service, id: id.id, remote: true };
      }
      const instance = parseInstance(kv.value.toString());
      if (instance === undefined) return undefined;
      this.#leases.adopt(key, kv.lease);
      return { type: 'instance-put', instance, remote: true };
    }
    if (id?.area === 'heartbeats') {
      if (type === 'delete') return undefined;
      const at = Number((parseStoredObject(kv.value.toString()) as { at?: unknown } | undefined)?.at);
      return Number.isFinite(at) ? { type: 'heartbeat', namespace: id.namespace, service: id.service, id: id.id, at } : undefined;
    }
    if (id?.area === 'bindings') {
      if (type === 'delete') return { type: 'binding-delete', proxyId: id.proxyId };
      const binding = bindingOf(kv.value.toString());
      return binding ? { type: 'binding-put', proxyId: id.proxyId, binding } : undefined;
    }
    if (id?.area === 'tokens') {
      if (type === 'delete') return { type: 'token-delete', id: id.id };
      const value = parseStoredObject(kv.value.toString());
      return value !== undefined && typeof value.id === 'string' ? { type: 'token-put', token: value as unknown as StoredToken } : undefined;
    }
    return undefined;
  }
}

function bindingOf(json: string): StoredBinding | undefined {
  const v = parseStoredObject(json) as { identity?: unknown; keys?: unknown } | undefined;
  return v && typeof v.identity === 'string' && Array.isArray(v.keys) && v.keys.every((k) => typeof k === 'string') ? { identity: v.identity, keys: v.keys as string[] } : undefined;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What a delete of an unreadable value reports: the identity, no body. */
function placeholder(kind: string, namespace: string, name: string, resourceVersion: string | undefined): Resource {
  return { apiVersion: '', kind, metadata: { name, namespace, ...(resourceVersion !== undefined ? { resourceVersion } : {}) }, spec: null };
}


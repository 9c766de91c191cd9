// `weft control --kubernetes`: list+watch Services, EndpointSlices (and, when the Gateway API CRDs
// are installed, HTTPRoutes and GRPCRoutes) with @kubernetes/client-node's informers, and mirror
// them into the catalog (instances) and the store (resources) through mapping.ts.

import {
  CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig, ListWatch, Watch,
  type KubernetesListObject, type KubernetesObject, type V1EndpointSlice, type V1Service,
} from '@kubernetes/client-node';
import type { InstanceState } from '../../../config/catalog-types.ts';
import type { Resource } from '../../../config/resource.ts';
import { createBackoff, type Backoff } from '../../../lib/backoff.ts';
import { WeftError } from '../../../lib/errors.ts';
import type { Logger } from '../../../lib/log.ts';
import type { Registry } from '../../../lib/metrics.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import type { Store } from '../../store/store.ts';
import { instancesFor, routeResource, serviceResource, SERVICE_NAME_LABEL, SOURCE_ANNOTATION, SOURCE_KUBERNETES, type SourcedInstance } from './mapping.ts';

export interface KubernetesSourceOptions {
  /** A kubeconfig file (`--kubeconfig`); default: $KUBECONFIG, ~/.kube/config, else in-cluster. */
  readonly kubeconfig?: string;
  /** Namespaces to watch (`--kubernetes-namespaces a,b`); empty or absent: all. */
  readonly namespaces?: readonly string[];
  readonly catalog: Catalog;
  readonly store: Store;
  readonly log: Logger;
  /** The mesh's SPIFFE trust domain, for the identity of Services annotated weft.dev/sidecar. */
  readonly trustDomain: string;
  /** Changes within this window are mirrored together, in ms (default 50). */
  readonly batchMs?: number;
  /** How long before looking again for Gateway API CRDs found missing, in ms (default 300 000). */
  readonly crdRetryMs?: number;
  /**
   * Where to count: weft_control_kubernetes_lists_total{collection} (first lists and relists after
   * a 410), weft_control_kubernetes_errors_total{collection} (failed lists and watches, retried),
   * weft_control_kubernetes_instances{health} (mirrored instances).
   */
  readonly metrics?: Registry;
}

type Collection = 'services' | 'endpointslices' | 'httproutes' | 'grpcroutes';
const COLLECTIONS: readonly Collection[] = ['services', 'endpointslices', 'httproutes', 'grpcroutes'];
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const ROUTE_KIND: Readonly<Record<string, string>> = { httproutes: 'HTTPRoute', grpcroutes: 'GRPCRoute' };

interface Informer {
  readonly collection: Collection;
  readonly namespace: string | undefined;
  readonly lw: ListWatch<KubernetesObject>;
  readonly backoff: Backoff;
  /** Listed at least once: its cache is the truth, so what it lacks may be removed. */
  listed: boolean;
  /** A route collection whose CRD is not installed (list answered 404): counts as listed, empty. */
  absent: boolean;
  timer?: NodeJS.Timeout;
}

export interface KubernetesSource {
  /** Per collection and namespace: listed yet, CRD absent, the resourceVersion it watches from. */
  status(): { collection: string; namespace: string; listed: boolean; absent: boolean; resourceVersion: string }[];
  stop(): Promise<void>;
}

/** The API path of a collection, cluster-wide or in one namespace. */
export function collectionPath(collection: Collection, namespace?: string): string {
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  switch (collection) {
    case 'services': return `/api/v1${ns}/services`;
    case 'endpointslices': return `/apis/discovery.k8s.io/v1${ns}/endpointslices`;
    default: return `/apis/${GATEWAY_GROUP}/v1${ns}/${collection}`;
  }
}

/**
 * Loads the kubeconfig: the file given, else the client's default search ($KUBECONFIG,
 * ~/.kube/config, in-cluster service account). Throws WEFT_ERR_KUBERNETES_CONFIG when none works.
 */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (file !== undefined) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new WeftError('WEFT_ERR_KUBERNETES_CONFIG', `cannot load the kubeconfig${file ? ` ${file}` : ''}: ${(err as Error).message}`, 400);
  }
  if (!kc.getCurrentCluster()) throw new WeftError('WEFT_ERR_KUBERNETES_CONFIG', `the kubeconfig${file ? ` ${file}` : ''} has no current cluster`, 400);
  return kc;
}

/**
 * Starts mirroring. Returns at once: the informers list and watch in the background, log what
 * fails and start over with backoff (a 410 Gone is handled by the informer: it lists again).
 * Instances and resources the source owns are removed only once the collection that would list
 * them has been listed, so a restart never empties the mesh before the cluster answered.
 */
export function startKubernetesSource(options: KubernetesSourceOptions): KubernetesSource {
  const kc = loadKubeConfig(options.kubeconfig);
  const { catalog, store, log } = options;
  const batchMs = options.batchMs ?? 50;
  const crdRetryMs = options.crdRetryMs ?? 300_000;
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const watch = new Watch(kc);
  // ListWatch sends only resourceVersion and selectors; bookmarks keep our resourceVersion fresh on
  // quiet collections (fewer 410s on reconnect), and a server-side timeout spreads reconnects as
  // client-go does (a random 5 to 10 minutes).
  // Every open watch, so stop() ends them all, including one an informer opened while stopping
  // (ListWatch.stop() does not reach a list that is still in flight).
  const open = new Set<AbortController>();
  let stopped = false;
  const bookmarkWatch = {
    watch: async (path: string, query: Record<string, unknown>, cb: (phase: string, obj: any, watchObj?: any) => void, done: (err: any) => void) => {
      if (stopped) return new AbortController();
      let ended = false;
      let controller: AbortController | undefined;
      controller = await watch.watch(path, { ...query, allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) }, cb, (err) => {
        ended = true;
        if (controller) open.delete(controller);
        done(err);
      });
      if (stopped) controller.abort();
      else if (!ended) open.add(controller);
      return controller;
    },
  } as unknown as Watch;

  const lists = options.metrics?.counter('weft_control_kubernetes_lists_total', 'Lists of a Kubernetes collection: the first, and each relist after a 410 Gone or a restart.', ['collection']);
  const errors = options.metrics?.counter('weft_control_kubernetes_errors_total', 'Failed lists and watches of a Kubernetes collection (each retried with backoff).', ['collection']);
  const mirrored = options.metrics?.gauge('weft_control_kubernetes_instances', 'Catalog instances mirrored from Kubernetes EndpointSlices, by health.', ['health']);
  const namespaces = options.namespaces?.length ? options.namespaces : [undefined];
  const list = (collection: Collection, namespace: string | undefined): (() => Promise<KubernetesListObject<KubernetesObject>>) => {
    switch (collection) {
      case 'services': return () => (namespace === undefined ? core.listServiceForAllNamespaces() : core.listNamespacedService({ namespace }));
      case 'endpointslices': return () => (namespace === undefined ? discovery.listEndpointSliceForAllNamespaces() : discovery.listNamespacedEndpointSlice({ namespace }));
      default: return () => (namespace === undefined
        ? custom.listClusterCustomObject({ group: GATEWAY_GROUP, version: 'v1', plural: collection })
        : custom.listNamespacedCustomObject({ group: GATEWAY_GROUP, version: 'v1', namespace, plural: collection })) as Promise<KubernetesListObject<KubernetesObject>>;
    }
  };

  let batchTimer: NodeJS.Timeout | undefined;
  let running = false;
  let dirty = false;
  /** JSON of what was last applied per resource key, so an unchanged resource costs no store read. */
  const applied = new Map<string, string>();
  const conflictsLogged = new Set<string>();
  const skippedLogged = new Map<string, string>();

  const informers: Informer[] = [];
  for (const namespace of namespaces) {
    for (const collection of COLLECTIONS) {
      const listFn = list(collection, namespace);
      let informer: Informer;
      const lw = new ListWatch<KubernetesObject>(collectionPath(collection, namespace), bookmarkWatch, async () => {
        const result = await listFn();
        informer.listed = true;
        informer.absent = false;
        informer.backoff.reset();
        lists?.inc({ collection });
        log.info('kubernetes list', { collection, namespace: namespace ?? '*', items: result.items.length, resourceVersion: result.metadata?.resourceVersion });
        schedule();
        return result;
      }, false);
      informer = { collection, namespace, lw, backoff: createBackoff({ baseMs: 500, maxMs: 30_000 }), listed: false, absent: false };
      lw.on('add', schedule);
      lw.on('update', schedule);
      lw.on('delete', schedule);
      lw.on('error', (err: unknown) => onError(informer, err));
      informers.push(informer);
    }
  }

  function onError(informer: Informer, err: unknown): void {
    if (stopped) return;
    const code = (err as { code?: unknown; statusCode?: unknown }).code ?? (err as { statusCode?: unknown }).statusCode;
    let delay: number;
    if (code === 404 && (informer.collection === 'httproutes' || informer.collection === 'grpcroutes')) {
      // The Gateway API CRDs are not installed: no routes, and look again now and then.
      if (!informer.absent) log.info('kubernetes: Gateway API CRD not installed; routes not mirrored', { collection: informer.collection, namespace: informer.namespace ?? '*' });
      informer.absent = true;
      informer.listed = true;
      schedule();
      delay = crdRetryMs;
    } else {
      errors?.inc({ collection: informer.collection });
      delay = informer.backoff.next();
      log.warn('kubernetes list/watch failed; retrying', { collection: informer.collection, namespace: informer.namespace ?? '*', err: (err as Error)?.message ?? String(err), retryInMs: delay });
    }
    informer.timer = setTimeout(() => {
      informer.timer = undefined;
      if (!stopped) void informer.lw.start();
    }, delay);
    informer.timer.unref?.();
  }

  function schedule(): void {
    if (stopped || batchTimer) return;
    batchTimer = setTimeout(() => {
      batchTimer = undefined;
      void reconcile();
    }, batchMs);
  }

  async function reconcile(): Promise<void> {
    if (running) {
      dirty = true;
      return;
    }
    running = true;
    try {
      do {
        dirty = false;
        await reconcileOnce();
      } while (dirty && !stopped);
    } catch (err) {
      log.error('kubernetes: mirroring failed', { err: (err as Error).message });
    } finally {
      running = false;
    }
  }

  const cached = (collection: Collection): KubernetesObject[] => informers.filter((i) => i.collection === collection && !i.absent).flatMap((i) => i.lw.list());
  const allListed = (collection: Collection): boolean => informers.filter((i) => i.collection === collection).every((i) => i.listed);

  function skipped(key: string, reason: string): void {
    if (skippedLogged.get(key) === reason) return;
    skippedLogged.set(key, reason);
    log.warn('kubernetes: object not mirrored', { object: key, reason });
  }

  async function reconcileOnce(): Promise<void> {
    if (stopped) return;
    const services = cached('services') as V1Service[];
    const slices = cached('endpointslices') as V1EndpointSlice[];
    const serviceByKey = new Map(services.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));

    // Instances: slices grouped by the Service they belong to.
    const groups = new Map<string, V1EndpointSlice[]>();
    for (const slice of slices) {
      const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (!name) continue; // a slice of no Service: nothing to name it by
      const key = `${slice.metadata?.namespace}/${name}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = []));
      group.push(slice);
    }
    const desired = new Map<string, SourcedInstance>();
    for (const [key, group] of groups) {
      const [namespace, name] = key.split('/');
      const svc = serviceByKey.get(key);
      if (svc?.spec?.type === 'ExternalName') continue;
      for (const inst of instancesFor(namespace, name, svc, group, options.trustDomain)) desired.set(`${namespace}/${name}/${inst.registration.id}`, inst);
    }
    for (const inst of desired.values()) {
      try {
        await catalog.putSourced(inst.registration, inst.health, inst.reason);
      } catch (err) {
        skipped(`${inst.registration.namespace}/${inst.registration.service}/${inst.registration.id}`, (err as Error).message);
      }
    }
    if (allListed('services') && allListed('endpointslices')) {
      for (const inst of catalog.list()) {
        if (inst.source !== SOURCE_KUBERNETES || desired.has(keyOf(inst))) continue;
        await catalog.removeSourced(inst.namespace, inst.service, inst.id);
      }
    }
    if (mirrored) {
      const counts: Record<string, number> = { passing: 0, warning: 0, critical: 0 };
      for (const inst of catalog.list()) if (inst.source === SOURCE_KUBERNETES) counts[inst.health]++;
      for (const [health, n] of Object.entries(counts)) mirrored.set({ health }, n);
    }

    // Resources: Services, and routes when their CRDs are installed.
    const wanted = new Map<string, Resource>();
    for (const svc of services) {
      const r = serviceResource(svc);
      const key = `Service/${svc.metadata?.namespace}/${svc.metadata?.name}`;
      if (r.ok) wanted.set(key, r.resource);
      else skipped(key, r.reason);
    }
    for (const collection of ['httproutes', 'grpcroutes'] as const) {
      for (const obj of cached(collection)) {
        const r = routeResource({ ...obj, kind: obj.kind ?? ROUTE_KIND[collection], apiVersion: obj.apiVersion ?? `${GATEWAY_GROUP}/v1` } as Parameters<typeof routeResource>[0]);
        const key = `${ROUTE_KIND[collection]}/${obj.metadata?.namespace}/${obj.metadata?.name}`;
        if (r.ok) wanted.set(key, r.resource);
        else skipped(key, r.reason);
      }
    }
    for (const [key, resource] of wanted) {
      const json = JSON.stringify(resource);
      if (applied.get(key) === json) continue;
      const existing = await store.getResource(resource.kind, resource.metadata.namespace, resource.metadata.name);
      if (existing && existing.metadata.annotations?.[SOURCE_ANNOTATION] !== SOURCE_KUBERNETES) {
        // Someone applied this one through weft's API: theirs stands.
        if (!conflictsLogged.has(key)) log.warn('kubernetes: a resource of the same name was applied through the API; left as it is', { resource: key });
        conflictsLogged.add(key);
        continue;
      }
      await store.applyResource(resource);
      applied.set(key, json);
    }
    const kinds: [string, boolean][] = [['Service', allListed('services')], ['HTTPRoute', allListed('httproutes')], ['GRPCRoute', allListed('grpcroutes')]];
    for (const [kind, listed] of kinds) {
      if (!listed) continue;
      for (const r of await store.listResources({ kind })) {
        const key = `${kind}/${r.metadata.namespace}/${r.metadata.name}`;
        if (r.metadata.annotations?.[SOURCE_ANNOTATION] !== SOURCE_KUBERNETES || wanted.has(key)) continue;
        await store.deleteResource(kind, r.metadata.namespace, r.metadata.name).catch(() => undefined);
        applied.delete(key);
        log.info('kubernetes: resource removed', { resource: key });
      }
    }
  }

  for (const informer of informers) {
    void informer.lw.start().catch((err: unknown) => onError(informer, err));
  }
  log.info('kubernetes source started', { server: kc.getCurrentCluster()?.server, namespaces: options.namespaces?.length ? options.namespaces.join(',') : '*' });

  return {
    status: () => informers.map((i) => ({ collection: i.collection, namespace: i.namespace ?? '*', listed: i.listed, absent: i.absent, resourceVersion: i.lw.latestResourceVersion() })),
    async stop() {
      stopped = true;
      if (batchTimer) clearTimeout(batchTimer);
      for (const i of informers) {
        if (i.timer) clearTimeout(i.timer);
        await i.lw.stop();
      }
      for (const c of open) c.abort();
      open.clear();
      // A reconcile in flight finishes its current write; later ones see `stopped`.
      while (running) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

function keyOf(inst: InstanceState): string {
  return `${inst.namespace}/${inst.service}/${inst.id}`;
}

import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../lib/clock.ts';
import { Registry } from '../../../lib/metrics.ts';
import { createLogger } from '../../../lib/log.ts';
import { openSqliteStore } from '../../store/sqlite-store.ts';
import type { Store } from '../../store/store.ts';
import { Catalog } from '../../catalog/catalog.ts';
import { loadKubeConfig, startKubernetesSource, type KubernetesSource } from './kubernetes-source.ts';
import { ENDPOINT_SLICES, HTTP_ROUTES, SERVICES, startFakeKubeApiServer, type FakeKubeApiServer } from '../../../../test/support/fake-kube-apiserver.ts';
import { endpointSlice, service } from '../../../../test/support/kubernetes-fixtures.ts';

const quiet = process.env.K8S_TEST_LOG ? createLogger('test') : createLogger('test', () => {});
let dir: string;
let store: Store;
let catalog: Catalog;
let api: FakeKubeApiServer;
let kubeconfig: string;
const sources: KubernetesSource[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weft-k8s-'));
  store = await openSqliteStore(dir);
  catalog = new Catalog({ store, clock: new ManualClock(), log: quiet });
  await catalog.start();
  api = await startFakeKubeApiServer();
  kubeconfig = path.join(dir, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
});
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
  catalog.stop();
  await api.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

let metrics: Registry;

function start(namespaces?: string[]): KubernetesSource {
  metrics = new Registry();
  const s = startKubernetesSource({ kubeconfig, namespaces, catalog, store, log: quiet, trustDomain: 'weft.local', batchMs: 10, crdRetryMs: 200, metrics });
  sources.push(s);
  return s;
}

/** Polls until `probe` holds (the source works over real sockets), failing after 20 s. */
async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const health = () => Object.fromEntries(catalog.list().filter((i) => i.source === 'kubernetes').map((i) => [i.id, i.health]));

function seedReviews(): void {
  api.put(SERVICES, service('reviews'));
  api.put(ENDPOINT_SLICES, endpointSlice('reviews', 'abc12', 8080, [{ pod: 'reviews-v1-a', address: '10.244.1.5', zone: 'zone-a' }]));
  api.put(ENDPOINT_SLICES, endpointSlice('reviews', 'def34', 8080, [{ pod: 'reviews-v2-b', address: '10.244.2.7', zone: 'zone-b' }]));
}

test('a kubeconfig that cannot be read is a clear error', () => {
  assert.throws(() => loadKubeConfig(path.join(dir, 'missing')), (err: { code?: string }) => err.code === 'WEFT_ERR_KUBERNETES_CONFIG');
});

test('list, then watch with bookmarks: instances follow MODIFIED and DELETED events', async () => {
  seedReviews();
  start();
  await until('two passing instances', () => Object.values(health()).filter((h) => h === 'passing').length === 2);
  const inst = catalog.get('default', 'reviews', 'reviews-v1-a:10.244.1.5')!;
  assert.equal(inst.address, '10.244.1.5');
  assert.deepEqual(inst.ports, [{ port: 9080, targetPort: 8080, name: 'http', protocol: 'http' }]);
  assert.equal(inst.labels['topology.kubernetes.io/zone'], 'zone-a');
  // The Service is in the store too, owned by the source.
  const stored = await until('the Service resource', () => store.getResource('Service', 'default', 'reviews'));
  assert.equal(stored.metadata.annotations?.['weft.dev/source'], 'kubernetes');
  // Watches asked for bookmarks, with the list's resourceVersion, and sent the kubeconfig's token.
  await until('watches open', () => api.openWatches() >= 2);
  const watch = api.requests.find((r) => r.watch && r.path === ENDPOINT_SLICES)!;
  assert.equal(watch.query.allowWatchBookmarks, 'true');
  assert.ok(Number(watch.query.resourceVersion) > 0);
  assert.equal(watch.authorization, 'Bearer fake-token');

  api.put(ENDPOINT_SLICES, endpointSlice('reviews', 'def34', 8080, [{ pod: 'reviews-v2-b', address: '10.244.2.7', ready: false, serving: true, terminating: true }]));
  await until('v2 critical', () => health()['reviews-v2-b:10.244.2.7'] === 'critical');
  assert.equal(catalog.get('default', 'reviews', 'reviews-v2-b:10.244.2.7')!.healthReason, 'kubernetes: terminating (still serving)');
  api.remove(ENDPOINT_SLICES, 'default', 'reviews-def34');
  await until('v2 removed', () => health()['reviews-v2-b:10.244.2.7'] === undefined);
  assert.deepEqual(health(), { 'reviews-v1-a:10.244.1.5': 'passing' });
});

test('a BOOKMARK moves the resourceVersion a watch resumes from', async () => {
  seedReviews();
  const source = start();
  await until('watches open', () => api.openWatches() === 2);
  // Changes elsewhere in the cluster (another collection) move the resourceVersion on.
  api.put(SERVICES, service('ratings'));
  api.put(SERVICES, service('details'));
  api.bookmark();
  const rv = api.resourceVersion();
  await until('bookmark seen', () => source.status().find((s) => s.collection === 'endpointslices')?.resourceVersion === rv);
  const before = api.requests.length;
  api.endWatches();
  await until('watch resumed from the bookmark', () => api.requests.slice(before).some((r) => r.watch && r.path === ENDPOINT_SLICES && r.query.resourceVersion === rv));
  // A resumed watch is no relist.
  assert.equal(api.requests.slice(before).filter((r) => !r.watch && r.path === ENDPOINT_SLICES).length, 0);
});

test('410 Gone: the source lists again and converges, removing what vanished meanwhile', async () => {
  seedReviews();
  start();
  await until('two instances', () => Object.keys(health()).length === 2);
  const lists = () => api.requests.filter((r) => !r.watch && r.path === ENDPOINT_SLICES).length;
  assert.equal(lists(), 1);
  // Changes the watch never delivers (the watcher fell behind), then the server says 410.
  api.remove(ENDPOINT_SLICES, 'default', 'reviews-abc12', { silent: true });
  api.put(ENDPOINT_SLICES, endpointSlice('reviews', 'ghi56', 8080, [{ pod: 'reviews-v3-c', address: '10.244.3.9' }]), { silent: true });
  api.expire();
  await until('converged after relist', () => {
    const h = health();
    return Object.keys(h).length === 2 && h['reviews-v3-c:10.244.3.9'] === 'passing' && h['reviews-v2-b:10.244.2.7'] === 'passing';
  });
  assert.equal(lists(), 2);
  assert.equal(catalog.get('default', 'reviews', 'reviews-v1-a:10.244.1.5'), undefined);
  assert.match(metrics.render(), /weft_control_kubernetes_lists_total\{collection="endpointslices"\} 2/);
  assert.match(metrics.render(), /weft_control_kubernetes_instances\{health="passing"\} 2/);
});

test('restart: stored instances stay until the first list, then those gone are removed', async () => {
  seedReviews();
  let source = start();
  await until('two instances', () => Object.keys(health()).length === 2);
  await source.stop();
  sources.splice(0);
  // A fresh catalog on the same store (a control-plane restart), while the cluster changed.
  catalog.stop();
  catalog = new Catalog({ store, clock: new ManualClock(), log: quiet });
  await catalog.start();
  assert.equal(Object.keys(health()).length, 2);
  api.remove(ENDPOINT_SLICES, 'default', 'reviews-abc12');
  source = start();
  await until('v1 gone', () => Object.keys(health()).length === 1);
  assert.ok(catalog.get('default', 'reviews', 'reviews-v2-b:10.244.2.7'));
});

test('only the namespaces asked for are watched', async () => {
  seedReviews();
  api.put(SERVICES, service('reviews', 'shop'));
  api.put(ENDPOINT_SLICES, endpointSlice('reviews', 'zz', 8080, [{ pod: 'shop-r', address: '10.1.0.1' }], 'shop'));
  start(['shop']);
  await until('shop instance', () => Object.keys(health()).length === 1);
  assert.ok(catalog.get('shop', 'reviews', 'shop-r:10.1.0.1'));
  assert.ok(api.requests.every((r) => r.path.includes('/namespaces/shop/')));
});

test('Gateway API routes are mirrored when the CRDs exist; a resource applied through the API is left alone', async () => {
  api.gatewayApi = true;
  seedReviews();
  api.put(HTTP_ROUTES, {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'reviews', namespace: 'default' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'reviews' }], rules: [{ backendRefs: [{ name: 'reviews', port: 9080 }] }] },
  });
  // An operator's own Service named like a cluster one: theirs stands.
  await store.applyResource({ apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'ratings', namespace: 'default' }, spec: { ports: [{ port: 1, targetPort: 1, appProtocol: 'tcp' }] } });
  api.put(SERVICES, service('ratings'));
  start();
  const route = await until('route mirrored', () => store.getResource('HTTPRoute', 'default', 'reviews'));
  assert.equal(route.metadata.annotations?.['weft.dev/source'], 'kubernetes');
  await until('reviews Service mirrored', () => store.getResource('Service', 'default', 'reviews'));
  const ratings = await store.getResource('Service', 'default', 'ratings');
  assert.deepEqual((ratings!.spec as { ports: { port: number }[] }).ports.map((p) => p.port), [1]);
  api.remove(HTTP_ROUTES, 'default', 'reviews');
  await until('route removed', async () => (await store.getResource('HTTPRoute', 'default', 'reviews')) === undefined);
});

test('without the Gateway API CRDs, routes are not mirrored and the rest works', async () => {
  seedReviews();
  const source = start();
  await until('instances', () => Object.keys(health()).length === 2);
  await until('CRDs found absent', () => source.status().filter((s) => s.absent).length === 2);
});

test('an API server that is down is retried until it answers', async () => {
  api.down = true;
  const source = start();
  await until('failed attempts counted', () => /weft_control_kubernetes_errors_total\{collection="services"\} [2-9]/.test(metrics.render()));
  assert.equal(api.requests.length, 0);
  assert.ok(source.status().every((s) => !s.listed));
  assert.equal(Object.keys(health()).length, 0);
  api.down = false;
  seedReviews();
  await until('instances after the server came back', () => Object.keys(health()).length === 2);
});

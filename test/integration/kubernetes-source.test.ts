// Bar (issue 16 item 5): `weft control --kubernetes` mirrors a cluster's Services and EndpointSlices
// into the catalog. No cluster runs here: the API server is test/support/fake-kube-apiserver.ts,
// serving lists and watch streams as kube-apiserver does; the endpoints' addresses are local apps.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { adminMetrics, metricSample, startControlPlane, startSidecar, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, getViaProxy, type EchoServer } from '../support/upstreams.ts';
import { stopAll, tempDir, waitFor } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';
import { ENDPOINT_SLICES, SERVICES, startFakeKubeApiServer, type FakeKubeApiServer } from '../support/fake-kube-apiserver.ts';
import { endpointSlice, service } from '../support/kubernetes-fixtures.ts';

let api: FakeKubeApiServer;
let cp: ControlPlaneProcess;
let client: SidecarProcess;
let dir: { path: string; remove(): Promise<void> };
const echoes: EchoServer[] = [];

before(async () => {
  dir = await tempDir('weft-k8s-it-');
  api = await startFakeKubeApiServer();
  const kubeconfig = path.join(dir.path, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  for (const name of ['reviews-v1', 'reviews-v2', 'reviews-v3']) echoes.push(await startEcho(name));
  api.put(SERVICES, service('reviews'));
  api.put(ENDPOINT_SLICES, endpointSlice('reviews', 'abc12', echoes[0].port, [{ pod: 'reviews-v1-5d8f', address: '127.0.0.1', zone: 'zone-a', node: 'node-1' }]));
  api.put(ENDPOINT_SLICES, endpointSlice('reviews', 'def34', echoes[1].port, [{ pod: 'reviews-v2-7c4b', address: '127.0.0.1', zone: 'zone-b', node: 'node-2' }]));
  cp = await startControlPlane(['--kubernetes', '--kubeconfig', kubeconfig]);
  client = await startSidecar(cp.url, 'client');
});

after(async () => {
  await stopAll();
  await cp?.cleanup();
  await api?.close();
  await Promise.all(echoes.map((e) => e.close()));
  await dir?.remove();
});

interface Row { id: string; health: string; address: string; labels: Record<string, string>; ports: { port: number; targetPort: number }[] }

async function endpoints(): Promise<Row[]> {
  const r = await runWeft(['endpoints', 'reviews', '-o', 'json'], { control: cp.url });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { items: Row[] }).items;
}

const V1 = 'reviews-v1-5d8f:127.0.0.1';
const V2 = 'reviews-v2-7c4b:127.0.0.1';
const V3 = 'reviews-v3-9a1e:127.0.0.1';

function waitForEndpoints(want: Record<string, string>): Promise<Row[]> {
  return waitFor(`weft endpoints reviews shows ${JSON.stringify(want)}`, async () => {
    const rows = await endpoints();
    const seen = Object.fromEntries(rows.map((r) => [r.id, r.health]));
    return JSON.stringify(Object.entries(seen).sort()) === JSON.stringify(Object.entries(want).sort()) ? rows : undefined;
  }, 20_000, 200);
}

/** `n` GETs through the client sidecar to the Kubernetes Service's port; every one must succeed. */
async function send(n: number): Promise<Record<string, number>> {
  const servedBy: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await getViaProxy(client.outboundPort, `http://reviews:9080/req/${i}`);
    assert.equal(res.status, 200, `request ${i}: ${res.status} ${res.body}`);
    const name = JSON.parse(res.body).name as string;
    servedBy[name] = (servedBy[name] ?? 0) + 1;
  }
  return servedBy;
}

/** Waits until the client sidecar routes only to `names` (20 requests in a row). */
function waitForTrafficTo(names: string[]): Promise<Record<string, number>> {
  return waitFor(`traffic only to ${names.join(', ')}`, async () => {
    const servedBy = await send(20);
    return JSON.stringify(Object.keys(servedBy).sort()) === JSON.stringify([...names].sort()) ? servedBy : undefined;
  }, 30_000, 200);
}

test('two EndpointSlices of reviews become two passing instances on the Service port, with topology labels', async () => {
  const rows = await waitForEndpoints({ [V1]: 'passing', [V2]: 'passing' });
  const v1 = rows.find((r) => r.id === V1)!;
  assert.equal(v1.address, '127.0.0.1');
  assert.deepEqual(v1.ports.map((p) => [p.port, p.targetPort]), [[9080, echoes[0].port]]);
  assert.equal(v1.labels['topology.kubernetes.io/zone'], 'zone-a');
  assert.equal(v1.labels['kubernetes.io/hostname'], 'node-1');
  // The table form names them too.
  const table = await runWeft(['endpoints', 'reviews'], { control: cp.url });
  assert.match(table.stdout, /reviews-v1-5d8f:127\.0\.0\.1/);
  assert.match(table.stdout, /reviews-v2-7c4b:127\.0\.0\.1/);
  // The Kubernetes Service is a weft Service, owned by the source.
  const svc = await cp.api('GET', '/v1/resources/services/default/reviews');
  assert.equal(svc.status, 200);
  assert.equal(svc.body.metadata.annotations['weft.dev/source'], 'kubernetes');
});

test('a client sidecar routes to Kubernetes endpoints (plaintext: they run no sidecar)', async () => {
  const servedBy = await waitForTrafficTo(['reviews-v1', 'reviews-v2']);
  assert.ok(servedBy['reviews-v1'] > 0 && servedBy['reviews-v2'] > 0, JSON.stringify(servedBy));
});

test('a watch MODIFIED event that marks an endpoint not ready takes it out of the passing set and of traffic', async () => {
  api.put(ENDPOINT_SLICES, endpointSlice('reviews', 'def34', echoes[1].port, [{ pod: 'reviews-v2-7c4b', address: '127.0.0.1', ready: false, serving: false, zone: 'zone-b', node: 'node-2' }]));
  await waitForEndpoints({ [V1]: 'passing', [V2]: 'critical' });
  await waitForTrafficTo(['reviews-v1']);
  // Counted, not timed: once the client saw the change, every request goes to v1.
  const before = echoes[1].hits();
  const servedBy = await send(30);
  assert.deepEqual(servedBy, { 'reviews-v1': 30 });
  assert.equal(echoes[1].hits(), before);
});

test('a 410 Gone on the watch forces a relist that converges on what changed meanwhile', async () => {
  const listsBefore = api.requests.filter((r) => !r.watch && r.path === ENDPOINT_SLICES).length;
  // The watch never hears of these (as if it fell behind); then the server answers 410.
  api.remove(ENDPOINT_SLICES, 'default', 'reviews-abc12', { silent: true });
  api.put(ENDPOINT_SLICES, endpointSlice('reviews', 'ghi56', echoes[2].port, [{ pod: 'reviews-v3-9a1e', address: '127.0.0.1', zone: 'zone-a' }]), { silent: true });
  api.expire();
  await waitForEndpoints({ [V2]: 'critical', [V3]: 'passing' });
  assert.ok(api.requests.filter((r) => !r.watch && r.path === ENDPOINT_SLICES).length > listsBefore, 'the source listed again');
  const metrics = await (await fetch(`${cp.url}/metrics`)).text();
  assert.ok(metricSample(metrics, 'weft_control_kubernetes_lists_total{collection="endpointslices"}') >= 2, metrics);
  await waitForTrafficTo(['reviews-v3']);
  // Watches resumed with bookmarks asked for.
  await waitFor('watches reopened', () => api.openWatches() >= 2);
  const last = api.requests.filter((r) => r.watch && r.path === ENDPOINT_SLICES).at(-1)!;
  assert.equal(last.query.allowWatchBookmarks, 'true');
});

test('a Service annotated weft.dev/sidecar: its pods\' sidecars are called in mutual TLS; under STRICT plain pods get no traffic', async () => {
  // A "pod" running a weft sidecar in front of its app. Its own registration is made critical (its
  // app fails the health path), so the only passing instance of ratings is the mirrored one.
  const app = await startEcho('ratings');
  echoes.push(app);
  app.setHealthy(false);
  const server = await startSidecar(cp.url, 'ratings', ['--app-port', String(app.port), '--health-path', '/healthz', '--health-interval-ms', '300']);
  const r = await cp.api('POST', '/v1/apply', {
    items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh', namespace: 'default' }, spec: { mtls: { mode: 'STRICT' } } }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  api.put(SERVICES, service('ratings', 'default', { annotations: { 'weft.dev/sidecar': 'true' } }));
  api.put(ENDPOINT_SLICES, endpointSlice('ratings', 'q1w2e', server.inboundPort!, [{ pod: 'ratings-v1-66b8', address: '127.0.0.1' }]));
  const mirrored = 'ratings-v1-66b8:127.0.0.1';
  await waitFor('ratings: mirrored passing, self-registered critical', async () => {
    const items = (await cp.api('GET', '/v1/catalog/instances?service=ratings')).body.items as { id: string; health: string; identity?: string }[];
    return items.length === 2 && items.find((i) => i.id === mirrored)?.health === 'passing' && items.find((i) => i.id !== mirrored)?.health === 'critical' ? items : undefined;
  }, 20_000, 200);
  const inst = (await cp.api('GET', `/v1/catalog/instances/default/ratings/${encodeURIComponent(mirrored)}`)).body;
  assert.equal(inst.identity, 'spiffe://weft.local/ns/default/svc/ratings');

  // The client sidecar may have pre-connected (mutual TLS included) before these requests, so the
  // check is that mTLS connections arrived and no plaintext one did, not that new ones were opened.
  const plaintextBefore = metricSample(await adminMetrics(server.adminPort), 'weft_proxy_inbound_connections_total{security="plaintext"}');
  await waitFor('requests to ratings succeed', async () => (await getViaProxy(client.outboundPort, 'http://ratings:9080/')).status === 200, 20_000, 200);
  for (let i = 0; i < 10; i++) {
    const res = await getViaProxy(client.outboundPort, `http://ratings:9080/m/${i}`);
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).name, 'ratings');
  }
  // STRICT: the server sidecar accepts mutual TLS only, and counted those connections.
  const served = await adminMetrics(server.adminPort);
  assert.ok(metricSample(served, 'weft_proxy_inbound_connections_total{security="mtls"}') >= 1, 'the calls arrived over mutual TLS');
  assert.equal(metricSample(served, 'weft_proxy_inbound_connections_total{security="plaintext"}'), plaintextBefore, 'and none in plaintext');
  // reviews' pods have no sidecar: no endpoint a STRICT client may call.
  await waitFor('reviews unreachable under STRICT', async () => (await getViaProxy(client.outboundPort, 'http://reviews:9080/')).status === 503, 20_000, 200);
});

// Bar: a client sidecar in zone a of region r1 and four instances of a service, two in zone a and
// two in zone b. Every request stays in zone a while it is healthy; when both zone-a instances die
// under steady load, traffic fails over to zone b without one failed GET; when zone a is back (the
// catalog says passing), traffic returns to it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, getViaProxy, steadyTraffic, type EchoServer } from '../support/upstreams.ts';
import { stopAll, waitFor } from '../support/processes.ts';

let cp: ControlPlaneProcess;
const apps = new Map<string, EchoServer>();
const sidecars = new Map<string, SidecarProcess>();
let client: SidecarProcess;

const ZONE_OF: Record<string, string> = { a1: 'a', a2: 'a', b1: 'b', b2: 'b' };

async function startInstance(name: string): Promise<void> {
  const app = await startEcho(name);
  apps.set(name, app);
  sidecars.set(name, await startSidecar(cp.url, 'echo', ['--id', `echo-${name}`, '--app-port', String(app.port), '--ttl-seconds', '3', '--region', 'r1', '--zone', ZONE_OF[name]]));
}

/** Sequential GETs through the client; the instances that answered, by name. */
async function servedBy(n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await getViaProxy(client.outboundPort, `http://echo/seq/${i}`);
    assert.equal(res.status, 200, res.body);
    const name = JSON.parse(res.body).name as string;
    seen[name] = (seen[name] ?? 0) + 1;
  }
  return seen;
}

const levelSeries = (level: number) => `weft_proxy_locality_requests_total{destination_service="echo.default",level="${level}"}`;

before(async () => {
  cp = await startControlPlane();
  await Promise.all(['a1', 'a2', 'b1', 'b2'].map(startInstance));
  client = await startSidecar(cp.url, 'client', ['--region', 'r1', '--zone', 'a']);
  await waitForPassing(cp, 'echo', 4);
  await waitForInSync(cp, 5);
});

after(async () => {
  await stopAll();
  await Promise.all([...apps.values()].map((a) => a.close()));
  await cp?.cleanup();
});

test('--region and --zone register the topology labels', async () => {
  const { body } = await cp.api('GET', '/v1/catalog/instances?service=echo');
  const b1 = body.items.find((i: { id: string }) => i.id === 'echo-b1');
  assert.equal(b1.labels['topology.kubernetes.io/region'], 'r1');
  assert.equal(b1.labels['topology.kubernetes.io/zone'], 'b');
});

test('every request goes to the client\'s own zone while it is healthy', async () => {
  // Every request in zone a (the default peak-ewma may keep sequential requests on one of the two).
  const seen = await servedBy(60);
  assert.ok(Object.keys(seen).length > 0 && Object.keys(seen).every((name) => ZONE_OF[name] === 'a'), JSON.stringify(seen));
  const metrics = await adminMetrics(client.adminPort);
  assert.ok(metricSample(metrics, levelSeries(0)) >= 60, metrics);
  assert.equal(metricSample(metrics, levelSeries(1)), 0);
});

test('both zone-a instances die under steady load: traffic fails over to zone b, no GET fails', async () => {
  const traffic = steadyTraffic(client.outboundPort, 'http://echo/load', { workers: 6 });
  await waitFor('steady traffic served by zone a', () => (traffic.servedBy().a1 ?? 0) + (traffic.servedBy().a2 ?? 0) > 50, 15_000);
  // A crash of both zone-a pods: the apps go, then their sidecars.
  await Promise.all([apps.get('a1')!.close(), apps.get('a2')!.close()]);
  await new Promise((r) => setTimeout(r, 300));
  await Promise.all([sidecars.get('a1')!.process.stop('SIGKILL'), sidecars.get('a2')!.process.stop('SIGKILL')]);
  traffic.resetServedBy();
  await waitFor('zone b serving', () => (traffic.servedBy().b1 ?? 0) + (traffic.servedBy().b2 ?? 0) > 200, 30_000);
  // Until the catalog marks them (TTL 3 s), the dead endpoints are still in the snapshot: requests
  // drawn there are retried into zone b; after that they are gone from level 0 altogether.
  await waitForPassing(cp, 'echo', 2, 30_000);
  traffic.resetServedBy();
  await waitFor('zone b serving after the catalog noticed', () => (traffic.servedBy().b1 ?? 0) + (traffic.servedBy().b2 ?? 0) > 100, 30_000);
  await traffic.stop();
  const total = Object.values(traffic.statuses).reduce((x, y) => x + y, 0);
  assert.ok(total > 300, `steady load ran (${total} requests)`);
  assert.deepEqual(Object.keys(traffic.statuses), ['200'], `every request succeeded: ${JSON.stringify(traffic.statuses)}`);
  assert.deepEqual(Object.keys(traffic.servedBy()).sort(), ['b1', 'b2']);
  const metrics = await adminMetrics(client.adminPort);
  assert.ok(metricSample(metrics, levelSeries(1)) > 300, 'the picks went to level 1 (the region)');
});

test('when zone a is back and passing, traffic returns to it', async () => {
  await Promise.all(['a1', 'a2'].map(startInstance));
  await waitForPassing(cp, 'echo', 4, 30_000);
  // The client's snapshot follows the catalog; wait until a whole run of requests stays in zone a.
  await waitFor('traffic back in zone a', async () => {
    const seen = await servedBy(20);
    return Object.keys(seen).every((name) => ZONE_OF[name] === 'a');
  }, 30_000, 200);
  // Every request in zone a (the default peak-ewma may keep sequential requests on one of the two).
  const seen = await servedBy(60);
  assert.ok(Object.keys(seen).length > 0 && Object.keys(seen).every((name) => ZONE_OF[name] === 'a'), JSON.stringify(seen));
});

// Bar: `weft proxy --workers 2` carries traffic on two threads sharing its ports. Connections land on
// both, /metrics adds the threads' counters up, every thread runs the newest snapshot, and a SIGTERM
// stops it cleanly.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, getViaProxy, type EchoServer } from '../support/upstreams.ts';
import { stopAll } from '../support/processes.ts';

const REQUESTS = 60;
let cp: ControlPlaneProcess;
let echo: EchoServer;
let outside: EchoServer;
let client: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  [echo, outside] = await Promise.all([startEcho('a'), startEcho('outside')]);
  await startSidecar(cp.url, 'echo', ['--app-port', String(echo.port), '--workers', '2']);
  client = await startSidecar(cp.url, 'client', ['--workers', '2']);
  await waitForPassing(cp, 'echo', 1);
  await waitForInSync(cp, 2);
});

after(async () => {
  await stopAll();
  await Promise.all([echo?.close(), outside?.close()]);
  await cp?.cleanup();
});

/** One request on its own connection, so the kernel picks a thread for each. */
function freshGet(url: string): Promise<{ status: number; body: string }> {
  return getViaProxy(client.outboundPort, url, new http.Agent({ keepAlive: false }));
}

test('connections are spread over both threads and every request succeeds', async () => {
  for (let i = 0; i < REQUESTS; i++) {
    const res = await freshGet(`http://echo/n/${i}`);
    assert.equal(res.status, 200, res.body);
  }
  const text = await adminMetrics(client.adminPort);
  const main = metricSample(text, 'weft_proxy_accepted_connections_total{listener="outbound",worker="0"}');
  const worker = metricSample(text, 'weft_proxy_accepted_connections_total{listener="outbound",worker="1"}');
  assert.ok(main > 0 && worker > 0, `both threads accepted connections: main ${main}, worker ${worker}`);
  assert.ok(main + worker >= REQUESTS, `${main + worker} connections counted for ${REQUESTS} requests`);
  // The threads' request counters are summed into one series, not listed twice.
  const served = metricSample(text, 'weft_proxy_requests_total{direction="outbound",source="client",destination_service="echo.default",code="200",reason=""}');
  assert.equal(served, REQUESTS);
  assert.equal(text.match(/^# TYPE weft_proxy_requests_total /gm)?.length, 1);
  // The process's memory is the process's, once: the main thread reports it, workers do not add to it.
  assert.equal(text.match(/^process_resident_memory_bytes /gm)?.length, 1);
  const rss = metricSample(text, 'process_resident_memory_bytes');
  const own = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${client.process.child.pid}/status`, 'utf8'))![1]) * 1024;
  assert.ok(Math.abs(rss - own) < own / 2, `reported ${rss} bytes, /proc says ${own}`);
});

test('a new snapshot reaches every thread: registry-only mode refuses passthrough on all of them', async () => {
  const external = `http://127.0.0.1:${outside.port}/x`;
  for (let i = 0; i < 10; i++) assert.equal((await freshGet(external)).status, 200, 'ALLOW_ANY passes traffic through');
  const r = await cp.api('POST', '/v1/apply', {
    items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh', namespace: 'default' }, spec: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } }],
  });
  assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
  await waitForInSync(cp, 2);
  const statuses = new Set<number>();
  for (let i = 0; i < 30; i++) statuses.add((await freshGet(external)).status);
  assert.deepEqual([...statuses], [404], 'no thread still lets traffic out');
  const text = await adminMetrics(client.adminPort);
  assert.ok(metricSample(text, 'weft_proxy_accepted_connections_total{listener="outbound",worker="1"}') > 0);
});

test('SIGTERM stops a multi-threaded sidecar', async () => {
  const extra = await startSidecar(cp.url, 'extra', ['--workers', '3']);
  assert.equal((await getViaProxy(extra.outboundPort, 'http://echo/')).status, 200);
  assert.equal(await extra.process.stop('SIGTERM'), 0);
});

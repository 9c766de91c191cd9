// Bar: two instances of a service, each behind `weft proxy`, and a client sidecar. Requests through
// the client's outbound port reach both; stopping one instance under steady load fails no request
// (GETs are retried on another endpoint when the first attempt provably failed).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, getViaProxy, steadyTraffic, type EchoServer } from '../support/upstreams.ts';
import { stopAll } from '../support/processes.ts';
import { useAlgorithm } from '../support/policies.ts';

let cp: ControlPlaneProcess;
let a: EchoServer;
let b: EchoServer;
let sidecarA: SidecarProcess;
let sidecarB: SidecarProcess;
let client: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  [a, b] = await Promise.all([startEcho('a'), startEcho('b')]);
  [sidecarA, sidecarB, client] = await Promise.all([
    startSidecar(cp.url, 'echo', ['--app-port', String(a.port), '--ttl-seconds', '3']),
    startSidecar(cp.url, 'echo', ['--app-port', String(b.port), '--ttl-seconds', '3']),
    startSidecar(cp.url, 'client'),
  ]);
  await waitForPassing(cp, 'echo', 2);
  // The even-spread check below is round robin's, whatever the default (peak-ewma follows latency).
  await useAlgorithm(cp, 'echo', 'round-robin', [client]);
  await waitForInSync(cp, 3);
});

after(async () => {
  await stopAll();
  await Promise.all([a?.close(), b?.close()]);
  await cp?.cleanup();
});

test('requests through the client sidecar reach both instances', async () => {
  const seen: Record<string, number> = {};
  for (let i = 0; i < 20; i++) {
    const res = await getViaProxy(client.outboundPort, `http://echo/item/${i}`);
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body);
    seen[body.name] = (seen[body.name] ?? 0) + 1;
    assert.equal(body.url, `/item/${i}`, 'absolute-form is forwarded as origin-form');
    assert.equal(body.source, 'client.default', 'the calling service is named to the callee');
  }
  assert.deepEqual(Object.keys(seen).sort(), ['a', 'b']);
  // Exact round-robin order is the balancer's unit tests' job; here: both share the load.
  assert.ok(Math.abs(seen.a - seen.b) <= 4, `even spread: ${JSON.stringify(seen)}`);
});

test('origin-form requests whose Host names a mesh service are routed too', async () => {
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: client.outboundPort, path: '/origin', headers: { host: 'echo.default.svc.cluster.local' } }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    }).on('error', reject);
  });
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).url, '/origin');
});

test('stopping one instance under steady load fails no request', async () => {
  const traffic = steadyTraffic(client.outboundPort, 'http://echo/load', { workers: 8 });
  await new Promise((r) => setTimeout(r, 700));
  // Kill instance a abruptly: first its app, then its sidecar, as a crash would.
  await a.close();
  await new Promise((r) => setTimeout(r, 300));
  await sidecarA.process.stop('SIGKILL');
  const bBefore = traffic.servedBy().b ?? 0;
  await new Promise((r) => setTimeout(r, 1500));
  await traffic.stop();
  const statuses = traffic.statuses;
  const total = Object.values(statuses).reduce((x, y) => x + y, 0);
  assert.ok(total > 100, `steady load ran (${total} requests)`);
  assert.deepEqual(Object.keys(statuses), ['200'], `every request succeeded: ${JSON.stringify(statuses)}`);
  assert.ok((traffic.servedBy().b ?? 0) > bBefore, 'the surviving instance took the traffic');
});

test('a service with no instances left answers with a reason, not a bare 503', async () => {
  await sidecarB.process.stop('SIGTERM');
  await b.close();
  await waitForPassing(cp, 'echo', 0, 20_000);
  const res = await getViaProxy(client.outboundPort, 'http://echo/gone');
  assert.equal(res.status, 503);
  assert.ok(['no-endpoints', 'no-healthy-endpoints', 'upstream-connect-failure'].includes(String(res.headers['x-weft-reason'])), String(res.headers['x-weft-reason']));
  assert.ok(JSON.parse(res.body).error.message.length > 0);
});

test('a request naming the sidecar itself is refused instead of looping, and a bad port is a bad request', async () => {
  const self = await getViaProxy(client.outboundPort, `http://127.0.0.1:${client.outboundPort}/loop`);
  assert.equal(self.status, 400);
  assert.equal(self.headers['x-weft-reason'], 'bad-request');
  const badPort = await getViaProxy(client.outboundPort, 'http://example.invalid:99999/');
  assert.equal(badPort.status, 400);
  assert.equal(badPort.headers['x-weft-reason'], 'bad-request');
});

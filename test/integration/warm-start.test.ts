// Bar: a fresh sidecar's first requests find connections open (pre-connect) and new mutual-TLS
// connections resume TLS sessions (counted through metrics, not timed); a resumed session still
// shows the caller's identity to the server sidecar, so authorization denies a wrong one exactly as
// on a full handshake; an endpoint that never completes a handshake does not hold readiness past
// the pre-connect time box.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll, waitFor } from '../support/processes.ts';

const WEB = 'spiffe://weft.local/ns/default/svc/web';
let cp: ControlPlaneProcess;
let app: http.Server;
let appPort: number;
let orders: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  // Answers with the identity the server sidecar saw (x-forwarded-client-cert).
  app = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ xfcc: req.headers['x-forwarded-client-cert'] ?? null }));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  appPort = (app.address() as AddressInfo).port;
  orders = await startSidecar(cp.url, 'orders', ['--app-port', String(appPort)]);
  await waitForPassing(cp, 'orders', 1);
});

after(async () => {
  await stopAll();
  app?.closeAllConnections();
  app?.close();
  await cp?.cleanup();
});

/** `n` requests to orders through `from`'s sidecar, all at once, each on a client connection of its own. */
function callOrders(from: SidecarProcess, n: number): Promise<{ status: number; body: string }[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: from.outboundPort, path: 'http://orders/who', headers: { host: 'orders' }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
    })),
  );
}

const handshakes = async (sc: SidecarProcess, side: 'client' | 'server', resumed: boolean): Promise<number> =>
  metricSample(await adminMetrics(sc.adminPort), `weft_proxy_tls_handshakes_total{side="${side}",resumed="${resumed}"}`);

test('a fresh sidecar is ready with connections open; later connections resume; the server still sees who calls', async () => {
  assert.ok(metricSample(await adminMetrics(orders.adminPort), 'weft_proxy_preconnect_connections_total{result="opened"}') >= 2, 'the orders sidecar pre-connected to its own app');
  const web = await startSidecar(cp.url, 'web');
  // Ready means the pre-connect is over: two connections to the one orders endpoint, the second resumed.
  const metrics = await adminMetrics(web.adminPort);
  assert.equal(metricSample(metrics, 'weft_proxy_preconnect_connections_total{result="opened"}'), 2);
  assert.equal(await handshakes(web, 'client', false), 1);
  assert.equal(await handshakes(web, 'client', true), 1);

  // The first requests take the open connections: one at a time, no handshake is added.
  for (let i = 0; i < 5; i++) assert.equal((await callOrders(web, 1))[0]!.status, 200);
  assert.equal((await handshakes(web, 'client', false)) + (await handshakes(web, 'client', true)), 2, 'sequential requests reuse the pre-connected connections');

  // A burst may need more connections: any it opens resumes the session instead of a full handshake.
  const burst = await callOrders(web, 16);
  assert.deepEqual(burst.map((r) => r.status), Array(16).fill(200));
  for (const r of burst) assert.match(JSON.parse(r.body).xfcc, new RegExp(`URI=${WEB.replace(/[/.]/g, '\\$&')}`), 'the server sidecar names the caller on resumed connections too');
  assert.equal(await handshakes(web, 'client', false), 1, 'only the very first connection paid a full handshake');
  assert.ok((await handshakes(orders, 'server', true)) >= (await handshakes(web, 'client', true)), 'the server counts the resumptions too');
  await web.process.stop();
});

test('authorization denies a caller whose identity is not allowed, on resumed sessions as on full ones', async () => {
  const policy = { apiVersion: 'weft.dev/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'only-admin', namespace: 'default' }, spec: { targetRefs: [{ kind: 'Service', name: 'orders' }], action: 'ALLOW', rules: [{ from: [{ identities: ['spiffe://weft.local/ns/default/svc/admin'] }] }] } };
  const r = await cp.api('POST', '/v1/apply', { items: [policy] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  try {
    const serverResumed = await handshakes(orders, 'server', true);
    const web = await startSidecar(cp.url, 'web');
    await waitForInSync(cp, 2);
    assert.equal(await handshakes(web, 'client', true), 1, 'the pre-connect\'s second connection resumed the first one\'s session');
    await waitFor('the server side of that resumption', async () => (await handshakes(orders, 'server', true)) > serverResumed);
    // The pool hands out its most recently opened idle connection first (LIFO): the resumed one.
    const first = await callOrders(web, 1);
    assert.equal(first[0]!.status, 403, 'web is not admin, on a resumed session');
    assert.match(JSON.parse(first[0]!.body).error.message, /from spiffe:\/\/weft\.local\/ns\/default\/svc\/web matches no rule/, 'the server read the caller\'s identity from the resumed session');
    const burst = await callOrders(web, 8);
    assert.deepEqual(burst.map((x) => x.status), Array(8).fill(403), 'nor on any other connection');
    await web.process.stop();
  } finally {
    assert.equal((await cp.api('DELETE', '/v1/resources/authorizationpolicies/default/only-admin')).status, 200);
  }
});

test('an endpoint that never finishes its handshake does not hold readiness past --preconnect-timeout-ms', async () => {
  // Accepts TCP and says nothing: a TLS handshake to it hangs until the connect timeout (30 s here).
  const stalled = new Set<net.Socket>();
  const blackhole = net.createServer((s) => stalled.add(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
  const port = (blackhole.address() as AddressInfo).port;
  const reg = await cp.api('POST', '/v1/catalog/instances', { service: 'stall', id: 'stall-1', address: '127.0.0.1', port, ttlSeconds: 0, identity: 'spiffe://weft.local/ns/default/svc/stall' });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  const bp = { apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name: 'stall-slow-connect', namespace: 'default' }, spec: { targetRefs: [{ kind: 'Service', name: 'stall' }], timeouts: { connectMs: 30_000 } } };
  assert.equal((await cp.api('POST', '/v1/apply', { items: [bp] })).status, 200);
  try {
    const web = await startSidecar(cp.url, 'web', ['--preconnect-timeout-ms', '300']);
    // Ready while the stalled handshakes are still open: readiness did not wait for them.
    await waitFor('the pre-connect reached the stalled endpoint', async () => stalled.size > 0);
    assert.ok([...stalled].some((s) => !s.destroyed), 'a handshake to the stalled endpoint is still pending');
    assert.equal((await fetch(`http://127.0.0.1:${web.adminPort}/ready`)).status, 200);
    await web.process.stop();
  } finally {
    for (const s of stalled) s.destroy();
    blackhole.close();
    await cp.api('DELETE', '/v1/catalog/instances/default/stall/stall-1');
    await cp.api('DELETE', '/v1/resources/backendpolicies/default/stall-slow-connect');
  }
});

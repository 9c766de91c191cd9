// Bar: certificates rotate, and the CA root rotates, under steady load with zero failed requests.
// A client sidecar calls a server sidecar in STRICT mutual TLS at ~75 req/s with 20-second leaves
// (renewed every ~10 s during the test) and pooled connections that idle out after 5 ms, so new
// handshakes happen all along; `weft ca rotate` runs in the middle.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, steadyTraffic, type EchoServer } from '../support/upstreams.ts';
import { runWeft } from '../support/cli.ts';
import { stopAll, waitFor } from '../support/processes.ts';

let cp: ControlPlaneProcess;
let app: EchoServer;
let webApp: EchoServer;
let orders: SidecarProcess;
let web: SidecarProcess;

before(async () => {
  cp = await startControlPlane(['--cert-ttl', '20s']);
  app = await startEcho('orders-app');
  orders = await startSidecar(cp.url, 'orders', ['--app-port', String(app.port), '--health-path', '/healthz']);
  // An app behind `web` too, so that its sidecar has an inbound port that shows its certificate.
  webApp = await startEcho('web-app');
  web = await startSidecar(cp.url, 'web', ['--app-port', String(webApp.port)]);
  const applied = await cp.api('POST', '/v1/apply', {
    items: [{
      apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh', namespace: 'default' },
      // Connections idle out at once: nearly every request opens a new mutual-TLS connection.
      spec: { mtls: { mode: 'STRICT' }, defaultBackendPolicy: { timeouts: { idleMs: 5 } } },
    }],
  });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  await waitForPassing(cp, 'orders', 1);
  await waitForInSync(cp, 2);
});

after(async () => {
  await stopAll();
  await app?.close();
  await webApp?.close();
  await cp?.cleanup();
});

/** The certificate a sidecar's inbound port presents (TLS 1.3 shows it before the server judges the client). */
function presentedLeaf(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.destroy();
      resolve(new X509Certificate(raw));
    });
    socket.on('error', reject);
  });
}

async function sidecarIdentity(sidecar: SidecarProcess): Promise<{ serial: string; notBefore: string }> {
  return ((await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/config`)).json()) as { identity: { serial: string; notBefore: string } }).identity;
}

test('weft ca rotate under steady mutual-TLS load: zero failed requests, leaves under the new root, the old root gone', { timeout: 180_000 }, async () => {
  const before = (await cp.api('GET', '/v1/ca')).body;
  assert.equal(before.phase, 'idle');
  const oldRoot = new X509Certificate((await cp.api('GET', '/v1/certificates/bundle')).body.trustBundle);
  assert.equal(oldRoot.fingerprint256, before.roots[0].fingerprint256);
  assert.ok((await presentedLeaf(orders.inboundPort!)).checkIssued(oldRoot));

  const traffic = steadyTraffic(web.outboundPort, 'http://orders/work', { workers: 4, pauseMs: 30 });
  try {
    await waitFor('traffic flowing', () => (traffic.statuses['200'] ?? 0) >= 200, 30_000);
    const handshakesBefore = metricSample(await adminMetrics(orders.adminPort), 'weft_proxy_inbound_connections_total{security="mtls"}');

    const rotate = await runWeft(['ca', 'rotate'], { control: cp.url });
    assert.equal(rotate.code, 0, rotate.stderr);
    assert.match(rotate.stdout, /root rotation started/);

    // The three phases pass as the sidecars take the two-root bundle, then renew under the new root.
    await waitFor('the rotation to finish', async () => (await cp.api('GET', '/v1/ca')).body.phase === 'idle', 90_000, 250);
    const after = (await cp.api('GET', '/v1/ca')).body;
    assert.equal(after.roots.length, 1);
    assert.notEqual(after.roots[0].fingerprint256, oldRoot.fingerprint256);
    const bundle = (await cp.api('GET', '/v1/certificates/bundle')).body.trustBundle as string;
    assert.equal(bundle.match(/BEGIN CERTIFICATE/g)!.length, 1, 'the old root is gone from the bundle');
    const newRoot = new X509Certificate(bundle);
    assert.equal(newRoot.fingerprint256, after.roots[0].fingerprint256);
    const health = (await cp.api('GET', '/v1/health')).body;
    assert.deepEqual(health.ca.roots.map((r: { fingerprint256: string }) => r.fingerprint256), [newRoot.fingerprint256]);

    // Both sidecars present leaves of the new root.
    for (const sidecar of [orders, web]) {
      const leaf = await presentedLeaf(sidecar.inboundPort!);
      assert.ok(leaf.checkIssued(newRoot) && leaf.verify(newRoot.publicKey), `${sidecar.id} presents a leaf of the new root`);
    }

    // Keep the load on through a half-life renewal under the new root (a certificate issued at least
    // 5 s after the last trust change), with new handshakes all along.
    const handshakesAtEnd = metricSample(await adminMetrics(orders.adminPort), 'weft_proxy_inbound_connections_total{security="mtls"}');
    assert.ok(handshakesAtEnd > handshakesBefore, 'connections were opened during the rotation');
    const issuedAt = Date.parse((await sidecarIdentity(orders)).notBefore);
    await waitFor('a half-life renewal after the rotation', async () => Date.parse((await sidecarIdentity(orders)).notBefore) >= issuedAt + 5_000, 30_000, 250);
    const renewed = await presentedLeaf(orders.inboundPort!);
    assert.ok(renewed.checkIssued(newRoot) && renewed.verify(newRoot.publicKey));
    await waitFor('new handshakes after the rotation', async () =>
      metricSample(await adminMetrics(orders.adminPort), 'weft_proxy_inbound_connections_total{security="mtls"}') > handshakesAtEnd + 50, 30_000, 250);

    const status = await runWeft(['ca', 'status', '-o', 'json'], { control: cp.url });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).phase, 'idle');
  } finally {
    await traffic.stop();
  }
  const failed = Object.entries(traffic.statuses).filter(([k]) => k !== '200');
  assert.deepEqual(failed, [], `every request succeeded (${JSON.stringify(traffic.statuses)})`);
});

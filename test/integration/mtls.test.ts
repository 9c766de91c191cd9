// Bar: sidecars call each other in mutual TLS with certificates from the control plane's CA, without
// configuration; the app learns the caller's proven identity (x-forwarded-client-cert) and no
// plaintext caller can forge it; MeshConfig mtls.mode STRICT refuses plaintext, DISABLE turns mTLS
// off; a sidecar refuses an endpoint whose certificate names another service; certificates rotate
// under traffic, and are replaced at once when the control plane comes back with a new CA.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { getViaProxy } from '../support/upstreams.ts';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { stopAll, waitFor } from '../support/processes.ts';

/** The app behind `orders`: answers with the identity headers it was given. */
interface IdentityApp {
  readonly port: number;
  close(): Promise<void>;
}

async function startIdentityApp(): Promise<IdentityApp> {
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('ok');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ xfcc: req.headers['x-forwarded-client-cert'] ?? null, source: req.headers['x-weft-source'] ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const ORDERS = 'spiffe://weft.local/ns/default/svc/orders';
const WEB = 'spiffe://weft.local/ns/default/svc/web';
let cp: ControlPlaneProcess;
let app: IdentityApp;
let orders: SidecarProcess;
let web: SidecarProcess;

before(async () => {
  // Six-second certificates: every sidecar renews every three seconds while the tests run.
  cp = await startControlPlane(['--cert-ttl', '6s']);
  app = await startIdentityApp();
  orders = await startSidecar(cp.url, 'orders', ['--app-port', String(app.port), '--health-path', '/healthz']);
  web = await startSidecar(cp.url, 'web');
  await waitForPassing(cp, 'orders', 1);
  await waitForInSync(cp, 2);
});

after(async () => {
  await stopAll();
  await app?.close();
  await cp?.cleanup();
});

function callOrders(): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return getViaProxy(web.outboundPort, 'http://orders/whoami', new http.Agent({ keepAlive: false }));
}

/** A plaintext request straight to the orders sidecar's inbound port, as a caller outside the mesh. */
function plaintextToInbound(headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: orders.inboundPort, path: '/whoami', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** The sidecar's /config, read as plain JSON. */
async function sidecarConfig(sidecar: SidecarProcess): Promise<any> {
  return (await fetch(`http://127.0.0.1:${sidecar.adminPort}/config`)).json();
}

async function setMtlsMode(mode: string): Promise<void> {
  const r = await cp.api('POST', '/v1/apply', {
    items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh', namespace: 'default' }, spec: { mtls: { mode } } }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 2);
}

test('sidecars register their SPIFFE identity and call each other in mutual TLS; the app sees who called', async () => {
  const instances = (await cp.api('GET', '/v1/catalog/instances?service=orders')).body.items;
  assert.equal(instances[0].identity, ORDERS);
  // The web sidecar pre-connected when it started: the call may ride a connection opened before it.
  const plaintextBefore = metricSample(await adminMetrics(orders.adminPort), 'weft_proxy_inbound_connections_total{security="plaintext"}');
  const r = await callOrders();
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { xfcc: `By=${ORDERS};URI=${WEB}`, source: 'web.default' });
  const text = await adminMetrics(orders.adminPort);
  assert.ok(metricSample(text, 'weft_proxy_inbound_connections_total{security="mtls"}') >= 1, 'the call arrived over mutual TLS');
  assert.equal(metricSample(text, 'weft_proxy_inbound_connections_total{security="plaintext"}'), plaintextBefore, 'and not in plaintext');
  assert.ok(metricSample(text, 'weft_proxy_requests_total{direction="inbound",source="web.default",destination_service="orders.default",code="200",reason=""}') >= 1, 'the source label comes from the proven identity');
});

test('PERMISSIVE (default): a plaintext caller is served, but the x-forwarded-client-cert it forged is dropped', async () => {
  const r = await plaintextToInbound({ 'x-forwarded-client-cert': `URI=${WEB}` });
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).xfcc, null);
});

test('a TLS client with a certificate from another CA, or none, is refused at the handshake', async () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const attempt = (options: tls.ConnectionOptions): Promise<string> =>
    new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port: orders.inboundPort, rejectUnauthorized: false, ...options });
      socket.on('secureConnect', () => socket.write('GET /whoami HTTP/1.1\r\nhost: orders\r\n\r\n'));
      socket.on('data', (d: Buffer) => resolve(`answered: ${d.toString('latin1').split('\r\n')[0]}`));
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error: ${err.code}`));
      socket.on('close', () => resolve('closed'));
    });
  const noCert = await attempt({});
  assert.match(noCert, /^(error|closed)/, 'no client certificate: refused');
  // A self-signed certificate is what any outsider can make; it does not chain to the mesh's CA.
  const selfSigned = await attempt({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: await selfSignedCert(privateKey) });
  assert.match(selfSigned, /^(error|closed)/, 'foreign certificate: refused');
  assert.ok(metricSample(await adminMetrics(orders.adminPort), 'weft_proxy_inbound_connections_total{security="handshake-failed"}') >= 2);
});

test('a sidecar refuses an endpoint whose certificate names another service (503, and says why)', async () => {
  // An instance of `payments` that claims the payments identity but is really the orders sidecar.
  const reg = await cp.api('POST', '/v1/catalog/instances', {
    service: 'payments', id: 'payments-impostor', address: '127.0.0.1', port: orders.inboundPort, ttlSeconds: 0,
    identity: 'spiffe://weft.local/ns/default/svc/payments',
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  await waitForInSync(cp, 2);
  const r = await getViaProxy(web.outboundPort, 'http://payments/x', new http.Agent({ keepAlive: false }));
  assert.equal(r.status, 503, r.body);
  assert.equal(r.headers['x-weft-reason'], 'upstream-connect-failure');
  assert.match(r.body, /names spiffe:\/\/weft\.local\/ns\/default\/svc\/orders, expected spiffe:\/\/weft\.local\/ns\/default\/svc\/payments/);
  await cp.api('DELETE', '/v1/catalog/instances/default/payments/payments-impostor');
});

test('a registration may only claim the identity of its own service', async () => {
  const r = await cp.api('POST', '/v1/catalog/instances', { service: 'payments', id: 'p1', address: '127.0.0.1', port: 1, identity: ORDERS });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'WEFT_ERR_CATALOG_INVALID_REGISTRATION');
  assert.deepEqual(r.body.error.details.map((d: { path: string }) => d.path), ['identity']);
});

test('STRICT refuses plaintext with 403 mtls-required while mesh traffic and health checks go on; DISABLE turns mTLS off', async () => {
  await setMtlsMode('STRICT');
  const refused = await plaintextToInbound();
  assert.equal(refused.status, 403);
  assert.equal(refused.headers['x-weft-reason'], 'mtls-required');
  assert.equal(metricSample(await adminMetrics(orders.adminPort), 'weft_proxy_requests_total{direction="inbound",source="unknown",destination_service="unknown",code="403",reason="mtls-required"}'), 1, 'a refusal is counted like any answer');
  assert.equal((await callOrders()).status, 200);
  // Health checks reach the app through the admin listener, not the (now mTLS-only) inbound port.
  await new Promise((r) => setTimeout(r, 2_500));
  await waitForPassing(cp, 'orders', 1, 2_000);

  await setMtlsMode('DISABLE');
  const endpoints = (await sidecarConfig(web)).snapshot.services.find((s: { name: string }) => s.name === 'orders').ports[0].endpoints;
  assert.equal(endpoints[0].identity, undefined, 'no identity in the snapshot: callers use plaintext');
  const before = metricSample(await adminMetrics(orders.adminPort), 'weft_proxy_inbound_connections_total{security="plaintext"}');
  const r = await callOrders();
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).xfcc, null);
  assert.ok(metricSample(await adminMetrics(orders.adminPort), 'weft_proxy_inbound_connections_total{security="plaintext"}') > before);
  await setMtlsMode('PERMISSIVE');
});

test('certificates rotate at half their life without failing a request', async () => {
  const serialOf = async (): Promise<string> => (await sidecarConfig(web)).identity.serial;
  const first = await serialOf();
  const deadline = Date.now() + 8_000;
  let rotated = 0;
  let last = first;
  let failures = 0;
  // Requests on fresh connections the whole time: each one is a handshake with the certificates in force.
  while (Date.now() < deadline) {
    if ((await callOrders()).status !== 200) failures++;
    const serial = await serialOf();
    if (serial !== last) {
      rotated++;
      last = serial;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(failures, 0);
  assert.ok(rotated >= 2, `the certificate was replaced ${rotated} time(s) in 8 s with a 6 s lifetime`);
  const expiry = metricSample(await adminMetrics(web.adminPort), 'weft_proxy_certificate_expiry_timestamp_seconds');
  assert.ok(expiry * 1000 > Date.now(), 'the certificate in force has not expired');
});

test('a control plane back with a new CA: sidecars renew when their stream reconnects, and calls work again', { timeout: 60_000 }, async () => {
  // Day-long certificates here: only the reconnect, not the clock, can explain a renewal.
  const cp2 = await startControlPlane();
  const app2 = await startIdentityApp();
  try {
    const server = await startSidecar(cp2.url, 'orders', ['--app-port', String(app2.port)]);
    const client = await startSidecar(cp2.url, 'web');
    await waitForPassing(cp2, 'orders', 1);
    const call = () => getViaProxy(client.outboundPort, 'http://orders/whoami', new http.Agent({ keepAlive: false }));
    await waitFor('a first call', async () => (await call()).status === 200);
    const serials = async () => Promise.all([server, client].map(async (s) => (await sidecarConfig(s)).identity.serial as string));
    const before = await serials();

    await cp2.stop();
    await rm(path.join(cp2.dataDir, 'ca'), { recursive: true, force: true });
    await cp2.restart();
    await waitFor('both sidecars renewed', async () => (await serials()).every((serial, i) => serial !== before[i]), 30_000);
    await waitFor('a call across the new CA', async () => (await call()).status === 200, 15_000);
  } finally {
    await app2.close();
    await cp2.cleanup();
  }
});

/** What any outsider can make: a self-signed certificate (openssl) even naming a mesh identity. */
async function selfSignedCert(privateKey: import('node:crypto').KeyObject): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(`${tmpdir()}/weft-foreign-`);
  try {
    writeFileSync(`${dir}/key.pem`, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    execFileSync('openssl', ['req', '-x509', '-new', '-key', `${dir}/key.pem`, '-subj', '/O=outsider', '-days', '1', '-addext', `subjectAltName=URI:${WEB}`, '-out', `${dir}/cert.pem`], { stdio: 'ignore' });
    return (await import('node:fs')).readFileSync(`${dir}/cert.pem`, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

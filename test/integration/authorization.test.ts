// Bar: an AuthorizationPolicy applied through the API is enforced by the target's sidecar on the
// identity the caller proved in mutual TLS: a denied call gets 403 `authz-denied` naming the
// policy, allowed calls pass, plaintext callers match no identity, and removing the policy lifts it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { getViaProxy, startEcho, type EchoServer } from '../support/upstreams.ts';
import { stopAll } from '../support/processes.ts';

let cp: ControlPlaneProcess;
let app: EchoServer;
let orders: SidecarProcess;
let web: SidecarProcess;
let batch: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  app = await startEcho('orders');
  orders = await startSidecar(cp.url, 'orders', ['--app-port', String(app.port)]);
  web = await startSidecar(cp.url, 'web');
  batch = await startSidecar(cp.url, 'batch');
  await waitForPassing(cp, 'orders', 1);
  await waitForInSync(cp, 3);
});

after(async () => {
  await stopAll();
  await app?.close();
  await cp?.cleanup();
});

const fresh = (): http.Agent => new http.Agent({ keepAlive: false });

/** A request through `from`'s sidecar to orders. */
function call(from: SidecarProcess, method: string, path: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: from.outboundPort, method, path: `http://orders${path}`, headers: { host: 'orders', ...(body ? { 'content-type': 'text/plain' } : {}) }, agent: fresh() }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function apply(items: unknown[]): Promise<void> {
  const r = await cp.api('POST', '/v1/apply', { items });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 3);
}

const policy = (name: string, spec: unknown) => ({ apiVersion: 'weft.dev/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name, namespace: 'default' }, spec });

test('without a policy every caller passes', async () => {
  assert.equal((await call(web, 'GET', '/a')).status, 200);
  assert.equal((await call(batch, 'POST', '/a', 'x')).status, 200);
});

test('ALLOW: web may read /api/*, nobody else may call; the 403 names the policy and the caller', async () => {
  await apply([policy('web-reads', { targetRefs: [{ kind: 'Service', name: 'orders' }], action: 'ALLOW', rules: [{ from: [{ identities: ['spiffe://weft.local/ns/default/svc/web'] }], to: [{ methods: ['GET'], paths: ['/api/*'] }] }] })]);
  const hitsBefore = app.hits();
  assert.equal((await call(web, 'GET', '/api/orders?page=2')).status, 200, 'the query is not part of the path');
  const write = await call(web, 'POST', '/api/orders', 'a body the app must never see');
  assert.equal(write.status, 403);
  assert.equal(write.headers['x-weft-reason'], 'authz-denied');
  assert.match(JSON.parse(write.body).error.message, /POST \/api\/orders from spiffe:\/\/weft\.local\/ns\/default\/svc\/web matches no rule .*default\/web-reads/);
  assert.equal((await call(batch, 'GET', '/api/orders')).status, 403);
  const plaintext = await getViaProxy(orders.inboundPort!, 'http://orders/api/orders', fresh());
  assert.equal(plaintext.status, 403, 'a plaintext caller proves no identity');
  assert.equal(app.hits() - hitsBefore, 1, 'only the allowed request reached the app');
  const text = await adminMetrics(orders.adminPort);
  assert.equal(metricSample(text, 'weft_proxy_requests_total{direction="inbound",source="batch.default",destination_service="orders.default",code="403",reason="authz-denied"}'), 1);
});

test('DENY wins over ALLOW, and deleting the policies lifts them', async () => {
  await apply([policy('no-admin', { targetRefs: [{ kind: 'Service', name: 'orders' }], action: 'DENY', rules: [{ to: [{ paths: ['/api/admin/*'] }] }] })]);
  const denied = await call(web, 'GET', '/api/admin/users');
  assert.equal(denied.status, 403);
  assert.match(JSON.parse(denied.body).error.message, /denied by AuthorizationPolicy default\/no-admin \(rule 0\)/);
  assert.equal((await call(web, 'GET', '/api/orders')).status, 200);

  for (const name of ['web-reads', 'no-admin']) assert.equal((await cp.api('DELETE', `/v1/resources/authorizationpolicies/default/${name}`)).status, 200);
  await waitForInSync(cp, 3);
  assert.equal((await call(batch, 'POST', '/api/admin/users', 'x')).status, 200);
});

test('an invalid policy is refused with its field paths and changes nothing', async () => {
  const r = await cp.api('POST', '/v1/apply', { items: [policy('bad', { targetRefs: [{ kind: 'Service', name: 'orders' }], rules: [{ from: [{ identities: ['web'] }], to: [{ methods: ['get'] }] }] })] });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.error.details.map((d: { path: string }) => d.path).sort(), ['items[0].spec.rules[0].from[0].identities[0]', 'items[0].spec.rules[0].to[0].methods[0]']);
  assert.equal((await cp.api('GET', '/v1/resources/authorizationpolicies')).body.items.length, 0);
});

// Request fates through the control plane (issue 15): GET /v1/requests/{id} asks every connected
// sidecar's admin listener and merges the hops of one request; GET /v1/failures lists the recent
// failed requests with their reasons; both need a reading credential; `weft why` asks through them.
// A real control plane and two sidecars: web (a client, no app) → api (an echo app).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';
import { startEcho, type EchoServer } from '../support/upstreams.ts';

let cp: ControlPlaneProcess;
let app: EchoServer;
let web: SidecarProcess;
let api: SidecarProcess;

/** GET `url` (absolute-form) through web's outbound listener with an x-request-id. */
function call(url: string, requestId: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: web.outboundPort, path: url, headers: { host: new URL(url).host, 'x-request-id': requestId }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  cp = await startControlPlane();
  app = await startEcho('api-app');
  [web, api] = await Promise.all([startSidecar(cp.url, 'web', ['--id', 'web-1']), startSidecar(cp.url, 'api', ['--id', 'api-1', '--app-port', String(app.port)])]);
  await waitForPassing(cp, 'api', 1);
  // Every call to api under /broken is answered 503 by web's sidecar (fault-abort), without reaching api.
  const applied = await cp.api('POST', '/v1/apply', {
    items: [
      { apiVersion: 'weft.dev/v1alpha1', kind: 'FaultInjection', metadata: { name: 'broken', namespace: 'default' }, spec: { abort: { percentage: 100, httpStatus: 503 } } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'api-faults', namespace: 'default' }, spec: { parentRefs: [{ name: 'api' }], rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/broken' } }], filters: [{ type: 'ExtensionRef', extensionRef: { group: 'weft.dev', kind: 'FaultInjection', name: 'broken' } }], backendRefs: [{ name: 'api', port: 80 }] },
        { backendRefs: [{ name: 'api', port: 80 }] },
      ] } },
    ],
  });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  await waitForInSync(cp, 2);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await app?.close();
  await cp?.cleanup();
});

interface Hop { proxy: string; direction: string; status: number; route?: string; rule?: string; reason?: string; attempts: { endpoint: string; status: number; failure?: string }[] }

test('GET /v1/requests/{id} merges the hops both sidecars carried, in the order they began', { timeout: 60_000 }, async () => {
  assert.equal((await call('http://api/ok', 'lookup-ok-1')).status, 200);
  const r = await cp.api('GET', '/v1/requests/lookup-ok-1');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.requestId, 'lookup-ok-1');
  assert.equal(r.body.asked, 2);
  assert.deepEqual(r.body.unreachable, []);
  const hops = r.body.items as Hop[];
  assert.deepEqual(hops.map((h) => `${h.proxy} ${h.direction} ${h.status}`), ['web-1 outbound 200', 'api-1 inbound 200']);
  assert.equal(hops[0].route, 'default/api-faults');
  assert.equal(hops[0].rule, '1');
  assert.equal(hops[0].attempts.length, 1);
  assert.equal(hops[0].attempts[0].endpoint, `127.0.0.1:${api.inboundPort}`);
  assert.equal(hops[1].attempts[0].endpoint, `127.0.0.1:${app.port}`);
});

test('a failed request is in GET /v1/failures with its reason, and its fate says why', { timeout: 60_000 }, async () => {
  const res = await call('http://api/broken/thing', 'lookup-503-1');
  assert.equal(res.status, 503);
  assert.equal(res.headers['x-weft-reason'], 'fault-abort');
  const fates = await cp.api('GET', '/v1/requests/lookup-503-1');
  assert.equal(fates.status, 200, JSON.stringify(fates.body));
  const hops = fates.body.items as Hop[];
  assert.deepEqual(hops.map((h) => `${h.proxy} ${h.direction} ${h.status} ${h.reason}`), ['web-1 outbound 503 fault-abort']);
  assert.equal(hops[0].rule, '0');

  const failures = await cp.api('GET', '/v1/failures');
  assert.equal(failures.status, 200, JSON.stringify(failures.body));
  assert.equal(failures.body.asked, 2);
  const mine = (failures.body.items as { requestId: string; durationMs: number }[]).find((f) => f.requestId === 'lookup-503-1');
  assert.deepEqual(mine, {
    time: (fates.body.items as { time: string }[])[0].time, requestId: 'lookup-503-1', proxy: 'web-1', direction: 'outbound',
    source: 'web.default', destination: 'api.default', method: 'GET', path: '/broken/thing', route: 'default/api-faults', rule: '0',
    status: 503, reason: 'fault-abort', durationMs: mine?.durationMs,
  });
  // A successful request is not a failure.
  assert.ok(!(failures.body.items as { requestId: string }[]).some((f) => f.requestId === 'lookup-ok-1'));
  // Newest first, limited; filtered by the service at either end.
  assert.equal((await call('http://api/broken/again', 'lookup-503-2')).status, 503);
  const two = await cp.api('GET', '/v1/failures?service=api&namespace=default&limit=1');
  assert.deepEqual((two.body.items as { requestId: string }[]).map((f) => f.requestId), ['lookup-503-2']);
  assert.equal(((await cp.api('GET', '/v1/failures?service=web')).body.items as unknown[]).length, 2);
  assert.deepEqual((await cp.api('GET', '/v1/failures?service=nobody')).body.items, []);
  const bad = await cp.api('GET', '/v1/failures?limit=0');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'WEFT_ERR_API_BAD_REQUEST');
  assert.equal(bad.body.error.details[0].path, 'limit');
});

test('an unknown id is a 404 that says so', async () => {
  const r = await cp.api('GET', '/v1/requests/no-such-request');
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, 'WEFT_ERR_API_REQUEST_NOT_FOUND');
  assert.match(r.body.error.message, /no sidecar holds a fate for request no-such-request \(asked 2 sidecars\): the id is unknown, or the request has left the rings/);
});

test('fates need a reading credential: none is refused, a read-only token reads, a join token may not', async () => {
  for (const p of ['/v1/requests/lookup-ok-1', '/v1/failures']) {
    assert.equal((await cp.apiAs(null, 'GET', p)).status, 401, p);
    const readOnly = await cp.createAdminToken('read-only');
    assert.equal((await cp.apiAs(`Bearer ${readOnly}`, 'GET', p)).status, 200, p);
    const join = await cp.joinToken('api');
    const refused = await cp.apiAs(`Bearer ${join}`, 'GET', p);
    assert.equal(refused.status, 403, p);
    assert.equal(refused.body.error.code, 'WEFT_ERR_AUTH_FORBIDDEN');
  }
});

test('weft why asks the control plane; --proxy still asks an admin listener directly', { timeout: 60_000 }, async () => {
  const r = await runWeft(['why', 'lookup-503-1'], { control: cp.url });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^request lookup-503-1: 1 hop\n/);
  assert.match(r.stdout, /web-1 outbound web\.default → api\.default: GET api\/broken\/thing → 503 fault-abort/);
  assert.match(r.stdout, /local reply: 503 fault-abort/);
  const json = await runWeft(['why', 'lookup-ok-1', '-o', 'json'], { control: cp.url });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual((JSON.parse(json.stdout) as { items: Hop[] }).items.map((h) => h.proxy), ['web-1', 'api-1']);
  const direct = await runWeft(['why', 'lookup-ok-1', '--proxy', `127.0.0.1:${api.adminPort}`, '-o', 'json'], { control: cp.url, token: null });
  assert.equal(direct.code, 0, direct.stderr);
  assert.deepEqual((JSON.parse(direct.stdout) as { items: Hop[] }).items.map((h) => h.proxy), ['api-1']);
  const unknown = await runWeft(['why', 'no-such-request'], { control: cp.url });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /WEFT_ERR_CLI_NOT_FOUND/);
  assert.match(unknown.stderr, /no sidecar holds a fate for request no-such-request \(asked 2 sidecars\)/);
  // Without a credential the control plane refuses, and says how to give one.
  const anonymous = await runWeft(['why', 'lookup-ok-1'], { control: cp.url, token: null });
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /WEFT_ERR_AUTH_REQUIRED/);
});

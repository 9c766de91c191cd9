// Bar: HTTPRoutes attached to a Service (Gateway API, mesh/GAMMA semantics) are in force in the
// client sidecar: a weighted split, header routing, header modifiers, a redirect answered without
// the backend, a rewrite, 404 for no match, 500 for an unusable backend, and a consumer route that
// governs only its own namespace. Real control plane, real sidecars, real apps.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll } from '../support/processes.ts';
import { useAlgorithm } from '../support/policies.ts';
import { runWeft } from '../support/cli.ts';

/** An app that names itself and echoes what it received (method, target, headers). */
interface App {
  readonly port: number;
  hits(): number;
  /** The body and Host of the last request to `url` whose body has been read to its end. */
  received(url: string): { body: string; host: string } | undefined;
  close(): Promise<void>;
}
async function startApp(name: string): Promise<App> {
  let hits = 0;
  const received = new Map<string, { body: string; host: string }>();
  const server = http.createServer((req, res) => {
    if (req.url !== '/healthz') hits++;
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.url !== '/healthz') received.set(req.url ?? '', { body, host: req.headers.host ?? '' });
      res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name, 'x-app-header': 'from-app' });
      res.end(JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    received: (url) => received.get(url),
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

let cp: ControlPlaneProcess;
let v1: App;
let v2: App;
let web: SidecarProcess;
let shopper: SidecarProcess;
const SIDECARS = 4;

before(async () => {
  cp = await startControlPlane();
  [v1, v2] = await Promise.all([startApp('v1'), startApp('v2')]);
  [, , web, shopper] = await Promise.all([
    startSidecar(cp.url, 'reviews', ['--labels', 'version=v1', '--app-port', String(v1.port)]),
    startSidecar(cp.url, 'reviews', ['--labels', 'version=v2', '--app-port', String(v2.port)]),
    startSidecar(cp.url, 'web'),
    startSidecar(cp.url, 'shopper', ['--namespace', 'shop']),
  ]);
  await waitForPassing(cp, 'reviews', 2);
  await apply([
    { apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'reviews-v1' }, spec: { selector: { version: 'v1' }, ports: [{ port: 80 }] } },
    { apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'reviews-v2' }, spec: { selector: { version: 'v2' }, ports: [{ port: 80 }] } },
  ]);
  // The "balanced over every instance" checks are round robin's promise, whatever the default (peak-ewma follows latency).
  await useAlgorithm(cp, 'reviews', 'round-robin', [web]);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close()]);
  await cp?.cleanup();
});

async function apply(items: unknown[]): Promise<void> {
  const r = await cp.api('POST', '/v1/apply', { items });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, SIDECARS);
}

async function remove(kind: string, name: string, namespace = 'default'): Promise<void> {
  const r = await cp.api('DELETE', `/v1/resources/${kind}/${namespace}/${name}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, SIDECARS);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
interface Reply { status: number; headers: http.IncomingHttpHeaders; body: any }
/** A request through `from`'s outbound listener to `url` (absolute-form, as HTTP_PROXY clients send). */
function call(from: SidecarProcess, url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: from.outboundPort, method, path: url, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const route = (name: string, spec: unknown, namespace = 'default') => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace }, spec });
const backend = (name: string, weight?: number) => ({ name, port: 80, ...(weight === undefined ? {} : { weight }) });

test('without a route, calls are balanced over every reviews instance', async () => {
  const names = new Set<string>();
  for (let i = 0; i < 20; i++) names.add((await call(web, 'http://reviews/x')).body.name);
  assert.deepEqual([...names].sort(), ['v1', 'v2']);
});

test('a 90/10 split holds within ±3 points over 1,000 requests', { timeout: 120_000 }, async () => {
  await apply([route('split', { parentRefs: [{ name: 'reviews' }], rules: [{ backendRefs: [backend('reviews-v1', 90), backend('reviews-v2', 10)] }] })]);
  let v2count = 0;
  for (let i = 0; i < 1000; i++) {
    const r = await call(web, 'http://reviews/split');
    assert.equal(r.status, 200);
    if (r.body.name === 'v2') v2count++;
  }
  assert.ok(v2count >= 70 && v2count <= 130, `v2 got ${v2count} of 1000 (want 100 ± 30)`);
  // The route and rule are metric labels, with the backend Service that served.
  const text = await adminMetrics(web.adminPort);
  const served = (svc: string) => metricSample(text, `weft_proxy_route_requests_total{route="default/split",rule="0",destination_service="${svc}.default",code="200",reason=""}`);
  assert.equal(served('reviews-v1') + served('reviews-v2'), 1000);
  assert.equal(served('reviews-v2'), v2count);
  await remove('httproutes', 'split');
});

test('header routing, request and response header modifiers, a rewrite, and 404 for what no rule matches', async () => {
  await apply([route('by-header', {
    parentRefs: [{ name: 'reviews' }],
    rules: [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/api' }, headers: [{ name: 'x-canary', value: 'true' }] }],
        filters: [
          { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-route', value: 'canary' }], add: [{ name: 'x-tag', value: 'added' }], remove: ['x-drop'] } },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'x-app-header', value: 'replaced' }], add: [{ name: 'x-route-out', value: 'yes' }] } },
        ],
        backendRefs: [backend('reviews-v2')],
      },
      { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [backend('reviews-v1')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/old' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } } }], backendRefs: [backend('reviews-v1')] },
    ],
  })]);
  for (let i = 0; i < 10; i++) {
    const canary = await call(web, 'http://reviews/api/items?x=1', { 'x-canary': 'true', 'x-tag': 'original', 'x-drop': 'secret' });
    assert.equal(canary.body.name, 'v2');
    assert.equal(canary.body.url, '/api/items?x=1');
    assert.equal(canary.body.headers['x-route'], 'canary');
    assert.equal(canary.body.headers['x-tag'], 'original, added');
    assert.equal(canary.body.headers['x-drop'], undefined);
    assert.equal(canary.headers['x-app-header'], 'replaced');
    assert.equal(canary.headers['x-route-out'], 'yes');
    const plain = await call(web, 'http://reviews/api/items');
    assert.equal(plain.body.name, 'v1');
    assert.equal(plain.headers['x-app-header'], 'from-app');
  }
  const rewritten = await call(web, 'http://reviews/old/page?q=2');
  assert.equal(rewritten.body.url, '/new/page?q=2');
  const none = await call(web, 'http://reviews/elsewhere');
  assert.equal(none.status, 404);
  assert.equal(none.headers['x-weft-reason'], 'no-route');
  await remove('httproutes', 'by-header');
});

test('a redirect is answered by the client sidecar without touching the backend', async () => {
  await apply([route('moved', { parentRefs: [{ name: 'reviews' }], rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { statusCode: 301, hostname: 'reviews.example.com', path: { type: 'ReplaceFullPath', replaceFullPath: '/moved' } } }] }] })]);
  const before = v1.hits() + v2.hits();
  const r = await call(web, 'http://reviews/anything?k=v');
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'http://reviews.example.com/moved?k=v');
  assert.equal(r.headers['x-weft-reason'], 'route-redirect');
  assert.equal(v1.hits() + v2.hits(), before, 'no app saw the request');
  await remove('httproutes', 'moved');
});

test('an unusable backend gets 500 for its share, and weight 0 everywhere gets 500', async () => {
  await apply([route('broken', { parentRefs: [{ name: 'reviews' }], rules: [
    { matches: [{ path: { type: 'PathPrefix', value: '/missing' } }], backendRefs: [backend('no-such-service')] },
    { matches: [{ path: { type: 'PathPrefix', value: '/zero' } }], backendRefs: [backend('reviews-v1', 0)] },
  ] })]);
  const missing = await call(web, 'http://reviews/missing');
  assert.equal(missing.status, 500);
  assert.equal(missing.headers['x-weft-reason'], 'backend-unresolved');
  const zero = await call(web, 'http://reviews/zero');
  assert.equal(zero.status, 500);
  assert.equal(zero.headers['x-weft-reason'], 'no-backend');
  await remove('httproutes', 'broken');
});

test("a consumer route governs its own namespace's clients only", async () => {
  await apply([route('shop-to-v2', { parentRefs: [{ name: 'reviews', namespace: 'default' }], rules: [{ backendRefs: [{ ...backend('reviews-v2'), namespace: 'default' }] }] }, 'shop')]);
  // The consumer route's backend is in another namespace: without a ReferenceGrant its share is 500.
  const refused = await call(shopper, 'http://reviews.default/x');
  assert.equal(refused.status, 500);
  assert.match(refused.body.error.message, /RefNotPermitted/);
  await apply([{ apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { name: 'shop-routes', namespace: 'default' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop' }], to: [{ group: '', kind: 'Service' }] } }]);
  for (let i = 0; i < 10; i++) assert.equal((await call(shopper, 'http://reviews.default/x')).body.name, 'v2');
  const fromDefault = new Set<string>();
  for (let i = 0; i < 20; i++) fromDefault.add((await call(web, 'http://reviews/x')).body.name);
  assert.deepEqual([...fromDefault].sort(), ['v1', 'v2'], 'clients in default are not governed by the shop route');
  await remove('httproutes', 'shop-to-v2', 'shop');
});

test('fault injection aborts and delays the configured share (±5 points over 1,000 requests); a missing FaultInjection fails its rule with 500', { timeout: 120_000 }, async () => {
  await apply([
    { apiVersion: 'weft.dev/v1alpha1', kind: 'FaultInjection', metadata: { name: 'flaky' }, spec: { abort: { percentage: 30, httpStatus: 503 }, delay: { percentage: 20, fixedDelay: '40ms' } } },
    route('faults', { parentRefs: [{ name: 'reviews' }], rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/flaky' } }], filters: [{ type: 'ExtensionRef', extensionRef: { group: 'weft.dev', kind: 'FaultInjection', name: 'flaky' } }], backendRefs: [backend('reviews-v1')] },
      { matches: [{ path: { type: 'PathPrefix', value: '/ghost' } }], filters: [{ type: 'ExtensionRef', extensionRef: { group: 'weft.dev', kind: 'FaultInjection', name: 'ghost' } }], backendRefs: [backend('reviews-v1')] },
    ] }),
  ]);
  let aborted = 0;
  let slow = 0;
  const faultSeries = (kind: string): string => `weft_proxy_fault_injections_total{route="default/faults",kind="${kind}"}`;
  const before = await adminMetrics(web.adminPort);
  for (let i = 0; i < 1000; i++) {
    const t0 = performance.now();
    const r = await call(web, 'http://reviews/flaky');
    const ms = performance.now() - t0;
    if (r.status === 503) {
      assert.equal(r.headers['x-weft-reason'], 'fault-abort');
      aborted++;
    } else {
      assert.equal(r.status, 200);
    }
    if (ms >= 40) slow++;
  }
  assert.ok(aborted >= 250 && aborted <= 350, `aborted ${aborted} of 1000 (want 300 ± 50)`);
  // The sidecar counts the delays it injected; each delayed request took at least the 40 ms delay.
  // (Elapsed time alone cannot tell them apart on a busy machine, where undelayed ones can be slow too.)
  const after = await adminMetrics(web.adminPort);
  const delayed = metricSample(after, faultSeries('delay')) - metricSample(before, faultSeries('delay'));
  assert.ok(delayed >= 150 && delayed <= 250, `delayed ${delayed} of 1000 (want 200 ± 50)`);
  assert.ok(slow >= delayed, `${slow} requests took 40 ms or more, fewer than the ${delayed} delayed by 40 ms`);
  assert.equal(metricSample(after, faultSeries('abort')) - metricSample(before, faultSeries('abort')), aborted);
  const ghost = await call(web, 'http://reviews/ghost');
  assert.equal(ghost.status, 500);
  assert.equal(ghost.headers['x-weft-reason'], 'filter-unresolved');
  await remove('httproutes', 'faults');
});

test('a mirror receives a copy of each mirrored request (body included) without changing the client response', async () => {
  await apply([route('mirrored', { parentRefs: [{ name: 'reviews' }], rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'reviews-v2', port: 80 } } }], backendRefs: [backend('reviews-v1')] }] })]);
  const before = v2.hits();
  for (let i = 0; i < 5; i++) {
    const r = await call(web, 'http://reviews/mirror-me');
    assert.equal(r.body.name, 'v1', 'the client gets the primary backend');
  }
  const posted = await new Promise<Reply>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: web.outboundPort, method: 'POST', path: 'http://reviews/with-body', headers: { 'content-type': 'text/plain' }, agent }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end('a body for both');
  });
  assert.equal(posted.body.name, 'v1');
  // hits() counts a request when its head arrives; its body is read after, so wait for that too.
  await waitUntil(() => v2.hits() - before === 6 && v2.received('/with-body') !== undefined, 'six mirrored copies reached v2, the last with its body');
  assert.equal(v2.received('/with-body')?.body, 'a body for both');
  assert.match(v2.received('/with-body')?.host ?? '', /^reviews-shadow/);
  await remove('httproutes', 'mirrored');
});

async function waitUntil(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), what);
}

test('route status: Accepted and ResolvedRefs per parent, with the reasons, in the API and in weft get', async () => {
  await apply([
    route('status-ok', { parentRefs: [{ name: 'reviews', port: 80 }], rules: [{ backendRefs: [backend('reviews-v1')] }] }),
    route('status-bad', { parentRefs: [{ name: 'reviews', port: 81 }, { name: 'ghost' }], rules: [{ backendRefs: [backend('nowhere')] }] }),
  ]);
  const ok = (await cp.api('GET', '/v1/resources/httproutes/default/status-ok')).body;
  assert.deepEqual(ok.status.parents[0].conditions.map((c: { type: string; status: string; reason: string }) => `${c.type}=${c.status}/${c.reason}`), ['Accepted=True/Accepted', 'ResolvedRefs=True/ResolvedRefs']);
  assert.equal(ok.status.parents[0].controllerName, 'weft.dev/mesh');
  const bad = (await cp.api('GET', '/v1/resources/httproutes/default/status-bad')).body;
  assert.deepEqual(bad.status.parents.map((p: { conditions: { type: string; status: string; reason: string }[] }) => p.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)), [
    ['Accepted=False/NoMatchingParent', 'ResolvedRefs=False/BackendNotFound'],
    ['Accepted=False/NoMatchingParent', 'ResolvedRefs=False/BackendNotFound'],
  ]);
  const table = await runWeft(['get', 'httproutes'], { control: cp.url });
  assert.match(table.stdout, /status-ok\s+True\s+True/);
  assert.match(table.stdout, /status-bad\s+False \(NoMatchingParent\)\s+False \(BackendNotFound\)/);
  await remove('httproutes', 'status-ok');
  await remove('httproutes', 'status-bad');
});

test('weft check flags a route that is not in force and a route backend with no healthy instance', async () => {
  await apply([
    { apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'reviews-v9' }, spec: { selector: { version: 'v9' }, ports: [{ port: 80 }] } },
    route('to-nowhere', { parentRefs: [{ name: 'reviews' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/v9' } }], backendRefs: [backend('reviews-v9')] }] }),
    route('dangling', { parentRefs: [{ name: 'reviews' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/gone' } }], backendRefs: [backend('no-such')] }] }),
  ]);
  const check = await runWeft(['check'], { control: cp.url });
  assert.equal(check.code, 1, check.stdout + check.stderr);
  assert.match(check.stdout, /ROUTE-BACKEND\s+httproute\/default\/to-nowhere: backend Service default\/reviews-v9 has no healthy instance/);
  assert.match(check.stdout, /ROUTE\s+httproute\/default\/dangling: ResolvedRefs BackendNotFound/);
  await remove('httproutes', 'to-nowhere');
  await remove('httproutes', 'dangling');
});

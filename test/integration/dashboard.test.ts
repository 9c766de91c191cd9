// Bar: the web UI at /ui, in a real headless Chromium (Debian's chromium driven by playwright-core).
// A real control plane and a small mesh (loadgen → frontend → catalog ×2, all behind sidecars, with
// traffic flowing): without a token the API refuses and the UI asks for one; with the token the
// topology shows the services and the edges, whose numbers move; the service and proxies pages
// show instances with zones, the attached policy and each proxy's acknowledged version; a request
// that fails (a fault injected on catalog's /broken) is among the recent failures, and the request
// inspector shows its hops, its route, its attempts and the local reply's reason.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { repoRoot, stopAll, waitFor } from '../support/processes.ts';
import { startEcho, steadyTraffic, type EchoServer } from '../support/upstreams.ts';

/** Debian's chromium (installed by .ci/run); WEFT_CHROMIUM points elsewhere. */
const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots land here (gitignored) for a person to look at. */
const OUTPUT_DIR = path.join(repoRoot, 'test-output');

let cp: ControlPlaneProcess;
let browser: Browser;
let catalogApps: EchoServer[] = [];
let frontendApp: http.Server | undefined;
let traffic: ReturnType<typeof steadyTraffic> | undefined;
let frontendSidecar: SidecarProcess | undefined;
let loadgen: SidecarProcess;
const SIDECARS = 4;

/**
 * The frontend app: each request becomes a call to catalog through its own sidecar, with the same
 * x-request-id (as instrumented apps do), so that one request's hops share one id.
 */
async function startFrontend(sidecarPort: () => number): Promise<{ server: http.Server; port: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.writeHead(200).end('ok');
    const requestId = req.headers['x-request-id'];
    const headers = typeof requestId === 'string' ? { 'x-request-id': requestId } : {};
    const upstream = http.get({ host: '127.0.0.1', port: sidecarPort(), path: `http://catalog${req.url}`, headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, { 'content-type': 'application/json' });
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`);
  cp = await startControlPlane();
  catalogApps = await Promise.all([startEcho('catalog-a'), startEcho('catalog-b')]);
  const frontend = await startFrontend(() => frontendSidecar!.outboundPort);
  frontendApp = frontend.server;
  [, , frontendSidecar, loadgen] = await Promise.all([
    startSidecar(cp.url, 'catalog', ['--id', 'catalog-a', '--app-port', String(catalogApps[0].port), '--zone', 'zone-a']),
    startSidecar(cp.url, 'catalog', ['--id', 'catalog-b', '--app-port', String(catalogApps[1].port), '--zone', 'zone-b']),
    startSidecar(cp.url, 'frontend', ['--id', 'frontend-1', '--app-port', String(frontend.port)]),
    startSidecar(cp.url, 'loadgen', ['--id', 'loadgen-1']),
  ]);
  await Promise.all([waitForPassing(cp, 'catalog', 2), waitForPassing(cp, 'frontend', 1)]);
  const applied = await cp.api('POST', '/v1/apply', {
    items: [
      { apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name: 'catalog-lb', namespace: 'default' }, spec: { targetRefs: [{ kind: 'Service', name: 'catalog' }], loadBalancer: { algorithm: 'round-robin' } } },
      // Calls to catalog under /broken are answered 503 by the caller's sidecar (fault-abort): the inspector's failure.
      { apiVersion: 'weft.dev/v1alpha1', kind: 'FaultInjection', metadata: { name: 'broken', namespace: 'default' }, spec: { abort: { percentage: 100, httpStatus: 503 } } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'catalog-faults', namespace: 'default' }, spec: { parentRefs: [{ name: 'catalog' }], rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/broken' } }], filters: [{ type: 'ExtensionRef', extensionRef: { group: 'weft.dev', kind: 'FaultInjection', name: 'broken' } }], backendRefs: [{ name: 'catalog', port: 80 }] },
        { backendRefs: [{ name: 'catalog', port: 80 }] },
      ] } },
    ],
  });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  await waitForInSync(cp, SIDECARS);
  traffic = steadyTraffic(loadgen.outboundPort, 'http://frontend/products', { workers: 2, pauseMs: 20 });
  await mkdir(OUTPUT_DIR, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--disable-gpu', '--disable-dev-shm-usage'] });
}, { timeout: 180_000 });

after(async () => {
  await traffic?.stop();
  await browser?.close();
  await stopAll();
  await Promise.all(catalogApps.map((a) => a.close()));
  await new Promise<void>((r) => (frontendApp ? frontendApp.close(() => r()) : r()));
  frontendApp?.closeAllConnections();
  await cp?.cleanup();
});

/** A fresh page (its own sessionStorage) on /ui, failing the test on any uncaught page error. */
async function openUi(): Promise<{ page: Page; errors: string[]; close(): Promise<void> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${cp.url}/ui/`);
  return { page, errors, close: () => context.close() };
}

/** One GET through a sidecar's outbound listener with an x-request-id. */
function getViaProxyWithId(proxyPort: number, url: string, requestId: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: proxyPort, path: url, headers: { host: new URL(url).host, 'x-request-id': requestId }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
  });
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.locator('form[data-login] input[name=token]').fill(token);
  await page.locator('form[data-login] button[type=submit]').click();
}

test('without a token the API refuses and the UI shows the login prompt; a wrong token stays there', async () => {
  for (const p of ['/v1/catalog/services', '/v1/proxies', '/v1/resources', '/v1/stats']) {
    assert.equal((await cp.apiAs(null, 'GET', p)).status, 401, p);
  }
  const ui = await openUi();
  try {
    await ui.page.locator('form[data-login]').waitFor({ timeout: 30_000 });
    assert.equal(await ui.page.locator('[data-node]').count(), 0);
    await signIn(ui.page, 'not-a-token');
    await ui.page.locator('form[data-login] [role=alert]').waitFor({ timeout: 15_000 });
    assert.match(await ui.page.locator('form[data-login] [role=alert]').innerText(), /refused/);
    assert.equal(await ui.page.evaluate(() => sessionStorage.getItem('weft.token')), null);
    assert.deepEqual(ui.errors, []);
  } finally {
    await ui.close();
  }
});

test('with the token the topology shows the services and the edges, and the edge numbers change', { timeout: 120_000 }, async () => {
  const ui = await openUi();
  try {
    await signIn(ui.page, cp.adminToken!);
    // loadgen has no app, so no catalog entry: it appears as the source of an edge once stats flow.
    for (const node of ['catalog.default', 'frontend.default']) {
      await ui.page.locator(`[data-node="${node}"]`).waitFor({ timeout: 30_000 });
    }
    // The token travels only in the Authorization header: never in the address.
    assert.ok(!ui.page.url().includes(cp.adminToken!), ui.page.url());
    const stats = await cp.api('GET', '/v1/stats');
    assert.equal(stats.status, 200, JSON.stringify(stats.body));
    await ui.page.locator('[data-node="loadgen.default"]').waitFor({ timeout: 60_000 });
    const edges = ['frontend.default->catalog.default', 'loadgen.default->frontend.default'];
    const first: Record<string, string> = {};
    for (const id of edges) {
      const edge = ui.page.locator(`[data-edge="${id}"]`);
      await waitFor(`edge ${id} with requests`, async () => Number(await edge.getAttribute('data-requests', { timeout: 1_000 }).catch(() => '0')) > 0, 60_000, 250);
      const label = await edge.locator('.edge-label').textContent();
      assert.match(label ?? '', /^\d+(\.\d)? rps · \d+\.\d% · p99 [\d.]+ (ms|s)$/, `label of ${id}`);
      first[id] = `${await edge.getAttribute('data-requests')}|${label}`;
    }
    // The page refreshes itself (every 2 s): the same edges show other numbers a little later.
    for (const id of edges) {
      const edge = ui.page.locator(`[data-edge="${id}"]`);
      await waitFor(`edge ${id} numbers to change`, async () => `${await edge.getAttribute('data-requests')}|${await edge.locator('.edge-label').textContent()}` !== first[id], 30_000, 250);
    }
    const rate = Number(await ui.page.locator('[data-edge="frontend.default->catalog.default"]').getAttribute('data-success-rate'));
    assert.ok(rate > 0.9, `success rate ${rate}`);
    // Cropped to the page's content: docs/images/dashboard.png is one of these.
    await ui.page.locator('.app').screenshot({ path: path.join(OUTPUT_DIR, 'dashboard.png') });
    assert.deepEqual(ui.errors, []);
  } finally {
    await ui.close();
  }
});

test('the service page lists instances with health and zone and the policy in force; the proxies page their acknowledged versions', { timeout: 60_000 }, async () => {
  const ui = await openUi();
  try {
    await signIn(ui.page, cp.adminToken!);
    await ui.page.locator('[data-node="catalog.default"]').click();
    await ui.page.locator('[data-service="catalog.default"] [data-instance="catalog-b"]').waitFor({ timeout: 30_000 });
    const rows = await ui.page.locator('[data-table=instances] tbody tr').allInnerTexts();
    assert.equal(rows.length, 2, rows.join('\n'));
    assert.match(rows.find((r) => r.includes('catalog-a'))!, /passing[\s\S]*zone-a/);
    assert.match(rows.find((r) => r.includes('catalog-b'))!, /passing[\s\S]*zone-b/);
    await ui.page.locator('[data-resource="BackendPolicy/catalog-lb"]').waitFor({ timeout: 10_000 });
    // Its callers, from the stats: frontend → catalog.
    await ui.page.locator('[data-table=edges] tbody tr', { hasText: 'frontend.default' }).waitFor({ timeout: 30_000 });
    await ui.page.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard-service.png'), fullPage: true });

    await ui.page.locator('nav a[href="#/proxies"]').click();
    await ui.page.locator('[data-proxy="loadgen-1"]').waitFor({ timeout: 30_000 });
    const { body } = await cp.api('GET', '/v1/proxies');
    for (const p of body.items as { id: string; ackedVersion: unknown }[]) {
      await waitFor(`proxy ${p.id} row`, async () => (await ui.page.locator(`[data-proxy="${p.id}"] [data-acked]`).innerText()) === String(p.ackedVersion), 10_000, 200);
    }
    assert.equal(await ui.page.locator('[data-table=proxies] tbody tr').count(), SIDECARS);
    assert.deepEqual(ui.errors, []);
  } finally {
    await ui.close();
  }
});

test('a failed request: the inspector shows its hops, route, attempts and reason; the service page lists it', { timeout: 90_000 }, async () => {
  const requestId = 'dashboard-broken-1';
  const res = await getViaProxyWithId(loadgen.outboundPort, 'http://frontend/broken/item', requestId);
  assert.equal(res.status, 503);
  const ui = await openUi();
  try {
    await signIn(ui.page, cp.adminToken!);
    await ui.page.locator('nav a[href="#/inspector"]').click();
    // Three hops failed (loadgen's call, frontend's inbound, frontend's call to catalog): one row each.
    const rows = ui.page.locator(`[data-table=failures] [data-failure="${requestId}"]`);
    await waitFor('the failure in the recent failures', async () => (await rows.count()) === 3, 30_000, 250);
    assert.ok((await rows.locator('[data-why]').allInnerTexts()).includes('fault-abort'));
    await rows.first().locator('a').click();
    await ui.page.locator(`[data-inspector=found][data-request="${requestId}"]`).waitFor({ timeout: 30_000 });
    assert.ok(ui.page.url().endsWith(`#/requests/${requestId}`), ui.page.url());
    const hops = await ui.page.locator('[data-hop]').evaluateAll((els) => els.map((e) => e.getAttribute('data-hop')));
    assert.deepEqual(hops, ['loadgen-1/outbound', 'frontend-1/inbound', 'frontend-1/outbound']);
    // The hop that failed: frontend's call to catalog, aborted by the route's fault.
    const aborted = ui.page.locator('[data-hop="frontend-1/outbound"]');
    assert.equal(await aborted.locator('[data-reason]').innerText(), 'fault-abort');
    assert.equal(await aborted.locator('[data-route]').innerText(), 'default/catalog-faults, rule 0');
    assert.match(await aborted.locator('[data-local-reply]').innerText(), /503 fault-abort/);
    assert.match(await aborted.locator('[data-attempts=none]').innerText(), /No endpoint was tried/);
    // The hops before it: each tried one endpoint, which answered 503.
    const first = await ui.page.locator('[data-hop="loadgen-1/outbound"] [data-attempt="1"]').innerText();
    assert.match(first, new RegExp(`127\\.0\\.0\\.1:${frontendSidecar!.inboundPort}[\\s\\S]*answered 503`));
    assert.match(await ui.page.locator('[data-hop="frontend-1/inbound"] [data-attempt="1"]').innerText(), /answered 503/);
    await ui.page.locator('.app').screenshot({ path: path.join(OUTPUT_DIR, 'inspector.png') });

    // An id no sidecar holds says so.
    await ui.page.locator('form[data-lookup] input[name=requestId]').fill('no-such-request');
    await ui.page.locator('form[data-lookup] button[type=submit]').click();
    await ui.page.locator('[data-inspector=not-found]').waitFor({ timeout: 30_000 });
    assert.match(await ui.page.locator('[data-inspector=not-found]').innerText(), /no sidecar holds a fate for request no-such-request \(asked 4 sidecars\)/);

    // The service page of catalog lists the failed call to it with its reason.
    await ui.page.goto(`${cp.url}/ui/#/service/default/catalog`);
    const row = ui.page.locator(`[data-service="catalog.default"] [data-table=failures] [data-failure="${requestId}"]`);
    await row.waitFor({ timeout: 30_000 });
    assert.equal(await row.locator('[data-why]').innerText(), 'fault-abort');
    assert.match(await row.innerText(), /frontend\.default → catalog\.default/);
    await ui.page.locator('[data-resource="HTTPRoute/catalog-faults"]').waitFor({ timeout: 10_000 });
    await ui.page.screenshot({ path: path.join(OUTPUT_DIR, 'service.png'), fullPage: true });
    assert.deepEqual(ui.errors, []);
  } finally {
    await ui.close();
  }
});

test('a token revoked while the page is open sends the UI back to the login prompt', { timeout: 60_000 }, async () => {
  const created = await cp.api('POST', '/v1/tokens', { role: 'read-only', description: 'dashboard test' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const ui = await openUi();
  try {
    await signIn(ui.page, created.body.token);
    await ui.page.locator('[data-node="catalog.default"]').waitFor({ timeout: 30_000 });
    assert.equal((await cp.api('DELETE', `/v1/tokens/${created.body.id}`)).status, 200);
    await ui.page.locator('form[data-login] [role=alert]').waitFor({ timeout: 15_000 });
    assert.equal(await ui.page.evaluate(() => sessionStorage.getItem('weft.token')), null);
  } finally {
    await ui.close();
  }
});

// Bar (issue 13): real processes. Three instances of `catalog` behind sidecars and a client sidecar.
// peak-ewma sends few requests to an instance 10× slower than the others (round robin sends it a
// third: the test can fail) and few to one answering 500; ring-hash on a header sends each key to one
// instance; maglev with a generated cookie sets it and sticks to it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminMetrics, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll, waitFor } from '../support/processes.ts';

/** An app whose answer (delay, status) can be changed while it runs; it names itself in x-served-by. */
interface App {
  readonly name: string;
  readonly port: number;
  delayMs: number;
  status: number;
  close(): Promise<void>;
}

async function startApp(name: string): Promise<App> {
  const app = { name, port: 0, delayMs: 0, status: 200, close: async () => {} };
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    req.resume();
    const answer = () => res.writeHead(app.status, { 'x-served-by': name, 'content-type': 'text/plain' }).end(name);
    if (app.delayMs > 0) setTimeout(answer, app.delayMs);
    else answer();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  app.port = (server.address() as AddressInfo).port;
  app.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return app;
}

let cp: ControlPlaneProcess;
let apps: App[];
let client: SidecarProcess;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One GET through the client sidecar; `headers` added. */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; servedBy: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: client.outboundPort, path: `http://catalog${path}`, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, servedBy: String(res.headers['x-served-by'] ?? ''), headers: res.headers }));
    });
    req.on('error', reject);
  });
}

/** `n` sequential requests; counts by instance and by status. */
async function sequential(n: number): Promise<{ by: Record<string, number>; statuses: Record<number, number> }> {
  const by: Record<string, number> = {};
  const statuses: Record<number, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await get(`/item/${i}`);
    by[r.servedBy] = (by[r.servedBy] ?? 0) + 1;
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
  return { by, statuses };
}

/** Applies the catalog's BackendPolicy and waits until the client sidecar runs it. */
async function setPolicy(loadBalancer: Record<string, unknown>): Promise<void> {
  const put = await cp.api('PUT', '/v1/resources/backendpolicies/default/catalog-lb', {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'BackendPolicy',
    metadata: { name: 'catalog-lb', namespace: 'default' },
    spec: { targetRefs: [{ kind: 'Service', name: 'catalog' }], loadBalancer },
  });
  assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
  await waitFor(`the client sidecar to run ${JSON.stringify(loadBalancer)}`, async () => {
    const res = await fetch(`http://127.0.0.1:${client.adminPort}/config`);
    const snap = ((await res.json()) as { snapshot?: { services: { name: string; policy: { loadBalancer: unknown } }[] } }).snapshot;
    return JSON.stringify(snap?.services.find((s) => s.name === 'catalog')?.policy.loadBalancer) === JSON.stringify(put.body.spec.loadBalancer);
  }, 20_000);
}

function setApps(slowOrFailing: { delayMs?: number; status?: number }): void {
  for (const app of apps) {
    app.delayMs = app.name === 'c' ? (slowOrFailing.delayMs ?? 5) : 5;
    app.status = app.name === 'c' ? (slowOrFailing.status ?? 200) : 200;
  }
}

before(async () => {
  cp = await startControlPlane();
  apps = await Promise.all(['a', 'b', 'c'].map(startApp));
  const sidecars = apps.map((app) => startSidecar(cp.url, 'catalog', ['--app-port', String(app.port), '--ttl-seconds', '3']));
  [client] = await Promise.all([startSidecar(cp.url, 'client'), ...sidecars]);
  await waitForPassing(cp, 'catalog', 3, 30_000);
  await waitForInSync(cp, 4, 30_000);
}, { timeout: 120_000 });

after(async () => {
  agent.destroy();
  await stopAll();
  await Promise.all((apps ?? []).map((a) => a.close()));
  await cp?.cleanup();
});

test('peak-ewma: an instance answering every request with 500 gets a small share', { timeout: 120_000 }, async (t) => {
  // First: every instance still has the neutral start (no traffic yet), so only the 500s set c apart.
  setApps({ status: 500 });
  await setPolicy({ algorithm: 'peak-ewma', peakEwma: { penaltyMs: 2000, decayMs: 1000 } });
  const { by, statuses } = await sequential(300);
  const failed = statuses[500] ?? 0;
  t.diagnostic(`served: ${JSON.stringify(by)}`);
  assert.ok(failed < 300 * 0.1, `${failed} of 300 requests failed (${JSON.stringify(by)})`);
  assert.equal(failed, by.c ?? 0);
});

test('peak-ewma: an instance answering in 50 ms while the others take 5 ms gets far fewer than 1/3 of 300 requests', { timeout: 120_000 }, async (t) => {
  // c recovers first: with a 1 s decay its penalty fades within seconds and, answering 200 in 5 ms
  // again, it is probed and back in rotation; only then does it turn slow.
  setApps({});
  await setPolicy({ algorithm: 'peak-ewma', peakEwma: { decayMs: 1000 } });
  let recovered = 0;
  await waitFor('c to be probed again after its 500s', async () => {
    const r = await get('/warm');
    if (r.servedBy === 'c' && r.status === 200) recovered++;
    return recovered >= 3;
  }, 60_000, 1);
  setApps({ delayMs: 50 });
  const { by, statuses } = await sequential(300);
  assert.deepEqual(Object.keys(statuses), ['200']);
  const slow = by.c ?? 0;
  t.diagnostic(`served: ${JSON.stringify(by)}`);
  assert.ok(slow < 300 * 0.15, `the slow instance served ${slow} of 300 (${JSON.stringify(by)})`);
  // The score gauge: one series per endpoint of catalog, the slow one highest.
  const text = await adminMetrics(client.adminPort);
  const scores = text.split('\n').filter((l) => l.startsWith('weft_proxy_peak_ewma_score{destination_service="catalog.default:'));
  assert.equal(scores.length, 3, text);
});

test('round robin on the same instances sends about a third to the slow one (the bar above can fail)', { timeout: 120_000 }, async (t) => {
  setApps({ delayMs: 50 });
  await setPolicy({ algorithm: 'round-robin' });
  const { by } = await sequential(300);
  const slow = by.c ?? 0;
  t.diagnostic(`served: ${JSON.stringify(by)}`);
  assert.ok(slow > 300 * 0.25 && slow < 300 * 0.42, `the slow instance served ${slow} of 300 (${JSON.stringify(by)})`);
  const text = await adminMetrics(client.adminPort);
  assert.ok(!text.includes('weft_proxy_peak_ewma_score{destination_service="catalog.'), 'the gauge drops a service that left peak-ewma');
});

test('ring-hash on a header: the same key goes to the same instance every time, and keys spread', { timeout: 120_000 }, async (t) => {
  setApps({});
  await setPolicy({ algorithm: 'ring-hash', hashPolicy: [{ header: { name: 'x-user' } }] });
  const owners = new Map<string, string>();
  for (let u = 0; u < 30; u++) {
    const user = `user-${u}`;
    for (let i = 0; i < 5; i++) {
      const r = await get('/cart', { 'x-user': user });
      assert.equal(r.status, 200);
      const before = owners.get(user);
      if (before === undefined) owners.set(user, r.servedBy);
      else assert.equal(r.servedBy, before, `${user} moved from ${before} to ${r.servedBy}`);
    }
  }
  const used = new Set(owners.values());
  assert.equal(used.size, 3, `30 keys reached ${[...used].join(', ')}`);
});

test('maglev with a cookie: the proxy sets the cookie when absent, and requests carrying it stick', { timeout: 120_000 }, async (t) => {
  setApps({});
  await setPolicy({ algorithm: 'maglev', hashPolicy: [{ cookie: { name: 'weft-affinity', ttlMs: 3_600_000 } }] });
  const seenFirst = new Set<string>();
  for (let c = 0; c < 12; c++) {
    const first = await get('/home');
    const setCookie = first.headers['set-cookie']?.[0] ?? '';
    const m = /^weft-affinity=([^;]+); Max-Age=3600; Path=\/; HttpOnly$/.exec(setCookie);
    assert.ok(m, `Set-Cookie: ${setCookie}`);
    seenFirst.add(first.servedBy);
    for (let i = 0; i < 5; i++) {
      const r = await get('/home', { cookie: `other=1; weft-affinity=${m[1]}` });
      assert.equal(r.servedBy, first.servedBy, 'a client carrying the cookie sticks to its instance');
      assert.equal(r.headers['set-cookie'], undefined, 'no new cookie when the client has one');
    }
  }
  assert.ok(seenFirst.size >= 2, `12 new clients spread over ${[...seenFirst].join(', ')}`);
});

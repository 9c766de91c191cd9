// Bar: an instance that stops heartbeating or fails its health check stops receiving traffic within
// its TTL or check interval; one that stays critical past deregisterAfterSeconds leaves the catalog;
// a bad registration is refused with its field paths.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, startSidecar, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, getViaProxy, type EchoServer } from '../support/upstreams.ts';
import { freePort, stopAll, waitFor } from '../support/processes.ts';
import { useAlgorithm } from '../support/policies.ts';

let cp: ControlPlaneProcess;
let client: SidecarProcess;
const echoes: EchoServer[] = [];
const heartbeats = new Set<NodeJS.Timeout>();

interface Instance {
  id: string;
  service: string;
  health: string;
  healthReason: string;
  lastHeartbeat: number;
  healthSince: number;
  ttlSeconds: number;
}

before(async () => {
  cp = await startControlPlane();
  client = await startSidecar(cp.url, 'client');
});

after(async () => {
  for (const t of heartbeats) clearInterval(t);
  await stopAll();
  await Promise.all(echoes.map((e) => e.close()));
  await cp?.cleanup();
});

async function echo(name: string): Promise<EchoServer> {
  const e = await startEcho(name);
  echoes.push(e);
  return e;
}

async function register(body: Record<string, unknown>): Promise<Instance> {
  const res = await cp.api<Instance>('POST', '/v1/catalog/instances', { address: '127.0.0.1', ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

function instancePath(service: string, id: string): string {
  return `/v1/catalog/instances/default/${service}/${id}`;
}

/** Heartbeats an instance every 500ms until the returned function is called. */
function keepAlive(service: string, id: string): () => void {
  const timer = setInterval(() => {
    cp.api('PUT', `${instancePath(service, id)}/heartbeat`).catch(() => {});
  }, 500);
  heartbeats.add(timer);
  return () => {
    clearInterval(timer);
    heartbeats.delete(timer);
  };
}

async function instance(service: string, id: string): Promise<Instance | undefined> {
  const res = await cp.api<Instance>('GET', instancePath(service, id));
  return res.status === 200 ? res.body : undefined;
}

function waitForHealth(service: string, id: string, health: string, timeoutMs = 20_000): Promise<Instance> {
  return waitFor(`${service}/${id} ${health} in the catalog`, async () => {
    const inst = await instance(service, id);
    return inst?.health === health ? inst : undefined;
  }, timeoutMs);
}

/** The endpoints of a service as the client sidecar currently runs them (admin /config). */
async function clientEndpoints(service: string): Promise<{ id: string; health: string }[]> {
  const res = await fetch(`http://127.0.0.1:${client.adminPort}/config`);
  const config = (await res.json()) as { snapshot?: { services: { name: string; namespace: string; ports: { endpoints: { id: string; health: string }[] }[] }[] } };
  const svc = config.snapshot?.services.find((s) => s.name === service && s.namespace === 'default');
  return svc?.ports.flatMap((p) => p.endpoints) ?? [];
}

/** Waits until the client sidecar sees exactly these endpoint healths for a service. */
function waitForClientView(service: string, want: Record<string, string>, timeoutMs = 20_000): Promise<unknown> {
  return waitFor(`client sidecar sees ${service} as ${JSON.stringify(want)}`, async () => {
    const eps = await clientEndpoints(service);
    const seen = Object.fromEntries(eps.map((e) => [e.id, e.health]));
    return JSON.stringify(Object.entries(seen).sort()) === JSON.stringify(Object.entries(want).sort());
  }, timeoutMs);
}

/** Sends `n` GETs through the client sidecar; every one must succeed. */
async function send(service: string, n: number): Promise<Record<string, number>> {
  const servedBy: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await getViaProxy(client.outboundPort, `http://${service}/req/${i}`);
    assert.equal(res.status, 200, `request ${i} to ${service}: ${res.status} ${res.body}`);
    const name = JSON.parse(res.body).name as string;
    servedBy[name] = (servedBy[name] ?? 0) + 1;
  }
  return servedBy;
}

test('an instance that stops heartbeating turns critical after its TTL and gets no more traffic', async () => {
  const [stale, alive] = await Promise.all([echo('stale'), echo('alive')]);
  await register({ service: 'ttl', id: 'stale', port: stale.port, ttlSeconds: 2, deregisterAfterSeconds: 3600 });
  // A longer TTL for the control instance, so a starved test machine cannot expire it by accident.
  await register({ service: 'ttl', id: 'alive', port: alive.port, ttlSeconds: 10, deregisterAfterSeconds: 3600 });
  const stopStale = keepAlive('ttl', 'stale');
  keepAlive('ttl', 'alive');

  await waitForClientView('ttl', { stale: 'passing', alive: 'passing' });
  await useAlgorithm(cp, 'ttl', 'round-robin', [client]); // "both got traffic" is round robin's promise
  const before = await send('ttl', 20);
  assert.ok(before.stale > 0 && before.alive > 0, `both instances got traffic while heartbeating: ${JSON.stringify(before)}`);

  // `stale` stops heartbeating; `alive` goes on.
  stopStale();
  const critical = await waitForHealth('ttl', 'stale', 'critical');
  assert.ok(critical.healthReason.length > 0, 'a critical instance says why');
  assert.notEqual(critical.healthReason, 'passing');
  const silentMs = critical.healthSince - critical.lastHeartbeat;
  assert.ok(silentMs >= 2000, `not critical before the TTL ran out (after ${silentMs}ms of silence)`);
  // The sweep runs every second; a generous margin for a loaded machine, but the TTL must matter.
  assert.ok(silentMs < 2000 + 8000, `critical soon after the TTL ran out (after ${silentMs}ms of silence)`);
  assert.equal((await instance('ttl', 'alive'))?.health, 'passing', 'the heartbeating instance stays passing');

  await waitForClientView('ttl', { stale: 'critical', alive: 'passing' });
  const staleHits = stale.hits();
  const aliveHits = alive.hits();
  const afterwards = await send('ttl', 20);
  assert.equal(afterwards.stale, undefined, `no request reached the critical instance: ${JSON.stringify(afterwards)}`);
  assert.equal(stale.hits(), staleHits, 'the critical instance saw no request at all');
  assert.equal(alive.hits(), aliveHits + 20, 'the live instance took every request');

  // A heartbeat brings it back: TTL health is about silence, not a verdict for life.
  await cp.api('PUT', `${instancePath('ttl', 'stale')}/heartbeat`);
  keepAlive('ttl', 'stale');
  await waitForHealth('ttl', 'stale', 'passing');
  await waitForClientView('ttl', { stale: 'passing', alive: 'passing' });
  const back = await send('ttl', 10);
  assert.ok(back.stale > 0, `traffic returns after heartbeats resume: ${JSON.stringify(back)}`);
});

test('an instance critical for longer than deregisterAfterSeconds is removed from the catalog', async () => {
  const gone = await echo('gone');
  const stay = await echo('stay');
  await register({ service: 'grace', id: 'gone', port: gone.port, ttlSeconds: 1, deregisterAfterSeconds: 2 });
  await register({ service: 'grace', id: 'stay', port: stay.port, ttlSeconds: 0 });

  const critical = await waitForHealth('grace', 'gone', 'critical');
  assert.equal(critical.id, 'gone');
  await waitFor('gone removed from the catalog', async () => (await instance('grace', 'gone')) === undefined, 20_000);
  // Observed after the fact, so this bounds the removal from above: it waited out the grace period.
  assert.ok(Date.now() - critical.healthSince >= 2000, 'kept for deregisterAfterSeconds while critical');

  const list = await cp.api<{ items: Instance[] }>('GET', '/v1/catalog/instances?service=grace');
  assert.deepEqual(list.body.items.map((i) => i.id), ['stay'], 'only the removed instance left; the other (no TTL) stays');
  const res = await cp.api('GET', instancePath('grace', 'gone'));
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'WEFT_ERR_CATALOG_NOT_FOUND');
  // Removal is what the sidecar learns from: its next heartbeat is told to register again.
  const hb = await cp.api('PUT', `${instancePath('grace', 'gone')}/heartbeat`);
  assert.equal(hb.status, 404);
  assert.equal(hb.body.error.code, 'WEFT_ERR_CATALOG_NOT_FOUND');
  await waitForClientView('grace', { stay: 'passing' });
});

test('a heartbeat or deregistration for an unknown instance is 404 WEFT_ERR_CATALOG_NOT_FOUND', async () => {
  for (const [method, path] of [
    ['PUT', `${instancePath('nobody', 'ghost-1')}/heartbeat`],
    ['PUT', '/v1/catalog/instances/other-ns/ttl/alive/heartbeat'],
    ['DELETE', instancePath('nobody', 'ghost-1')],
    ['GET', instancePath('nobody', 'ghost-1')],
  ] as const) {
    const res = await cp.api(method, path);
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.body.error.code, 'WEFT_ERR_CATALOG_NOT_FOUND', `${method} ${path}`);
  }
  const list = await cp.api<{ items: Instance[] }>('GET', '/v1/catalog/instances?service=nobody');
  assert.deepEqual(list.body.items, [], 'a heartbeat does not create an instance');
});

test('a failing HTTP health check makes an instance critical and stops its traffic; recovery brings it back', async () => {
  const [checked, steady] = await Promise.all([echo('checked'), echo('steady')]);
  await register({ service: 'checked', id: 'checked', port: checked.port, ttlSeconds: 0, checks: [{ type: 'http', path: '/healthz', intervalSeconds: 1 }] });
  await register({ service: 'checked', id: 'steady', port: steady.port, ttlSeconds: 0 });
  await waitForHealth('checked', 'checked', 'passing');
  await waitForClientView('checked', { checked: 'passing', steady: 'passing' });
  await useAlgorithm(cp, 'checked', 'round-robin', [client]);
  const before = await send('checked', 20);
  assert.ok(before.checked > 0 && before.steady > 0, `both instances got traffic: ${JSON.stringify(before)}`);

  const flippedAt = Date.now();
  checked.setHealthy(false);
  const critical = await waitForHealth('checked', 'checked', 'critical');
  assert.ok(critical.healthReason.length > 0, 'a critical instance says why');
  // Within a couple of 1s intervals; the margin is for a loaded machine, not a speed target.
  assert.ok(critical.healthSince - flippedAt < 10_000, `critical ${critical.healthSince - flippedAt}ms after the app turned unhealthy`);
  assert.notEqual(critical.healthReason, 'passing');
  await waitForClientView('checked', { checked: 'critical', steady: 'passing' });
  const checkedHits = checked.hits();
  const during = await send('checked', 20);
  assert.equal(during.checked, undefined, `no request reached the failing instance: ${JSON.stringify(during)}`);
  assert.equal(checked.hits(), checkedHits);
  assert.equal(during.steady, 20);

  checked.setHealthy(true);
  const passing = await waitForHealth('checked', 'checked', 'passing');
  assert.ok(passing.healthSince >= critical.healthSince);
  await waitForClientView('checked', { checked: 'passing', steady: 'passing' });
  const recovered = await send('checked', 20);
  assert.ok(recovered.checked > 0, `traffic returns once the check passes: ${JSON.stringify(recovered)}`);
});

test('a TCP check against a closed port is critical; against an open port it passes', async () => {
  // `closed` has a live app but its check targets a closed port; `open` checks its own app's port.
  const [open, app] = await Promise.all([echo('tcp-open'), echo('tcp-closed')]);
  const closedPort = await freePort();
  await register({ service: 'tcp', id: 'closed', port: app.port, ttlSeconds: 0, checks: [{ type: 'tcp', port: closedPort, intervalSeconds: 1 }] });
  await register({ service: 'tcp', id: 'open', port: open.port, ttlSeconds: 0, checks: [{ type: 'tcp', intervalSeconds: 1 }] });
  const critical = await waitForHealth('tcp', 'closed', 'critical');
  assert.ok(critical.healthReason.length > 0);
  await waitForClientView('tcp', { closed: 'critical', open: 'passing' });
  // A few more check intervals: the open one keeps passing and the closed one stays critical.
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal((await instance('tcp', 'closed'))?.health, 'critical');
  const open2 = await instance('tcp', 'open');
  assert.equal(open2?.health, 'passing');
  const served = await send('tcp', 6);
  assert.deepEqual(served, { 'tcp-open': 6 }, 'only the instance whose check passes gets traffic');
  assert.equal(app.hits(), 0);
});

test('an invalid registration is refused with 400 WEFT_ERR_CATALOG_INVALID_REGISTRATION and its field paths', async () => {
  const cases: { body: unknown; paths: string[] }[] = [
    { body: { id: 'bad-1', address: '127.0.0.1', ports: [{ port: 80, targetPort: 'abc' }] }, paths: ['ports[0].targetPort', 'service'] },
    { body: { service: 'Bad_Service', id: 'bad-2', address: '127.0.0.1', port: 8080 }, paths: ['service'] },
    { body: { service: 'badreg', id: 'bad-3', address: '127.0.0.1' }, paths: ['port'] },
    { body: { service: 'badreg', id: 'bad-4', address: '127.0.0.1', port: 70000, ttlSeconds: -1 }, paths: ['port', 'ttlSeconds'] },
    { body: { service: 'badreg', id: 'bad-5', address: '127.0.0.1', port: 8080, colour: 'red' }, paths: ['colour'] },
    { body: { service: 'badreg', id: 'bad-6', address: '127.0.0.1', port: 8080, checks: [{ type: 'udp' }, { type: 'http', path: 'healthz', intervalSeconds: 0 }] }, paths: ['checks[0].type', 'checks[1].intervalSeconds', 'checks[1].path'] },
    { body: { service: 'badreg', address: '127.0.0.1', port: 8080 }, paths: ['id'] },
  ];
  for (const { body, paths } of cases) {
    const res = await cp.api('POST', '/v1/catalog/instances', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, 'WEFT_ERR_CATALOG_INVALID_REGISTRATION', JSON.stringify(body));
    const got = (res.body.error.details as { path: string }[]).map((d) => d.path).sort();
    assert.deepEqual(got, paths, JSON.stringify(body));
  }
  const list = await cp.api<{ items: Instance[] }>('GET', '/v1/catalog/instances');
  assert.deepEqual(list.body.items.filter((i) => i.id.startsWith('bad-') || i.service === 'badreg'), [], 'nothing was registered');

  const notJson = await fetch(`${cp.url}/v1/catalog/instances`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${cp.adminToken}` }, body: '{"service":' });
  assert.equal(notJson.status, 400);
  assert.equal(((await notJson.json()) as { error: { code: string } }).error.code, 'WEFT_ERR_API_BAD_JSON');
});

test('the sidecar admin listener only reads: POST, PUT and DELETE get 405', async () => {
  const sc = await startSidecar(cp.url, 'admin-methods');
  try {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      for (const path of ['/config', '/ready', '/metrics']) {
        const res = await fetch(`http://127.0.0.1:${sc.adminPort}${path}`, { method });
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.equal(res.headers.get('allow'), 'GET, HEAD');
      }
    }
    assert.equal((await fetch(`http://127.0.0.1:${sc.adminPort}/ready`)).status, 200);
  } finally {
    await sc.process.stop();
  }
});

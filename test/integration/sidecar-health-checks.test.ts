// Bar (issue 13 item 6): each instance's sidecar checks its own app and reports up its stream. An
// app whose health endpoint starts failing stops getting traffic from a client sidecar within
// interval × unhealthyThreshold (plus the push), and gets it back when healthy again; a gRPC app
// answering NOT_SERVING to grpc.health.v1.Health/Check is marked critical; the control plane never
// probes these apps itself (the apps count who asks, and the catalog says who checked).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { adminMetrics, startControlPlane, startSidecar, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { getViaProxy } from '../support/upstreams.ts';
import { freePort, nodeBin, spawnWeft, stopAll, waitFor } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';
import { useAlgorithm } from '../support/policies.ts';

const INTERVAL_MS = 500;
const UNHEALTHY_THRESHOLD = 2;
const HEALTH_FLAGS = ['--health-path', '/healthz', '--health-interval-ms', String(INTERVAL_MS), '--health-timeout-ms', '400', '--health-unhealthy-threshold', String(UNHEALTHY_THRESHOLD), '--health-healthy-threshold', '2', '--health-jitter-percent', '10'];

let cp: ControlPlaneProcess;
let client: SidecarProcess;
const closers: (() => Promise<unknown> | void)[] = [];

interface CheckedApp {
  port: number;
  hits(): number;
  setHealthy(h: boolean): void;
  /** User-Agents of the requests to /healthz, and how many of each. */
  checkers(): Record<string, number>;
}

/** An app with a /healthz that can be told to fail (503), counting who asks it and the other requests it serves. */
async function startApp(name: string): Promise<CheckedApp> {
  let healthy = true;
  let hits = 0;
  const checkers: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      const ua = req.headers['user-agent'] ?? '(none)';
      checkers[ua] = (checkers[ua] ?? 0) + 1;
      res.writeHead(healthy ? 200 : 503).end(healthy ? 'ok' : 'sick');
      return;
    }
    hits++;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { port: (server.address() as AddressInfo).port, hits: () => hits, setHealthy: (h) => (healthy = h), checkers: () => ({ ...checkers }) };
}

before(async () => {
  cp = await startControlPlane();
  client = await startSidecar(cp.url, 'client');
});

after(async () => {
  await stopAll();
  for (const close of closers) await close();
  await cp?.cleanup();
});

interface Instance {
  id: string;
  health: string;
  healthReason: string;
  healthSince: number;
  checks: { type: string; checkedBy: string; intervalMs: number; port?: number }[];
  checkResults: { status: string; output: string; checkedBy: string }[];
}

async function instance(service: string, id: string): Promise<Instance | undefined> {
  const res = await cp.api<Instance>('GET', `/v1/catalog/instances/default/${service}/${id}`);
  return res.status === 200 ? res.body : undefined;
}

function waitForHealth(service: string, id: string, health: string, timeoutMs = 20_000): Promise<Instance> {
  return waitFor(`${service}/${id} ${health}`, async () => {
    const inst = await instance(service, id);
    return inst?.health === health ? inst : undefined;
  }, timeoutMs, 50);
}

/** The client sidecar's view of a service's endpoints (admin /config), id → health. */
async function clientView(service: string): Promise<Record<string, string>> {
  const res = await fetch(`http://127.0.0.1:${client.adminPort}/config`);
  const config = (await res.json()) as { snapshot?: { services: { name: string; ports: { endpoints: { id: string; health: string }[] }[] }[] } };
  const svc = config.snapshot?.services.find((s) => s.name === service);
  return Object.fromEntries((svc?.ports.flatMap((p) => p.endpoints) ?? []).map((e) => [e.id, e.health]));
}

function waitForClientView(service: string, want: Record<string, string>, timeoutMs = 20_000): Promise<unknown> {
  return waitFor(`client sees ${service} as ${JSON.stringify(want)}`, async () => JSON.stringify(Object.entries(await clientView(service)).sort()) === JSON.stringify(Object.entries(want).sort()), timeoutMs, 50);
}

async function send(service: string, n: number): Promise<Record<string, number>> {
  const servedBy: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await getViaProxy(client.outboundPort, `http://${service}/req/${i}`);
    assert.equal(res.status, 200, `request ${i}: ${res.status} ${res.body}`);
    const name = (JSON.parse(res.body) as { name: string }).name;
    servedBy[name] = (servedBy[name] ?? 0) + 1;
  }
  return servedBy;
}

test('an app whose health endpoint fails stops getting traffic within interval × unhealthyThreshold, and gets it back', async (t) => {
  const [flaky, steady] = await Promise.all([startApp('flaky'), startApp('steady')]);
  const [flakySidecar, steadySidecar] = await Promise.all([
    startSidecar(cp.url, 'web', ['--id', 'web-flaky', '--app-port', String(flaky.port), ...HEALTH_FLAGS]),
    startSidecar(cp.url, 'web', ['--id', 'web-steady', '--app-port', String(steady.port), ...HEALTH_FLAGS]),
  ]);
  await waitForClientView('web', { 'web-flaky': 'passing', 'web-steady': 'passing' });
  // Round robin, so that "gets traffic" means every passing instance gets its turn (the default,
  // peak-ewma, may keep sequential requests on the instance that answered fastest lately).
  await useAlgorithm(cp, 'web', 'round-robin', [client]);
  const registered = (await instance('web', 'web-flaky'))!;
  assert.deepEqual(registered.checks.map((c) => [c.type, c.checkedBy, c.intervalMs]), [['http', 'sidecar', INTERVAL_MS]]);
  await waitFor('the sidecar reported its first result', async () => (await instance('web', 'web-flaky'))?.checkResults[0]?.output === 'passing', 10_000);
  const before = await send('web', 20);
  assert.ok(before.flaky > 0 && before.steady > 0, `both instances got traffic: ${JSON.stringify(before)}`);

  const flippedAt = Date.now();
  flaky.setHealthy(false);
  await waitForClientView('web', { 'web-flaky': 'critical', 'web-steady': 'passing' });
  const seenAt = Date.now();
  const critical = (await instance('web', 'web-flaky'))!;
  t.diagnostic(`app failed → catalog critical ${critical.healthSince - flippedAt}ms → client sidecar's snapshot ${seenAt - flippedAt}ms`);
  // interval × threshold (+ jitter and one probe's time) + the debounced push; the rest is margin for a loaded machine.
  const bound = INTERVAL_MS * 1.1 * UNHEALTHY_THRESHOLD + 400 + 1_000;
  assert.ok(seenAt - flippedAt < bound + 6_000, `the client saw it critical ${seenAt - flippedAt}ms after the app failed (bound ${bound}ms + margin)`);
  assert.equal(critical.health, 'critical');
  assert.equal(critical.healthReason, 'http check /healthz answered 503');
  assert.deepEqual(critical.checkResults.map((r) => [r.checkedBy, r.status]), [['sidecar', 'critical']]);
  const flakyHits = flaky.hits();
  const during = await send('web', 20);
  assert.equal(during.flaky, undefined, `no request reached the failing app: ${JSON.stringify(during)}`);
  assert.equal(flaky.hits(), flakyHits);
  assert.equal(during.steady, 20);

  const metrics = await adminMetrics(flakySidecar.adminPort);
  assert.match(metrics, /weft_proxy_health_checks_total\{result="failure"\} [1-9]/);
  assert.match(metrics, /weft_proxy_health_checks_total\{result="success"\} [1-9]/);
  assert.match(metrics, /weft_proxy_app_health_state\{state="critical"\} 1/);
  assert.match(metrics, /weft_proxy_app_health_state\{state="passing"\} 0/);
  const config = (await (await fetch(`http://127.0.0.1:${flakySidecar.adminPort}/config`)).json()) as { appHealth: { status: string; checks: { status: string; output: string }[] } };
  assert.deepEqual(config.appHealth.checks, [{ status: 'critical', output: 'http check /healthz answered 503' }]);
  assert.equal(config.appHealth.status, 'critical');

  flaky.setHealthy(true);
  await waitForHealth('web', 'web-flaky', 'passing');
  await waitForClientView('web', { 'web-flaky': 'passing', 'web-steady': 'passing' });
  const recovered = await send('web', 20);
  assert.ok(recovered.flaky > 0, `traffic returns once the checks pass again: ${JSON.stringify(recovered)}`);

  // Only the sidecars asked the apps; the control plane's own checker (User-Agent weft-health-check) never did.
  for (const app of [flaky, steady]) {
    const who = app.checkers();
    assert.deepEqual(Object.keys(who), ['weft-sidecar-health-check'], `who checked the app: ${JSON.stringify(who)}`);
    assert.ok(who['weft-sidecar-health-check'] >= 4, `the sidecar probes every interval: ${JSON.stringify(who)}`);
  }
  await Promise.all([flakySidecar.process.stop(), steadySidecar.process.stop()]);
});

test('a gRPC app answering NOT_SERVING to grpc.health.v1.Health/Check is marked critical, and SERVING again passing', async () => {
  const health = new HealthImplementation({ '': 'SERVING', 'shop.Cart': 'SERVING' });
  const server = new grpc.Server();
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  closers.push(() => server.forceShutdown());
  const sidecar = await startSidecar(cp.url, 'cart', ['--id', 'cart-1', '--app-port', String(port), '--health-check', 'grpc', '--health-grpc-service', 'shop.Cart', '--health-interval-ms', String(INTERVAL_MS), '--health-timeout-ms', '400']);
  await waitFor('the gRPC check reported passing', async () => (await instance('cart', 'cart-1'))?.checkResults?.[0]?.output === 'passing', 15_000);

  health.setStatus('shop.Cart', 'NOT_SERVING');
  const critical = await waitForHealth('cart', 'cart-1', 'critical');
  assert.equal(critical.healthReason, 'grpc check of shop.Cart answered NOT_SERVING');
  assert.deepEqual(critical.checks.map((c) => [c.type, c.checkedBy]), [['grpc', 'sidecar']]);
  assert.deepEqual(critical.checkResults.map((r) => [r.checkedBy, r.status]), [['sidecar', 'critical']]);
  await waitForClientView('cart', { 'cart-1': 'critical' });

  health.setStatus('shop.Cart', 'SERVING');
  await waitForHealth('cart', 'cart-1', 'passing');
  await waitForClientView('cart', { 'cart-1': 'passing' });
  await sidecar.process.stop();
});

test('a bad health flag is refused before the sidecar starts, naming the field', async () => {
  const res = await runWeft(['proxy', '--control', cp.url, '--service', 'x', '--app-port', '1', '--health-check', 'grpc', '--health-path', '/h', '--health-interval-ms', '5']);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /WEFT_ERR_PROXY_BAD_HEALTH_CHECK/);
  assert.match(res.stderr, /healthCheck\.path/);
  assert.match(res.stderr, /healthCheck\.intervalMs/);
});

test('the catalog keeps a sidecar\'s word across a control-plane restart, learns what changed while it was away, and falls back to the TTL when the sidecar dies', { timeout: 120_000 }, async () => {
  const app = await startApp('keeper');
  const sidecar = await startSidecar(cp.url, 'keep', ['--id', 'keep-1', '--app-port', String(app.port), '--ttl-seconds', '3', ...HEALTH_FLAGS]);
  await waitFor('the first report', async () => (await instance('keep', 'keep-1'))?.checkResults?.[0]?.output === 'passing', 15_000);
  app.setHealthy(false);
  await waitForHealth('keep', 'keep-1', 'critical');

  // Away and back while the app is still failing: the instance never shows as passing meanwhile.
  await cp.stop();
  await cp.restart();
  const seen = new Set<string>();
  const until = Date.now() + 3_000;
  while (Date.now() < until) {
    const inst = await instance('keep', 'keep-1');
    if (inst) seen.add(inst.health);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual([...seen], ['critical'], 'stays critical through the restart');
  await waitFor('the sidecar to reconnect', async () => (await cp.api('GET', '/v1/proxies')).body.items.some((p: { id: string; connected: boolean }) => p.id === 'keep-1' && p.connected), 20_000);

  // The app recovers while the control plane is away: the report made then is lost, the one sent on reconnect is not.
  await cp.stop();
  app.setHealthy(true);
  await waitFor('the sidecar to see the app healthy', async () => /weft_proxy_app_health_state\{state="passing"\} 1/.test(await adminMetrics(sidecar.adminPort)), 15_000);
  await cp.restart();
  const passing = await waitForHealth('keep', 'keep-1', 'passing', 30_000);
  assert.deepEqual(passing.checkResults.map((r) => [r.checkedBy, r.status]), [['sidecar', 'passing']]);

  // No sidecar, no stream and no heartbeats: the TTL takes over, as for any instance.
  await sidecar.process.stop('SIGKILL');
  const dead = await waitForHealth('keep', 'keep-1', 'critical', 20_000);
  assert.match(dead.healthReason, /ttl expired/);
});

test('weft run --port with --health-check tcp: the sidecar checks the app it started on that port', async () => {
  const port = await freePort();
  const APP = "import http from 'node:http'; http.createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');";
  const run = spawnWeft(['run', '--control', cp.url, '--service', 'runner', '--id', 'runner-1', '--port', String(port), '--health-check', 'tcp', '--health-interval-ms', String(INTERVAL_MS), '--drain-ms', '100', '--', nodeBin, '--input-type=module', '-e', APP], { WEFT_JOIN_TOKEN: await cp.joinToken('runner') });
  const inst = await waitFor('runner-1 reported passing', async () => {
    const i = await instance('runner', 'runner-1');
    return i?.checkResults?.[0]?.output === 'passing' ? i : undefined;
  }, 30_000);
  assert.deepEqual(inst.checks.map((c) => [c.type, c.checkedBy, c.port]), [['tcp', 'sidecar', port]]);
  await run.stop('SIGTERM');
});

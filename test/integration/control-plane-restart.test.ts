// Bar: killing the control plane leaves traffic flowing on the last config; restarting it reconnects
// every proxy, and `weft status` shows them in sync. Instances survive the restart (persisted, then
// heartbeating again), and a proxy started while the control plane is down waits, then gets ready.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, getViaProxy, steadyTraffic, type EchoServer } from '../support/upstreams.ts';
import { spawnWeft, stopAll, waitFor, weftBin } from '../support/processes.ts';
import { useAlgorithm } from '../support/policies.ts';

const TTL_SECONDS = 5;

let cp: ControlPlaneProcess;
let a: EchoServer;
let b: EchoServer;
let sidecarA: SidecarProcess;
let sidecarB: SidecarProcess;
let client: SidecarProcess;

interface InstanceRow {
  id: string;
  health: string;
  registeredAt: number;
  lastHeartbeat: number;
}

before(async () => {
  cp = await startControlPlane();
  [a, b] = await Promise.all([startEcho('a'), startEcho('b')]);
  [sidecarA, sidecarB, client] = await Promise.all([
    startSidecar(cp.url, 'echo', ['--app-port', String(a.port), '--ttl-seconds', String(TTL_SECONDS)]),
    startSidecar(cp.url, 'echo', ['--app-port', String(b.port), '--ttl-seconds', String(TTL_SECONDS)]),
    startSidecar(cp.url, 'client'),
  ]);
  await waitForPassing(cp, 'echo', 2);
  // Round robin: the checks that both instances serve must not depend on their latencies.
  await useAlgorithm(cp, 'echo', 'round-robin', [client]);
  await waitForInSync(cp, 3);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all([a?.close(), b?.close()]);
  await cp?.cleanup();
});

function weftCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(weftBin, args, { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function instances(): Promise<InstanceRow[]> {
  const { status, body } = await cp.api('GET', '/v1/catalog/instances?service=echo');
  assert.equal(status, 200);
  return body.items;
}


let registeredBefore: Map<string, number>;

test('killing the control plane leaves traffic flowing on the last config, past the TTL', { timeout: 90_000 }, async () => {
  registeredBefore = new Map((await instances()).map((i) => [i.id, i.registeredAt]));
  assert.deepEqual([...registeredBefore.keys()].sort(), [sidecarA.id, sidecarB.id].sort());

  const traffic = steadyTraffic(client.outboundPort, 'http://echo/steady', { workers: 4, pauseMs: 10 });
  await new Promise((r) => setTimeout(r, 700));
  const killedAt = Date.now();
  assert.equal(await cp.stop('SIGKILL'), 137);
  traffic.resetServedBy();

  // The proxies notice the control plane is gone, and keep serving.
  await waitFor('client sidecar to see the control plane gone', async () => {
    const res = await fetch(`http://127.0.0.1:${client.adminPort}/config`);
    return ((await res.json()) as { controlPlane: { connected: boolean } }).controlPlane.connected === false;
  });
  const ready = await fetch(`http://127.0.0.1:${client.adminPort}/ready`);
  assert.equal(ready.status, 200, 'a proxy with a snapshot stays ready without its control plane');
  await ready.body?.cancel();

  // Longer than the instances' TTL: nobody is there to expire them, so the last config holds.
  const remaining = TTL_SECONDS * 1000 + 2_500 - (Date.now() - killedAt);
  await new Promise((r) => setTimeout(r, Math.max(remaining, 0)));
  await traffic.stop();

  const total = Object.values(traffic.statuses).reduce((x, y) => x + y, 0);
  assert.ok(total > 100, `steady traffic ran (${total} requests)`);
  assert.deepEqual(Object.keys(traffic.statuses), ['200'], `every request succeeded: ${JSON.stringify(traffic.statuses)}`);
  const served = traffic.servedBy();
  assert.ok((served.a ?? 0) > 10 && (served.b ?? 0) > 10, `both instances kept serving while the control plane was down: ${JSON.stringify(served)}`);
});

test('restarting the control plane reconnects every proxy and `weft status` shows them in sync', { timeout: 90_000 }, async () => {
  const restartedAt = Date.now();
  await cp.restart();
  await waitForInSync(cp, 3, 30_000);

  const status = await weftCli(['status', '-o', 'json'], { WEFT_CONTROL: cp.url, WEFT_TOKEN: cp.adminToken });
  assert.equal(status.code, 0, status.stderr);
  const rows = (JSON.parse(status.stdout) as { items: { id: string; connected: boolean; inSync: boolean; ackedVersion?: string; currentVersion?: string }[] }).items;
  assert.deepEqual(rows.map((r) => r.id).sort(), [sidecarA.id, sidecarB.id, client.id].sort());
  for (const r of rows) {
    assert.equal(r.connected, true, `${r.id} connected`);
    assert.equal(r.inSync, true, `${r.id} in sync`);
    assert.ok(r.ackedVersion !== undefined && r.ackedVersion === r.currentVersion, `${r.id} acknowledged the current version`);
  }

  // The instances were persisted (same registration, not a new one) and heartbeat the new process.
  await waitFor('both instances to heartbeat the restarted control plane', async () => {
    const items = await instances();
    return items.length === 2 && items.every((i) => i.lastHeartbeat > restartedAt + 100);
  }, 20_000);
  const items = await instances();
  for (const i of items) {
    assert.equal(i.health, 'passing', `${i.id} passing`);
    assert.equal(i.registeredAt, registeredBefore.get(i.id), `${i.id} kept its registration across the restart`);
  }

  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const res = await getViaProxy(client.outboundPort, `http://echo/after-restart/${i}`);
    assert.equal(res.status, 200, res.body);
    seen.add(JSON.parse(res.body).name);
  }
  assert.deepEqual([...seen].sort(), ['a', 'b']);
});

test('instances stay passing after the restart for longer than their TTL', { timeout: 90_000 }, async () => {
  await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 + 1_500));
  const items = await instances();
  assert.equal(items.length, 2);
  for (const i of items) assert.equal(i.health, 'passing', `${i.id} still passing (heartbeats reach the new process)`);
});

test('a proxy started while the control plane is down waits, then becomes ready when it comes up', { timeout: 90_000 }, async () => {
  const joinToken = await cp.joinToken('late');
  assert.equal(await cp.stop('SIGKILL'), 137);
  const late = spawnWeft(['proxy', '--control', cp.url, '--service', 'late', '--outbound-port', '0', '--admin-port', '0', '--drain-ms', '300', '--join-token', joinToken]);
  const m = await late.waitForOutput(/(\{"event":"ready-to-serve".*\})/);
  const info = JSON.parse(m[1]) as { id: string; outboundPort: number; adminPort: number };

  // Give it a few reconnect attempts: it must still say why it is not ready.
  await new Promise((r) => setTimeout(r, 1_500));
  const notReady = await fetch(`http://127.0.0.1:${info.adminPort}/ready`);
  assert.equal(notReady.status, 503);
  const why = (await notReady.json()) as { ready: boolean; why?: string };
  assert.equal(why.ready, false);
  assert.ok(typeof why.why === 'string' && why.why.length > 0, 'the not-ready answer gives a reason');

  const early = await getViaProxy(info.outboundPort, 'http://echo/too-early');
  assert.equal(early.status, 503);
  assert.equal(early.headers['x-weft-reason'], 'no-snapshot');

  await cp.restart();
  await waitFor('the late proxy to become ready', async () => (await fetch(`http://127.0.0.1:${info.adminPort}/ready`)).status === 200, 30_000);
  await waitForInSync(cp, 4, 30_000);

  const res = await getViaProxy(info.outboundPort, 'http://echo/late');
  assert.equal(res.status, 200, res.body);
  assert.equal(JSON.parse(res.body).source, 'late.default');
});

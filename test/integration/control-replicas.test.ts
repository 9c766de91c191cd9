// Bar (issue 16): two control-plane replicas on a three-member etcd serve sidecars that take both
// URLs (`--control A,B`, some preferring each). Under steady load through two client sidecars, the
// replica some proxies use is SIGKILLed, then one etcd member: no request fails, every proxy moves
// to the survivor and shows SYNCED there, a resource applied before the kills is still there, a new
// instance registers through the survivor, and a route applied on it reaches every proxy.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, startSidecar, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, steadyTraffic, getViaProxy, type EchoServer } from '../support/upstreams.ts';
import { stopAll, waitFor } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';
import { startEtcdCluster, type EtcdCluster } from '../support/etcd.ts';
import { generateKeyPairSync } from 'node:crypto';
import { createCsr } from '../../src/proxy/discovery/control-auth.ts';
import { CERTIFICATES_PATH } from '../../src/config/identity.ts';

// One bootstrap admin token for both replicas (tokens live in etcd; neither writes its own).
const TOKEN = 'replicas-integration-bootstrap-token';

let etcd: EtcdCluster;
let a: ControlPlaneProcess; // the leader, once the first test has found out
let b: ControlPlaneProcess;
const echoes: EchoServer[] = [];
let web1: SidecarProcess; // prefers A
let web2: SidecarProcess; // prefers B

const service = (name: string, version: string) => ({ apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { version }, ports: [{ port: 80 }] } });
const route = (name: string, spec: unknown) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'default' }, spec });

interface ProxyRow {
  id: string;
  connected: boolean;
  inSync: boolean;
  ackedVersion?: string;
  replica?: string;
}

async function proxiesOn(cp: ControlPlaneProcess): Promise<ProxyRow[]> {
  const { body } = await cp.api<{ items: ProxyRow[] }>('GET', '/v1/proxies');
  return body.items;
}

/** Waits until exactly these proxies are connected to `cp` itself, each acknowledging the current version. */
function waitSyncedOn(cp: ControlPlaneProcess, ids: readonly string[], timeoutMs = 60_000): Promise<unknown> {
  return waitFor(`${ids.length} proxies connected to ${cp.url} and in sync`, async () => {
    const connected = (await proxiesOn(cp)).filter((p) => p.connected && p.replica === cp.url);
    return connected.length === ids.length && ids.every((id) => connected.some((p) => p.id === id && p.inSync));
  }, timeoutMs, 250);
}

before(async () => {
  etcd = await startEtcdCluster(3, { timeoutMs: 60_000 });
  const store = `etcd://${etcd.addresses}`;
  // Started together: the generated CA root is created once, by whichever replica's transaction wins.
  [a, b] = await Promise.all([
    startControlPlane(['--store', store, '--token', TOKEN, '--leader-lease', '3']),
    startControlPlane(['--store', store, '--token', TOKEN, '--leader-lease', '3']),
  ]);
  echoes.push(...(await Promise.all([startEcho('v1'), startEcho('v2')])));
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all(echoes.map((e) => e.close()));
  await a?.cleanup();
  await b?.cleanup();
  await etcd?.stop();
});

test('both replicas sign under one CA root and exactly one leads', { timeout: 60_000 }, async () => {
  const [caA, caB] = await Promise.all([a.api('GET', '/v1/ca'), b.api('GET', '/v1/ca')]);
  assert.equal(caA.status, 200);
  assert.deepEqual(caA.body.roots, caB.body.roots, 'one root for both replicas');
  await waitFor('one leader', async () => {
    const [ha, hb] = await Promise.all([a.api('GET', '/v1/health'), b.api('GET', '/v1/health')]);
    const leaders = [ha.body.replication?.leader, hb.body.replication?.leader].filter(Boolean).length;
    return leaders === 1 && ha.body.replication.leaderUrl === hb.body.replication.leaderUrl;
  }, 30_000);
  // From here on `a` is the leader: the replica killed below is the harder one to lose (its
  // successor must take over TTLs without expiring anyone).
  if ((await b.api('GET', '/v1/health')).body.replication.leader) [a, b] = [b, a];
  assert.equal((await a.api('GET', '/v1/health')).body.replication.leaderUrl, a.url);
});

test('kill a replica, then an etcd member, under load: no failed request, every proxy SYNCED on the survivor, state kept', { timeout: 300_000 }, async (t) => {
  const AB = `${a.url},${b.url}`;
  const BA = `${b.url},${a.url}`;
  // Join tokens made on A work on B too: tokens live in etcd and each replica follows them.
  const join = async (svc: string) => ['--join-token', await a.joinToken(svc)];
  const [r1, r2] = await Promise.all([
    startSidecar(AB, 'reviews', [...(await join('reviews')), '--labels', 'version=v1', '--app-port', String(echoes[0].port), '--ttl-seconds', '5']),
    startSidecar(BA, 'reviews', [...(await join('reviews')), '--labels', 'version=v2', '--app-port', String(echoes[1].port), '--ttl-seconds', '5']),
  ]);
  [web1, web2] = await Promise.all([startSidecar(AB, 'web', await join('web')), startSidecar(BA, 'web', await join('web'))]);
  await waitForPassing(b, 'reviews', 2, 30_000);
  await waitForPassing(a, 'reviews', 2, 30_000);
  await waitSyncedOn(a, [r1.id, web1.id]);
  await waitSyncedOn(b, [r2.id, web2.id]);

  // Each replica lists every proxy: its own, and those the other one publishes.
  for (const cp of [a, b]) {
    await waitFor(`${cp.url} lists all four proxies`, async () => {
      const rows = (await proxiesOn(cp)).filter((p) => p.connected && p.inSync);
      return [r1.id, r2.id, web1.id, web2.id].every((id) => rows.some((p) => p.id === id && p.replica === ([r1.id, web1.id].includes(id) ? a.url : b.url)));
    }, 30_000);
  }

  // Proxy-id bindings are shared: r1's id (certified through A) cannot be certified to another
  // workload through B.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = await createCsr(privateKey, publicKey, 'web');
  const webToken = await b.joinToken('web');
  const stolen = await b.apiAs(`Bearer ${webToken}`, 'POST', CERTIFICATES_PATH, { namespace: 'default', service: 'web', proxyId: r1.id, csr });
  assert.equal(stolen.status, 409, JSON.stringify(stolen.body));
  assert.equal(stolen.body.error.code, 'WEFT_ERR_AUTH_PROXY_ID_TAKEN');

  // Applied before the kills, on the replica that dies.
  const applied = await a.api('POST', '/v1/apply', { items: [service('reviews-v2', 'v2')] });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));

  const loadStart = Date.now();
  const load1 = steadyTraffic(web1.outboundPort, 'http://reviews/', { workers: 2, pauseMs: 20 });
  const load2 = steadyTraffic(web2.outboundPort, 'http://reviews/', { workers: 2, pauseMs: 20 });
  try {
    await waitFor('load flowing through both clients', () => (load1.statuses['200'] ?? 0) > 20 && (load2.statuses['200'] ?? 0) > 20, 30_000);
    // Steady state for longer than a TTL (5 s): each reviews instance heartbeats through its own
    // replica, and the leader (one of them) must see the other replica's heartbeats too.
    await new Promise((r) => setTimeout(r, 8_000));
    // No flap either: neither instance's health changed since the load began (a leader that missed
    // the other replica's heartbeats would mark its instance critical for a moment every TTL).
    for (const cp of [a, b]) {
      const { body } = await cp.api('GET', '/v1/catalog/instances?service=reviews');
      assert.equal(body.items.length, 2);
      for (const i of body.items) assert.ok(i.health === 'passing' && Number(i.healthSince) < loadStart, `${cp.url}: ${JSON.stringify(i)}`);
    }
    // The replica r1 and web1 are connected to (the leader) goes away without a word.
    await a.stop('SIGKILL');
    await waitSyncedOn(b, [r1.id, r2.id, web1.id, web2.id], 90_000);
    // Then one etcd member (the first, which every client lists first).
    await etcd.members[0].kill();
    // Longer than a TTL (5 s) and a leader lease (3 s): heartbeats through B keep both reviews
    // instances passing, whoever leads now.
    const before = (load1.statuses['200'] ?? 0) + (load2.statuses['200'] ?? 0);
    await waitFor('load flowing after the kills', () => (load1.statuses['200'] ?? 0) + (load2.statuses['200'] ?? 0) > before + 200, 60_000);
    await new Promise((r) => setTimeout(r, 8_000));
    await waitForPassing(b, 'reviews', 2, 30_000);
  } finally {
    await Promise.all([load1.stop(), load2.stop()]);
  }
  t.diagnostic(`web1 ${JSON.stringify(load1.statuses)}, web2 ${JSON.stringify(load2.statuses)}`);
  const failed = (s: Record<string, number>) => Object.entries(s).filter(([k]) => k !== '200');
  assert.deepEqual(failed(load1.statuses), [], `web1: ${JSON.stringify(load1.statuses)}`);
  assert.deepEqual(failed(load2.statuses), [], `web2: ${JSON.stringify(load2.statuses)}`);
  assert.ok((load1.statuses['200'] ?? 0) > 100 && (load2.statuses['200'] ?? 0) > 100, `${JSON.stringify(load1.statuses)} ${JSON.stringify(load2.statuses)}`);

  // B leads now (A is gone).
  await waitFor('B leads', async () => (await b.api('GET', '/v1/health')).body.replication?.leader === true, 30_000);

  // `weft status` on the survivor: every proxy, SYNCED.
  await waitSyncedOn(b, [r1.id, r2.id, web1.id, web2.id]);
  const status = await runWeft(['status', '-o', 'json'], { control: b.url });
  assert.equal(status.code, 0, status.stderr);
  const rows = (JSON.parse(status.stdout) as { items: ProxyRow[] }).items.filter((p) => p.connected);
  assert.deepEqual(rows.map((p) => p.id).sort(), [r1.id, r2.id, web1.id, web2.id].sort());
  for (const p of rows) assert.equal(p.replica, b.url, `${p.id} is on the survivor`);
  const table = await runWeft(['status'], { control: b.url });
  for (const id of [r1.id, r2.id, web1.id, web2.id]) assert.match(table.stdout, new RegExp(`${id}\\s+\\S+\\s+SYNCED`));

  // The resource applied on A before it died is still there.
  const kept = await b.api('GET', '/v1/resources/services/default/reviews-v2');
  assert.equal(kept.status, 200, JSON.stringify(kept.body));

  // A new instance registers (it lists the dead replica first, and moves on).
  echoes.push(await startEcho('v3'));
  const r3 = await startSidecar(AB, 'reviews', [...['--join-token', await b.joinToken('reviews')], '--labels', 'version=v3', '--app-port', String(echoes[2].port), '--ttl-seconds', '5']);
  await waitForPassing(b, 'reviews', 3, 60_000);

  // A route applied on the survivor reaches every proxy: all of reviews goes to v2.
  const routed = await b.api('POST', '/v1/apply', { items: [route('all-to-v2', { parentRefs: [{ name: 'reviews' }], rules: [{ backendRefs: [{ name: 'reviews-v2', port: 80 }] }] })] });
  assert.equal(routed.status, 200, JSON.stringify(routed.body));
  await waitSyncedOn(b, [r1.id, r2.id, r3.id, web1.id, web2.id]);
  for (const web of [web1, web2]) {
    for (let i = 0; i < 10; i++) {
      const res = await getViaProxy(web.outboundPort, `http://reviews/x${i}`);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).name, 'v2');
    }
  }
});

test('a replica that never led exits on SIGTERM like the leader does', { timeout: 90_000 }, async () => {
  const c = await startControlPlane(['--store', `etcd://${etcd.addresses}`, '--token', TOKEN, '--leader-lease', '3']);
  try {
    const health = (await c.api<{ replication?: { leader: boolean } }>('GET', '/v1/health')).body;
    assert.equal(health.replication?.leader, false, 'the survivor of the previous test still leads');
    c.process.child.kill('SIGTERM');
    // etcd3's campaign keeps a watch open in a replica that never led; the process must not wait on it.
    const code = await Promise.race([c.process.exited(), new Promise<string>((r) => setTimeout(() => r('still running after 8 s'), 8_000))]);
    assert.equal(code, 0, `weft control (not the leader) after SIGTERM: ${code}; output:\n${c.process.output().slice(-1500)}`);
  } finally {
    await c.cleanup();
  }
});

// Bar: a control plane on etcd (`weft control --store etcd://…`) is a whole control plane: sidecars
// register (their instances on etcd leases) and traffic flows; a route applied survives a restart
// of the control plane; a second control plane on the same etcd sees the first one's writes and
// pushes them to its own proxies; a bad --store is a usage error, and an etcd that is not there yet
// is waited for with progress shown, then given up on with an error naming it. Real etcd.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, getViaProxy, type EchoServer } from '../support/upstreams.ts';
import { freePort, spawnWeft, stopAll, tempDir, waitFor } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';
import { startEtcd, type EtcdServer } from '../support/etcd.ts';

// One bootstrap admin token for both control planes: the second one writes no token file of its
// own, since the store (shared) already holds an admin.
const TOKEN = 'etcd-integration-bootstrap-token';

let etcd: EtcdServer;
let raw: Etcd3;
let cp: ControlPlaneProcess;
let cp2: ControlPlaneProcess | undefined;
let v1: EchoServer;
let v2: EchoServer;
let client: SidecarProcess;

const route = (name: string, spec: unknown) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'default' }, spec });
const service = (name: string, version: string) => ({ apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { version }, ports: [{ port: 80 }] } });

before(async () => {
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: etcd.clientUrl });
  cp = await startControlPlane(['--store', `etcd://${etcd.address}`, '--token', TOKEN]);
  [v1, v2] = await Promise.all([startEcho('v1'), startEcho('v2')]);
  [, , client] = await Promise.all([
    startSidecar(cp.url, 'reviews', ['--labels', 'version=v1', '--app-port', String(v1.port), '--ttl-seconds', '5']),
    startSidecar(cp.url, 'reviews', ['--labels', 'version=v2', '--app-port', String(v2.port), '--ttl-seconds', '5']),
    startSidecar(cp.url, 'web'),
  ]);
  await waitForPassing(cp, 'reviews', 2);
  await waitForInSync(cp, 3);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close()]);
  await cp2?.cleanup();
  await cp?.cleanup();
  raw?.close();
  await etcd?.stop();
});

/** Who served `count` requests to reviews through the client sidecar, by name. */
async function servedBy(count: number): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const res = await getViaProxy(client.outboundPort, `http://reviews/r${i}`);
    const who = res.status === 200 ? String(res.headers['x-served-by']) : `status ${res.status}`;
    tally[who] = (tally[who] ?? 0) + 1;
  }
  return tally;
}

test('the control plane reports etcd as its store; sidecar instances are keys under /weft/instances on leases; traffic flows', async () => {
  const health = await cp.api('GET', '/v1/health');
  assert.equal(health.body.store, 'etcd');
  const kvs = (await raw.getAll().prefix('/weft/instances/default/reviews/').exec()).kvs;
  assert.equal(kvs.length, 2);
  for (const kv of kvs) assert.notEqual(kv.lease, '0', `${kv.key.toString()} is on a lease`);
  const tally = await servedBy(20);
  assert.equal((tally.v1 ?? 0) + (tally.v2 ?? 0), 20, JSON.stringify(tally));
});

test('a route applied on etcd survives a restart of the control plane and stays in force', { timeout: 120_000 }, async () => {
  const applied = await cp.api('POST', '/v1/apply', {
    items: [service('reviews-v2', 'v2'), route('all-to-v2', { parentRefs: [{ name: 'reviews' }], rules: [{ backendRefs: [{ name: 'reviews-v2', port: 80 }] }] })],
  });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  await waitForInSync(cp, 3);
  assert.deepEqual(await servedBy(20), { v2: 20 });
  const before = await cp.api('GET', '/v1/resources/HTTPRoute/default/all-to-v2');
  assert.equal(before.status, 200);
  const key = (await raw.get('/weft/resources/HTTPRoute/default/all-to-v2').exec()).kvs[0];
  assert.equal(before.body.metadata.resourceVersion, key.mod_revision, 'resourceVersion is the etcd mod revision');

  assert.equal(await cp.stop('SIGTERM'), 0);
  await cp.restart();
  const afterRestart = await cp.api('GET', '/v1/resources/HTTPRoute/default/all-to-v2');
  assert.equal(afterRestart.status, 200);
  assert.deepEqual(afterRestart.body, before.body);
  await waitForPassing(cp, 'reviews', 2, 30_000);
  await waitForInSync(cp, 3, 30_000);
  assert.deepEqual(await servedBy(20), { v2: 20 });
});

test('a second control plane on the same etcd sees the first one\'s writes and pushes them to its proxies', { timeout: 120_000 }, async () => {
  cp2 = await startControlPlane(['--store', `etcd://${etcd.address}`, '--token', TOKEN]);
  const onTwo = await cp2.api('GET', '/v1/resources/HTTPRoute/default/all-to-v2');
  assert.equal(onTwo.status, 200);
  const other = await startSidecar(cp2.url, 'web2');
  await waitForInSync(cp2, 1);

  // Written through the first, seen by the second (its API and its proxy's snapshot).
  const r = await cp.api('POST', '/v1/apply', { items: [service('reviews-v1', 'v1')] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const got = await waitFor('the second control plane to serve the new Service', async () => {
    const res = await cp2!.api('GET', '/v1/resources/Service/default/reviews-v1');
    return res.status === 200 ? res.body : undefined;
  });
  assert.equal(got.metadata.resourceVersion, r.body.items[0].resourceVersion, 'both control planes report the etcd revision');
  await waitFor('the second control plane\'s proxy to get the new Service', async () => {
    const config = await (await fetch(`http://127.0.0.1:${other.adminPort}/config`)).text();
    return config.includes('reviews-v1');
  });

  // Deleted through the second, gone from the first, and the first's proxies move back.
  const del = await cp2.api('DELETE', '/v1/resources/HTTPRoute/default/all-to-v2');
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.equal((await cp.api('GET', '/v1/resources/HTTPRoute/default/all-to-v2')).status, 404);
  await waitFor('traffic through the first control plane\'s proxy to reach v1 again', async () => {
    const tally = await servedBy(20);
    return (tally.v1 ?? 0) > 0 && (tally.v1 ?? 0) + (tally.v2 ?? 0) === 20;
  }, 30_000, 200);

  // A conflicting write through either is refused by the other's version.
  const cur = await cp.api('GET', '/v1/resources/Service/default/reviews-v1');
  const stale = { ...cur.body, metadata: { ...cur.body.metadata, resourceVersion: String(Number(cur.body.metadata.resourceVersion) - 1) }, spec: { ...cur.body.spec, ports: [{ port: 81 }] } };
  const refused = await cp2.api('POST', '/v1/apply', { items: [stale] });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  await other.process.stop();
});

test('a malformed --store is a usage error naming the flag', async () => {
  for (const bad of ['etcd://nohost', 'etcd://h:99999', 'postgres://h:5432', 'etcd://']) {
    const res = await runWeft(['control', '--store', bad, '--listen', '127.0.0.1:0', '--data-dir', '/nonexistent/never-created']);
    assert.equal(res.code, 2, `${bad}: ${res.stderr}`);
    assert.match(res.stderr, /--store/);
    assert.match(res.stderr, /WEFT_ERR_CLI_USAGE/);
  }
});

test('an etcd not there at start: waited for with progress naming it, then the control plane starts when it comes', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const dir = await tempDir('weft-cp-late-');
  const listen = await freePort();
  const proc = spawnWeft(['control', '--store', `etcd://127.0.0.1:${port}`, '--listen', `127.0.0.1:${listen}`, '--data-dir', dir.path, '--token', TOKEN]);
  try {
    await proc.waitForOutput(new RegExp(`etcd not reachable; retrying addresses=127\\.0\\.0\\.1:${port} attempt=2`), 30_000);
    const late = await startEtcd({ clientPort: port });
    try {
      await proc.waitForOutput(/listening on/, 60_000);
      const res = await fetch(`http://127.0.0.1:${listen}/v1/health`);
      assert.equal(((await res.json()) as { store: string }).store, 'etcd');
    } finally {
      await proc.stop();
      await late.stop();
    }
  } finally {
    await proc.stop('SIGKILL');
    await dir.remove();
  }
});

test('an etcd that never comes: the control plane gives up with an error naming it, after showing its retries', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const dir = await tempDir('weft-cp-noetcd-');
  try {
    const res = await runWeft(['control', '--store', `etcd://127.0.0.1:${port}`, '--store-connect-timeout', '3s', '--listen', '127.0.0.1:0', '--data-dir', dir.path, '--token', TOKEN], {
      env: { WEFT_LOG_LEVEL: 'info' },
      timeoutMs: 30_000,
    });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, new RegExp(`etcd not reachable; retrying addresses=127\\.0\\.0\\.1:${port}`));
    assert.match(res.stderr, new RegExp(`cannot reach etcd at 127\\.0\\.0\\.1:${port} after \\d+s and \\d+ attempts.*WEFT_ERR_STORE_UNREACHABLE`));
  } finally {
    await dir.remove();
  }
});

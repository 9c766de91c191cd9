import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import type { InstanceState } from '../../config/catalog-types.ts';
import type { ProxySnapshot } from '../../config/snapshot-types.ts';
import { createLineSplitter, STREAM_PATH } from '../../config/stream-protocol.ts';
import { applyDelta } from '../../config/apply-delta.ts';
import { SnapshotCache } from '../snapshot/cache.ts';
import { ProxyRegistry } from './proxy-registry.ts';
import { handleStream } from './stream-server.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '../ca/certificate-authority.ts';

const quiet = createLogger('test', () => {});
const clock = new ManualClock();
let instances: InstanceState[] = [];
const cache = new SnapshotCache({ clock, log: quiet, load: async () => ({ resources: [], instances }) });
const registry = new ProxyRegistry();
const healthReports: { node: string; checks: readonly unknown[] }[] = [];
const server = http.createServer((req, res) => handleStream(req, res, { cache, registry, clock, log: quiet, onHealth: (node, checks) => healthReports.push({ node: node.id, checks }) }));
let port = 0;

function instance(service: string, id: string, health: InstanceState['health'] = 'passing'): InstanceState {
  return { service, namespace: 'default', id, address: '127.0.0.1', ports: [{ port: 80, targetPort: 9000 }], labels: { app: service }, weight: 1, ttlSeconds: 0, deregisterAfterSeconds: 60, checks: [], health, healthReason: '', registeredAt: 0, lastHeartbeat: 0, healthSince: 0 };
}

const mesh = (changed: InstanceState['health'] = 'passing') => [
  ...Array.from({ length: 10 }, (_, i) => instance('big', `big-${i}`)),
  instance('small', 'small-1', changed),
];

/** A raw stream client: send messages, await the control plane's lines one by one (pings skipped). */
function openStream(id: string) {
  const lines: any[] = [];
  const waiters: (() => void)[] = [];
  const req = http.request({ host: '127.0.0.1', port, path: STREAM_PATH, method: 'POST', agent: false, headers: { 'content-type': 'application/x-ndjson' } });
  req.on('response', (res) => {
    res.on('data', createLineSplitter((line) => {
      const msg = JSON.parse(line);
      if (msg.type === 'ping') return;
      lines.push(msg);
      waiters.splice(0).forEach((w) => w());
    }));
  });
  req.on('error', () => {});
  const send = (msg: unknown) => req.write(JSON.stringify(msg) + '\n');
  send({ type: 'hello', node: { id, service: 'client', namespace: 'default', labels: {}, upstreams: [], weftVersion: 'test' } });
  return {
    send,
    async next(): Promise<any> {
      while (lines.length === 0) await new Promise<void>((r) => waiters.push(r));
      return lines.shift();
    },
    close: () => req.destroy(),
  };
}

const status = (id: string) => registry.list(clock.now()).find((p) => p.node.id === id)!;
const settle = () => new Promise((r) => setTimeout(r, 50));

before(async () => {
  instances = mesh();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  cache.stop();
  server.closeAllConnections();
  server.close();
});

test('a stream gets the full snapshot first, then a delta that applies to it', async () => {
  const s = openStream('p1');
  const first = await s.next();
  assert.equal(first.type, 'snapshot');
  s.send({ type: 'ack', version: first.snapshot.version });
  instances = mesh('critical');
  await cache.rebuildNow();
  const d = await s.next();
  assert.equal(d.type, 'delta');
  assert.equal(d.base, first.snapshot.version);
  assert.deepEqual(d.upsert.map((x: { name: string }) => x.name), ['small']);
  const applied = applyDelta(first.snapshot as ProxySnapshot, d);
  assert.ok(applied.ok);
  assert.equal(applied.value.services.find((x) => x.name === 'small')!.ports[0].endpoints[0].health, 'critical');
  assert.equal(status('p1').sentVersion, d.version);
  s.close();
});

test('a resync NACK gets the current full snapshot at once and is not shown as a refusal', async () => {
  const s = openStream('p2');
  const first = await s.next();
  instances = mesh(instances.at(-1)!.health === 'passing' ? 'warning' : 'passing');
  await cache.rebuildNow();
  const d = await s.next();
  assert.equal(d.type, 'delta');
  s.send({ type: 'nack', version: d.version, resync: true, errors: [{ path: 'delta.base', message: 'applies to version x, but this proxy holds version y' }] });
  const full = await s.next();
  assert.equal(full.type, 'snapshot');
  assert.equal(full.snapshot.version, d.version);
  assert.notEqual(full.snapshot.version, first.snapshot.version);
  await settle();
  assert.equal(status('p2').nackedVersion, undefined);
  s.close();
});

test('after a refusing NACK the next change is sent in full', async () => {
  const s = openStream('p3');
  await s.next();
  instances = mesh('critical');
  await cache.rebuildNow();
  const d = await s.next();
  assert.equal(d.type, 'delta');
  s.send({ type: 'nack', version: d.version, errors: [{ path: 'delta.upsert[0].policy', message: 'not for me' }] });
  await settle();
  assert.equal(status('p3').nackedVersion, d.version);
  instances = mesh('passing');
  await cache.rebuildNow();
  const next = await s.next();
  assert.equal(next.type, 'snapshot', 'no delta on top of a version the proxy refused');
  s.close();
});

test('with a CA, a stream is told its roots and issuer at hello and again when a rotation changes them', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-stream-trust-'));
  const ca = await CertificateAuthority.open({ dataDir, clock, leafTtlSeconds: 60, log: quiet });
  const withTrust = http.createServer((req, res) => handleStream(req, res, { cache, registry, clock, log: quiet, trust: ca }));
  await new Promise<void>((r) => withTrust.listen(0, '127.0.0.1', r));
  const saved = port;
  port = (withTrust.address() as AddressInfo).port;
  const s = openStream('trusting');
  port = saved;
  try {
    const first = await s.next();
    assert.equal(first.type, 'trust');
    assert.equal(first.trustBundle, ca.trustBundle());
    assert.equal(first.issuer.trim(), ca.trustBundle().trim(), 'the root issues leaves');
    assert.equal((await s.next()).type, 'snapshot');
    await ca.rotate();
    const rotated = await s.next();
    assert.equal(rotated.type, 'trust');
    assert.equal(rotated.trustBundle.match(/BEGIN CERTIFICATE/g).length, 2);
    assert.equal(rotated.trustBundle, ca.trustBundle());
  } finally {
    s.close();
    await ca.close();
    withTrust.closeAllConnections();
    withTrust.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a health report reaches the catalog hook as the node that sent it; a bad one is dropped and the stream lives on', async () => {
  const s = openStream('health-1');
  const first = await s.next();
  s.send({ type: 'health', checks: [{ status: 'critical', output: 'http check /healthz answered 503' }] });
  s.send({ type: 'health', checks: [{ status: 'sick' }] });
  s.send({ type: 'ack', version: first.snapshot.version });
  await settle();
  assert.deepEqual(healthReports.filter((r) => r.node === 'health-1'), [{ node: 'health-1', checks: [{ status: 'critical', output: 'http check /healthz answered 503' }] }]);
  assert.equal(status('health-1').ackedVersion, first.snapshot.version, 'the stream still works after the bad report');
  s.close();
});

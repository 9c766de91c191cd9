// Tests for the etcd store against a real etcd (test/support/etcd.ts starts one; a missing etcd
// binary fails these tests, it does not skip them): the shared Store suite, then what only etcd
// has: other control planes' writes arriving by watch, transactions racing, key prefixes, instance
// leases, and an unreachable etcd at open.

import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Etcd3 } from 'etcd3';
import type { Store, StoreEvent } from './store.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { ManualClock, systemClock, type Clock } from '../../lib/clock.ts';
import { openEtcdStore } from './etcd-store.ts';
import { EtcdKeys } from './etcd-keys.ts';
import { storeContract, code, instance, policy } from './store-contract.ts';
import { startEtcd, startEtcdCluster, type EtcdServer } from '../../../test/support/etcd.ts';

let etcd: EtcdServer;
let raw: Etcd3;
let prefix: string;
let seq = 0;
const opened: Store[] = [];
const quiet = createLogger('test', () => {});

before(async () => {
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: etcd.clientUrl });
});

after(async () => {
  raw?.close();
  await etcd?.stop();
});

beforeEach(() => {
  prefix = `/weft-test-${process.pid}-${++seq}`;
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  // Leftover keys would be deleted by their leases mid-way through a later test, moving the
  // revision under it.
  await raw.delete().prefix(`${prefix}/`).exec();
});

async function open(logger: Logger = quiet, p = prefix, clock: Clock = new ManualClock(Date.UTC(2024, 0, 1)), endpoints = [etcd.clientUrl]): Promise<Store> {
  const store = await openEtcdStore({ endpoints, prefix: p, clock, logger, connectTimeoutMs: 10_000 });
  opened.push(store);
  return store;
}

storeContract('etcd', {
  open: (logger) => open(logger),
  async corruptResource(kind, namespace, name, body) {
    const res = await raw.put(new EtcdKeys(prefix).resource(kind, namespace, name)).value(body).exec();
    return res.header.revision;
  },
  async corruptInstance(namespace, service, id, body) {
    await raw.put(new EtcdKeys(prefix).instance(namespace, service, id)).value(body).exec();
  },
});

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('etcd: a second store on the same etcd sees every write through its watch, once, with etcd versions', async () => {
  const a = await open();
  const b = await open();
  const seen: StoreEvent[] = [];
  b.watch((e) => seen.push(e));
  const put = (await a.applyResource(policy('r', { v: 1 }))).resource;
  await a.putInstance(instance('i-1'));
  const deleted = await a.deleteResource('BackendPolicy', 'default', 'r');
  await a.deleteInstance('shop', 'checkout', 'i-1');
  await until('four events on b', () => (seen.length >= 4 ? true : undefined));
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(seen, [
    { type: 'resource-put', resource: put },
    // Instance writes from another process are marked remote: the catalog follows only those.
    { type: 'instance-put', instance: instance('i-1'), remote: true },
    { type: 'resource-delete', resource: deleted },
    { type: 'instance-delete', namespace: 'shop', service: 'checkout', id: 'i-1', remote: true },
  ]);
  assert.deepEqual(await b.getResource('BackendPolicy', 'default', 'r'), undefined);
});

test('etcd: two stores applying at the same version: exactly one wins, the other gets a conflict', async () => {
  const a = await open();
  const b = await open();
  const base = (await a.applyResource(policy('r', { v: 0 }))).resource.metadata.resourceVersion!;
  for (let round = 0; round < 5; round++) {
    const current = (await a.getResource('BackendPolicy', 'default', 'r'))!.metadata.resourceVersion!;
    const results = await Promise.allSettled([
      a.applyResource(policy('r', { v: `a${round}` }), { expectedVersion: current }),
      b.applyResource(policy('r', { v: `b${round}` }), { expectedVersion: current }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1, `round ${round}: one winner`);
    assert.ok(code('WEFT_ERR_STORE_CONFLICT', 409)((lost[0] as PromiseRejectedResult).reason));
    const stored = await b.getResource('BackendPolicy', 'default', 'r');
    assert.deepEqual(stored, (won[0] as PromiseFulfilledResult<{ resource: unknown }>).value.resource);
  }
  assert.ok(Number((await a.getResource('BackendPolicy', 'default', 'r'))!.metadata.resourceVersion) > Number(base));
});

test('etcd: unconditional applies racing from two stores all land (a lost transaction is retried), generations count every spec change', async () => {
  const a = await open();
  const b = await open();
  await a.applyResource(policy('r', { n: -1 }));
  const writes = [];
  for (let i = 0; i < 10; i++) writes.push((i % 2 ? a : b).applyResource(policy('r', { n: i })));
  const results = await Promise.all(writes);
  const versions = new Set(results.map((r) => r.resource.metadata.resourceVersion));
  assert.equal(versions.size, 10, 'every write got its own version');
  const final = (await a.getResource('BackendPolicy', 'default', 'r'))!;
  assert.equal(final.metadata.generation, 11);
  const last = results.reduce((x, y) => (Number(x.resource.metadata.resourceVersion) > Number(y.resource.metadata.resourceVersion) ? x : y));
  assert.deepEqual(final, last.resource);
});

test('etcd: key prefixes keep two meshes on one etcd apart', async () => {
  const a = await open(quiet, `${prefix}/one`);
  const b = await open(quiet, `${prefix}/two`);
  const seen: StoreEvent[] = [];
  b.watch((e) => seen.push(e));
  await a.applyResource(policy('r', {}));
  await a.putInstance(instance('i-1'));
  await a.putToken({ id: 't', kind: 'admin', role: 'admin', secretSha256: 'ab'.repeat(32), createdAt: 1 });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await b.listResources(), []);
  assert.deepEqual(await b.listInstances(), []);
  assert.deepEqual(await b.listTokens(), []);
  assert.deepEqual(seen, []);
  const keys = (await raw.getAll().prefix(`${prefix}/one/`).keys()).sort();
  assert.deepEqual(keys, [
    `${prefix}/one/instances/shop/checkout/i-1`,
    `${prefix}/one/resources/BackendPolicy/default/r`,
    `${prefix}/one/tokens/t`,
  ]);
});

test('etcd: names are encoded into keys and cannot reach into other keys', async () => {
  const store = await open();
  await store.putInstance(instance('a/b%2F..', { service: 'x/y' }));
  assert.deepEqual(await store.listInstances(), [instance('a/b%2F..', { service: 'x/y' })]);
  await store.deleteInstance('shop', 'x/y', 'a/b%2F..');
  assert.deepEqual(await store.listInstances(), []);
});

test('etcd: an instance with a heartbeat TTL lives on a lease: refreshed it stays, silent it goes (2×ttl + deregisterAfter)', async () => {
  // Real time: etcd expires leases by its own clock.
  const a = await open(quiet, prefix, systemClock);
  const b = await open();
  const gone: string[] = [];
  b.watch((e) => {
    if (e.type === 'instance-delete') gone.push(e.id);
  });
  const live = instance('live', { ttlSeconds: 1, deregisterAfterSeconds: 1 });
  const silent = instance('silent', { ttlSeconds: 1, deregisterAfterSeconds: 1 });
  const forever = instance('no-ttl', { ttlSeconds: 0, deregisterAfterSeconds: 1 });
  await a.putInstance(live);
  await a.putInstance(silent);
  await a.putInstance(forever);
  const [kv] = (await raw.get(new EtcdKeys(prefix).instance('shop', 'checkout', 'live')).exec()).kvs;
  const ttl = await raw.leaseClient.leaseTimeToLive({ ID: kv.lease, keys: false });
  assert.equal(Number(ttl.grantedTTL), 3, 'lease TTL = 2×1 s + 1 s');
  assert.equal((await raw.get(new EtcdKeys(prefix).instance('shop', 'checkout', 'no-ttl')).exec()).kvs[0].lease, '0');

  // Heartbeats for 6 s (twice the lease TTL) for one of them.
  const started = Date.now();
  while (Date.now() - started < 6000) {
    await a.refreshInstance!(live);
    await new Promise((r) => setTimeout(r, 250));
  }
  await until('the silent instance to expire', () => (gone.includes('silent') ? true : undefined), 15_000);
  assert.deepEqual((await b.listInstances()).map((i) => i.id).sort(), ['live', 'no-ttl']);
  assert.deepEqual(gone, ['silent']);
});

test('etcd: a heartbeat for an instance whose lease is gone writes it back', async () => {
  const a = await open();
  const inst = instance('i-1', { ttlSeconds: 1, deregisterAfterSeconds: 1 });
  await a.putInstance(inst);
  const key = new EtcdKeys(prefix).instance('shop', 'checkout', 'i-1');
  const [kv] = (await raw.get(key).exec()).kvs;
  // As if etcd had been unreachable past the lease's end.
  await raw.leaseClient.leaseRevoke({ ID: kv.lease });
  await until('the key to go', async () => ((await raw.get(key).exec()).kvs.length === 0 ? true : undefined));
  await new Promise((r) => setTimeout(r, 1100)); // past the refresh pacing (once per ttl)
  await a.refreshInstance!(inst);
  const [back] = (await raw.get(key).exec()).kvs;
  assert.ok(back, 'written again');
  assert.notEqual(back.lease, kv.lease);
  assert.deepEqual(await a.listInstances(), [inst]);
});

test('etcd: an unreachable etcd at open is retried with warnings naming the address, then fails with WEFT_ERR_STORE_UNREACHABLE', async () => {
  // A port that refuses connections: bound, then closed.
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  const lines: string[] = [];
  const started = Date.now();
  await assert.rejects(
    openEtcdStore({ endpoints: [`http://127.0.0.1:${port}`], logger: createLogger('test', (l) => lines.push(l)), connectTimeoutMs: 2500, random: () => 0 }),
    (err: unknown) => code('WEFT_ERR_STORE_UNREACHABLE', 503)(err) && (err as Error).message.includes(`127.0.0.1:${port}`),
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 20_000, `gave up in bounded time, took ${elapsed} ms`);
  const warnings = lines.filter((l) => l.includes('WARN') && l.includes('etcd not reachable') && l.includes(`127.0.0.1:${port}`));
  assert.ok(warnings.length >= 1, lines.join('\n'));
});

/** Retries `fn` until it succeeds (etcd is coming back): returns its value. */
async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

test('etcd: after etcd restarts the store works again and its watch resumes where it was, missing nothing', { timeout: 120_000 }, async () => {
  const a = await open();
  const b = await open();
  const seen: string[] = [];
  b.watch((e) => {
    if (e.type === 'resource-put') seen.push(e.resource.metadata.name);
  });
  await a.applyResource(policy('before', {}));
  await until('b to see the first write', () => (seen.includes('before') ? true : undefined));

  await etcd.member.restart();
  // Written by another client as soon as etcd is back, before b's watch has reconnected: b must
  // still see it, because its watch resumes from the last revision it saw, not from "now".
  const other = new Etcd3({ hosts: etcd.clientUrl });
  try {
    const body = JSON.stringify(policy('meanwhile', {}));
    await eventually('a raw write', () => other.put(new EtcdKeys(prefix).resource('BackendPolicy', 'default', 'meanwhile')).value(body).exec());
  } finally {
    other.close();
  }
  await eventually('a write through a', () => a.applyResource(policy('after', {})));
  await until('b to see both writes made after the restart', () => (seen.includes('meanwhile') && seen.includes('after') ? true : undefined), 60_000);
  assert.deepEqual(seen, ['before', 'meanwhile', 'after']);
});

test('etcd: on a three-member cluster the store keeps writing and watching when a member is killed', { timeout: 180_000 }, async () => {
  const cluster = await startEtcdCluster(3);
  try {
    const a = await open(quiet, prefix, undefined, [...cluster.clientUrls]);
    const b = await open(quiet, prefix, undefined, [...cluster.clientUrls]);
    const seen: string[] = [];
    b.watch((e) => {
      if (e.type === 'resource-put') seen.push(e.resource.metadata.name);
    });
    await a.applyResource(policy('r0', {}));
    await until('b to see r0', () => (seen.includes('r0') ? true : undefined));

    for (const victim of cluster.members) {
      await victim.kill();
      // Calls that were on the dead member fail over to the others; then every write succeeds.
      await eventually(`a write with ${victim.name} down`, () => a.applyResource(policy(`first-without-${victim.name}`, {})));
      for (let i = 0; i < 10; i++) await a.applyResource(policy(`${victim.name}-${i}`, {}));
      await until(`b to see the writes with ${victim.name} down`, () => (seen.includes(`${victim.name}-9`) ? true : undefined), 60_000);
      await victim.restart();
    }
    const names = (await b.listResources()).map((r) => r.metadata.name);
    assert.equal(names.length, 1 + 3 * 11);
    assert.equal(new Set(seen).size, seen.length, 'each write seen once');
  } finally {
    await cluster.stop();
  }
});

test('etcd: lists larger than a page and than gRPC\'s 4 MiB message come back whole and sorted', { timeout: 120_000 }, async () => {
  const store = await open();
  const keys = new EtcdKeys(prefix);
  const big = 'x'.repeat(4096);
  const all = Array.from({ length: 1200 }, (_, i) => instance(`i-${String(i).padStart(4, '0')}`, { ttlSeconds: 0, labels: { big } }));
  for (let i = 0; i < all.length; i += 100) {
    await Promise.all(all.slice(i, i + 100).map((x) => raw.put(keys.instance(x.namespace, x.service, x.id)).value(JSON.stringify(x)).exec()));
  }
  const listed = await store.listInstances();
  assert.equal(listed.length, 1200);
  assert.deepEqual(listed.map((x) => x.id), all.map((x) => x.id));
  assert.deepEqual(listed[1199], all[1199]);
});

/** A TCP relay to etcd that can be cut (connections dropped, new ones refused) and restored. */
async function startGate(targetUrl: string): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const target = new URL(targetUrl);
  let open = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    if (!open) {
      down.destroy();
      return;
    }
    const up = net.connect(Number(target.port), target.hostname);
    sockets.add(down);
    sockets.add(up);
    const close = (): void => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    for (const s of [down, up]) s.on('error', close).on('close', close);
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      open = true;
    },
    close: () =>
      new Promise<void>((r) => {
        open = false;
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

test('etcd: a watch that cannot resume because etcd compacted the history it needed re-watches and announces a resync', { timeout: 120_000 }, async () => {
  const gate = await startGate(etcd.clientUrl);
  try {
    const a = await open();
    const b = await open(quiet, prefix, undefined, [gate.url]);
    const seen: StoreEvent[] = [];
    b.watch((e) => seen.push(e));
    await a.applyResource(policy('r1', {}));
    await until('b to see r1', () => (seen.length === 1 ? true : undefined));

    gate.cut();
    await a.applyResource(policy('r2', {}));
    await a.deleteResource('BackendPolicy', 'default', 'r1');
    const last = await raw.put(`${prefix}/unrelated`).value('x').exec();
    await raw.kv.compact({ revision: last.header.revision, physical: true });
    gate.restore();

    await until('b to announce a resync', () => (seen.some((e) => e.type === 'resync') ? true : undefined), 90_000);
    assert.deepEqual((await b.listResources()).map((r) => r.metadata.name), ['r2']);
    // And it watches again.
    const r3 = (await a.applyResource(policy('r3', {}))).resource;
    await until('b to see r3', () => (seen.some((e) => e.type === 'resource-put' && e.resource.metadata.name === 'r3') ? true : undefined));
    assert.deepEqual(seen.at(-1), { type: 'resource-put', resource: r3 });
  } finally {
    await gate.close();
  }
});

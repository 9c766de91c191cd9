// Tests for the embedded SQLite store against real database files in a temp dir: apply/delete
// semantics, revisions across restarts, events, instances and tolerance of corrupt rows.

import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Resource } from '../../config/resource.ts';
import type { InstanceState } from '../../config/catalog-types.ts';
import type { Store, StoreEvent } from './store.ts';
import { isWeftError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { ManualClock } from '../../lib/clock.ts';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store.ts';

let dir: string;
const opened: Store[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-store-'));
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

const quiet = createLogger('test', () => {});

async function open(dataDir = dir, log = quiet): Promise<Store> {
  const store = await openSqliteStore(dataDir, { clock: new ManualClock(Date.UTC(2024, 0, 1)), logger: log });
  opened.push(store);
  return store;
}

async function reopen(store: Store): Promise<Store> {
  await store.close();
  return open();
}

function policy(name: string, spec: unknown, meta: Partial<Resource['metadata']> = {}, namespace = 'default'): Resource {
  return { apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name, namespace, ...meta }, spec };
}

function code(expected: string, status?: number) {
  return (err: unknown) => isWeftError(err) && err.code === expected && (status === undefined || err.status === status);
}

function instance(id: string, extra: Partial<InstanceState> = {}): InstanceState {
  return {
    service: 'checkout',
    namespace: 'shop',
    id,
    address: '10.0.0.1',
    ports: [{ port: 80, targetPort: 8080 }],
    labels: { version: 'v1' },
    weight: 1,
    ttlSeconds: 10,
    deregisterAfterSeconds: 60,
    checks: [],
    health: 'passing',
    healthReason: 'registered',
    registeredAt: 1,
    lastHeartbeat: 1,
    healthSince: 1,
    ...extra,
  };
}

test('creates the data dir and weft.db', async () => {
  const nested = join(dir, 'a', 'b');
  await open(nested);
  const db = new DatabaseSync(join(nested, SQLITE_FILE_NAME));
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all().map((r) => r.name);
  db.close();
  assert.deepEqual(tables, ['instances', 'meta', 'resources', 'tokens']);
});

test('create sets version, timestamp and generation; update keeps timestamp and bumps generation on spec change', async () => {
  const store = await open();
  const created = await store.applyResource(policy('a', { lb: 'round-robin' }));
  assert.equal(created.created, true);
  assert.equal(created.unchanged, false);
  assert.equal(created.resource.metadata.resourceVersion, '1');
  assert.equal(created.resource.metadata.generation, 1);
  assert.equal(created.resource.metadata.creationTimestamp, '2024-01-01T00:00:00.000Z');
  assert.deepEqual(await store.getResource('BackendPolicy', 'default', 'a'), created.resource);

  const labelled = await store.applyResource(policy('a', { lb: 'round-robin' }, { labels: { team: 'x' } }));
  assert.equal(labelled.created, false);
  assert.equal(labelled.unchanged, false);
  assert.equal(labelled.resource.metadata.resourceVersion, '2');
  assert.equal(labelled.resource.metadata.generation, 1, 'labels alone do not bump generation');

  const updated = await store.applyResource(policy('a', { lb: 'least-request' }, { labels: { team: 'x' } }));
  assert.equal(updated.resource.metadata.resourceVersion, '3');
  assert.equal(updated.resource.metadata.generation, 2);
  assert.equal(updated.resource.metadata.creationTimestamp, '2024-01-01T00:00:00.000Z');
  assert.deepEqual(updated.resource.spec, { lb: 'least-request' });
});

test('an apply equal in spec, labels and annotations writes nothing and emits nothing', async () => {
  const store = await open();
  const first = await store.applyResource(policy('a', { lb: 'rr', n: [1, 2] }, { labels: { t: 'x' } }));
  const events: StoreEvent[] = [];
  store.watch((e) => events.push(e));
  const again = await store.applyResource(policy('a', { n: [1, 2], lb: 'rr' }, { labels: { t: 'x' } }));
  assert.equal(again.unchanged, true);
  assert.equal(again.created, false);
  assert.deepEqual(again.resource, first.resource);
  assert.deepEqual(events, []);
  // No revision was burnt either.
  const next = await store.applyResource(policy('b', {}));
  assert.equal(next.resource.metadata.resourceVersion, '2');
});

test('version conflicts: expectedVersion, metadata.resourceVersion, and a version for a missing object', async () => {
  const store = await open();
  await store.applyResource(policy('a', { v: 1 }));
  const v2 = await store.applyResource(policy('a', { v: 2 }));
  assert.equal(v2.resource.metadata.resourceVersion, '2');

  await assert.rejects(store.applyResource(policy('a', { v: 3 }), { expectedVersion: '1' }), code('WEFT_ERR_STORE_CONFLICT', 409));
  await assert.rejects(store.applyResource(policy('a', { v: 3 }, { resourceVersion: '1' })), code('WEFT_ERR_STORE_CONFLICT', 409));
  await assert.rejects(store.applyResource(policy('missing', {}, { resourceVersion: '2' })), code('WEFT_ERR_STORE_CONFLICT', 409));
  // Options win over metadata.
  await assert.rejects(store.applyResource(policy('a', { v: 3 }, { resourceVersion: '2' }), { expectedVersion: '1' }), code('WEFT_ERR_STORE_CONFLICT'));

  const ok = await store.applyResource(policy('a', { v: 3 }, { resourceVersion: '2' }));
  assert.equal(ok.resource.metadata.resourceVersion, '3');
  const ok2 = await store.applyResource(policy('a', { v: 4 }), { expectedVersion: '3' });
  assert.equal(ok2.resource.metadata.resourceVersion, '4');
});

test('a rejected conflicting write changes nothing: object, revision, events', async () => {
  const store = await open();
  const stored = (await store.applyResource(policy('a', { v: 1 }))).resource;
  const events: StoreEvent[] = [];
  store.watch((e) => events.push(e));
  await assert.rejects(store.applyResource(policy('a', { v: 2 }), { expectedVersion: '7' }), code('WEFT_ERR_STORE_CONFLICT'));
  await assert.rejects(store.deleteResource('BackendPolicy', 'default', 'a', { expectedVersion: '7' }), code('WEFT_ERR_STORE_CONFLICT', 409));
  await assert.rejects(store.applyResource(policy('new', {}, { resourceVersion: '1' })), code('WEFT_ERR_STORE_CONFLICT'));
  assert.deepEqual(await store.getResource('BackendPolicy', 'default', 'a'), stored);
  assert.deepEqual(await store.listResources(), [stored]);
  assert.deepEqual(events, []);
  const next = await store.applyResource(policy('b', {}));
  assert.equal(next.resource.metadata.resourceVersion, '2', 'rejected writes burn no revision');
});

test('delete returns the object, emits, and 404s when absent', async () => {
  const store = await open();
  const stored = (await store.applyResource(policy('a', { v: 1 }))).resource;
  const events: StoreEvent[] = [];
  store.watch((e) => events.push(e));
  const deleted = await store.deleteResource('BackendPolicy', 'default', 'a', { expectedVersion: '1' });
  assert.deepEqual(deleted, stored);
  assert.equal(await store.getResource('BackendPolicy', 'default', 'a'), undefined);
  assert.deepEqual(events, [{ type: 'resource-delete', resource: stored }]);
  await assert.rejects(store.deleteResource('BackendPolicy', 'default', 'a'), code('WEFT_ERR_STORE_NOT_FOUND', 404));

  // Re-creating after delete starts a new object (generation 1) at a higher revision.
  const again = await store.applyResource(policy('a', { v: 1 }));
  assert.equal(again.created, true);
  assert.equal(again.resource.metadata.generation, 1);
  assert.ok(Number(again.resource.metadata.resourceVersion) > 1);
});

test('list is sorted by kind, namespace, name and filters by kind and namespace', async () => {
  const store = await open();
  const route = (name: string, ns: string): Resource => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: ns },
    spec: {},
  });
  await store.applyResource(route('z', 'prod'));
  await store.applyResource(policy('b', {}, {}, 'prod'));
  await store.applyResource(route('a', 'prod'));
  await store.applyResource(policy('c', {}));
  await store.applyResource(route('m', 'default'));
  const ids = (rs: Resource[]) => rs.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`);
  assert.deepEqual(ids(await store.listResources()), [
    'BackendPolicy/default/c',
    'BackendPolicy/prod/b',
    'HTTPRoute/default/m',
    'HTTPRoute/prod/a',
    'HTTPRoute/prod/z',
  ]);
  assert.deepEqual(ids(await store.listResources({ kind: 'HTTPRoute' })), ['HTTPRoute/default/m', 'HTTPRoute/prod/a', 'HTTPRoute/prod/z']);
  assert.deepEqual(ids(await store.listResources({ namespace: 'prod' })), ['BackendPolicy/prod/b', 'HTTPRoute/prod/a', 'HTTPRoute/prod/z']);
  assert.deepEqual(ids(await store.listResources({ kind: 'HTTPRoute', namespace: 'prod' })), ['HTTPRoute/prod/a', 'HTTPRoute/prod/z']);
  assert.deepEqual(await store.listResources({ kind: 'Nope' }), []);
});

test('events fire after the write with the stored object; a throwing watcher breaks nothing', async () => {
  const store = await open();
  const seen: StoreEvent[] = [];
  store.watch(() => {
    throw new Error('bad watcher');
  });
  const off = store.watch((e) => seen.push(e));
  // By the time a watcher runs, a read sees the write (events follow the commit).
  let readBack: Resource | undefined;
  store.watch((e) => {
    if (e.type === 'resource-put') void store.getResource('BackendPolicy', 'default', 'a').then((r) => (readBack = r));
  });
  const { resource } = await store.applyResource(policy('a', { v: 1 }));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(readBack, resource);
  assert.deepEqual(seen, [{ type: 'resource-put', resource }]);
  off();
  await store.applyResource(policy('a', { v: 2 }));
  assert.equal(seen.length, 1);
});

test('instances: put, list, overwrite, delete, events', async () => {
  const store = await open();
  const events: StoreEvent[] = [];
  store.watch((e) => events.push(e));
  await store.putInstance(instance('i-2'));
  await store.putInstance(instance('i-1'));
  await store.putInstance(instance('i-1', { health: 'critical', healthReason: 'ttl expired' }));
  assert.deepEqual(await store.listInstances(), [instance('i-1', { health: 'critical', healthReason: 'ttl expired' }), instance('i-2')]);
  await store.deleteInstance('shop', 'checkout', 'i-2');
  await store.deleteInstance('shop', 'checkout', 'never-there');
  assert.deepEqual(await store.listInstances(), [instance('i-1', { health: 'critical', healthReason: 'ttl expired' })]);
  assert.deepEqual(
    events.map((e) => (e.type === 'instance-put' ? `put ${e.instance.id} ${e.instance.health}` : e.type === 'instance-delete' ? `delete ${e.id}` : e.type)),
    ['put i-2 passing', 'put i-1 passing', 'put i-1 critical', 'delete i-2'],
  );
});

test('data and revision survive close and reopen', async () => {
  let store = await open();
  await store.applyResource(policy('a', { v: 1 }));
  const a2 = (await store.applyResource(policy('a', { v: 2 }))).resource;
  await store.applyResource(policy('gone', {}));
  await store.deleteResource('BackendPolicy', 'default', 'gone');
  await store.putInstance(instance('i-1'));

  store = await reopen(store);
  assert.deepEqual(await store.listResources(), [a2]);
  assert.deepEqual(await store.listInstances(), [instance('i-1')]);
  const a3 = await store.applyResource(policy('a', { v: 3 }), { expectedVersion: a2.metadata.resourceVersion });
  assert.ok(Number(a3.resource.metadata.resourceVersion) > 4, `revision keeps increasing, got ${a3.resource.metadata.resourceVersion}`);
  assert.equal(a3.resource.metadata.generation, 3);
  assert.equal(a3.resource.metadata.creationTimestamp, a2.metadata.creationTimestamp);

  store = await reopen(store);
  const b = await store.applyResource(policy('b', {}));
  assert.ok(Number(b.resource.metadata.resourceVersion) > Number(a3.resource.metadata.resourceVersion));
});

test('corrupt rows are skipped with a warning, not fatal', async () => {
  const lines: string[] = [];
  const store = await open(dir, createLogger('test', (l) => lines.push(l)));
  const good = (await store.applyResource(policy('good', {}))).resource;
  await store.putInstance(instance('i-1'));
  // A second connection, as an operator's sqlite3 shell would be.
  const db = new DatabaseSync(join(dir, SQLITE_FILE_NAME));
  db.prepare(`INSERT INTO resources (kind, namespace, name, json, resource_version) VALUES ('BackendPolicy', 'default', 'bad', '{not json', 1)`).run();
  db.prepare(`INSERT INTO instances (namespace, service, id, json) VALUES ('shop', 'checkout', 'bad', 'null')`).run();
  db.close();

  assert.deepEqual(await store.listResources(), [good]);
  assert.equal(await store.getResource('BackendPolicy', 'default', 'bad'), undefined);
  assert.deepEqual(await store.listInstances(), [instance('i-1')]);
  assert.ok(lines.some((l) => l.includes('WARN') && l.includes('corrupt resource row') && l.includes('name=bad')));
  assert.ok(lines.some((l) => l.includes('WARN') && l.includes('corrupt instance row')));

  // The bad row can be repaired by an apply (at its stored version) or deleted.
  const fixed = await store.applyResource(policy('bad', { ok: true }), { expectedVersion: '1' });
  assert.equal(fixed.created, false);
  assert.equal(fixed.resource.metadata.generation, 1);
  await store.deleteResource('BackendPolicy', 'default', 'bad');
});

test('operations after close fail with WEFT_ERR_STORE_CLOSED; close is idempotent', async () => {
  const store = await open();
  await store.close();
  await store.close();
  await assert.rejects(store.listResources(), code('WEFT_ERR_STORE_CLOSED'));
  await assert.rejects(store.applyResource(policy('a', {})), code('WEFT_ERR_STORE_CLOSED'));
});

test('opening a path that is not a database fails with WEFT_ERR_STORE_OPEN', async () => {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(dir, SQLITE_FILE_NAME), 'this is not sqlite, just some text that is long enough to have a header'.repeat(10));
  await assert.rejects(openSqliteStore(dir, { logger: quiet }), code('WEFT_ERR_STORE_OPEN', 500));
});

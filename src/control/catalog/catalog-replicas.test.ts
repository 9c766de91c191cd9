// The catalog as one of several control-plane replicas on one store: only the leader judges TTLs,
// heartbeats received anywhere reach it through the store, and another replica's writes are followed.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { validateRegistration } from '../../config/registration.ts';
import type { InstanceRegistration, InstanceState } from '../../config/catalog-types.ts';
import { openSqliteStore } from '../store/sqlite-store.ts';
import { createStoreEvents } from '../store/apply-semantics.ts';
import type { Store, StoreEvent } from '../store/store.ts';
import { Catalog } from './catalog.ts';

const quiet = createLogger('test', () => {});
let dir: string;
let sqlite: Store;
let clock: ManualClock;
/** The store as a replica sees it: SQLite underneath, with events the test sends as "another replica's". */
let store: Store;
let remote: (event: StoreEvent) => void;
let published: { id: string; at: number }[];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weft-catalog-replicas-'));
  sqlite = await openSqliteStore(dir);
  clock = new ManualClock();
  const events = createStoreEvents(quiet);
  remote = (e) => events.emit(e);
  published = [];
  store = {
    listResources: (f) => sqlite.listResources(f),
    getResource: (k, n, m) => sqlite.getResource(k, n, m),
    applyResource: (r, o) => sqlite.applyResource(r, o),
    deleteResource: (k, n, m, o) => sqlite.deleteResource(k, n, m, o),
    listInstances: () => sqlite.listInstances(),
    putInstance: (i) => sqlite.putInstance(i),
    deleteInstance: (n, s, i) => sqlite.deleteInstance(n, s, i),
    listTokens: () => sqlite.listTokens(),
    putToken: (t) => sqlite.putToken(t),
    deleteToken: (id) => sqlite.deleteToken(id),
    publishHeartbeat: async (_n, _s, id, at) => {
      published.push({ id, at });
    },
    watch: (l) => events.watch(l),
    close: () => sqlite.close(),
  };
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function registration(id: string, raw: Record<string, unknown> = {}): InstanceRegistration {
  const r = validateRegistration({ service: 'reviews', id, address: '127.0.0.1', port: 9080, ttlSeconds: 5, deregisterAfterSeconds: 10, ...raw });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return r.value;
}

const settle = () => new Promise((r) => setImmediate(r));

/** An instance as another replica stored it at registration. */
function stored(id: string): InstanceState {
  const now = clock.now();
  return { ...registration(id), health: 'passing', healthReason: 'registered', registeredAt: now, lastHeartbeat: now, healthSince: now, checkResults: [] };
}

test('a follower never expires a TTL; once elected it gives every instance a fresh window, then judges', async () => {
  const catalog = new Catalog({ store, clock, log: quiet, leader: false });
  await catalog.start();
  await catalog.register(registration('r1'));
  clock.advance(30_000);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'passing', 'a follower leaves TTLs to the leader');
  catalog.setLeader(true);
  clock.advance(4_000);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'passing', 'a fresh window on election');
  clock.advance(2_000);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'critical');
  catalog.setLeader(false);
  clock.advance(60_000);
  await settle();
  assert.ok(catalog.get('default', 'reviews', 'r1'), 'a replica that lost the leadership removes nothing');
  catalog.stop();
});

test('the leader keeps an instance passing on heartbeats another replica received (through the store)', async () => {
  const catalog = new Catalog({ store, clock, log: quiet, leader: true });
  await catalog.start();
  remote({ type: 'instance-put', instance: stored('r2'), remote: true });
  assert.equal(catalog.get('default', 'reviews', 'r2')?.health, 'passing', 'another replica\'s registration is followed');
  for (let i = 0; i < 5; i++) {
    clock.advance(2_000);
    remote({ type: 'heartbeat', namespace: 'default', service: 'reviews', id: 'r2', at: clock.now() });
    await settle();
  }
  assert.equal(catalog.get('default', 'reviews', 'r2')?.health, 'passing');
  clock.advance(6_000);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r2')?.health, 'critical', 'silence everywhere expires it');
  remote({ type: 'instance-delete', namespace: 'default', service: 'reviews', id: 'r2', remote: true });
  assert.equal(catalog.get('default', 'reviews', 'r2'), undefined, 'another replica\'s removal is followed');
  catalog.stop();
});

test('heartbeats are published to the store at most twice a TTL', async () => {
  const catalog = new Catalog({ store, clock, log: quiet, leader: false });
  await catalog.start();
  await catalog.register(registration('r3'));
  // Every 5/3 s (the sidecar's pace) for 10 s: 6 heartbeats, published every 2.5 s at most.
  for (let i = 0; i < 6; i++) {
    clock.advance(1_667);
    await catalog.heartbeat('default', 'reviews', 'r3');
  }
  await settle();
  assert.deepEqual(published.map((p) => p.id), ['r3', 'r3', 'r3']);
  for (let i = 1; i < published.length; i++) assert.ok(published[i].at - published[i - 1].at >= 2_500);
  catalog.stop();
});

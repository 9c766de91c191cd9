import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import type { InstanceState } from '../../config/catalog-types.ts';
import { SnapshotCache, type CachedSnapshot } from './cache.ts';

const quiet = createLogger('test', () => {});
const scope = { namespace: 'default', service: 'client', upstreams: [] };

function instance(id: string, health: InstanceState['health'] = 'passing'): InstanceState {
  return { service: 'echo', namespace: 'default', id, address: '127.0.0.1', ports: [{ port: 80, targetPort: 9000 }], labels: { app: 'echo' }, weight: 1, ttlSeconds: 0, deregisterAfterSeconds: 60, checks: [], health, healthReason: '', registeredAt: 0, lastHeartbeat: 0, healthSince: 0 };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

test('a subscriber gets the current snapshot at once, then one push per burst of changes', async () => {
  const clock = new ManualClock();
  let instances = [instance('a')];
  let loads = 0;
  const cache = new SnapshotCache({ clock, log: quiet, load: async () => (loads++, { resources: [], instances }) });
  const got: CachedSnapshot[] = [];
  await cache.subscribe(scope, (c) => got.push(c));
  assert.equal(got.length, 1);
  assert.equal(got[0].snapshot.version, '1');
  assert.equal(cache.currentVersion(scope), '1');

  // A lone change after a quiet spell is rebuilt at once (the leading edge).
  instances = [instance('a'), instance('b')];
  cache.changed();
  clock.advance(0);
  await flush();
  assert.equal(got.length, 2, 'a lone change is pushed without waiting out the debounce');
  assert.equal(got[1].snapshot.version, '2');
  assert.equal(got[1].snapshot.services[0].ports[0].endpoints.length, 2);
  assert.equal(JSON.parse(got[1].line).snapshot.version, '2', 'the pre-serialized line carries the same snapshot');

  // A burst that follows is batched: one more push once the changes stop for the debounce.
  instances = [instance('a'), instance('b'), instance('c')];
  for (let i = 0; i < 5; i++) {
    cache.changed();
    clock.advance(50);
    await flush();
  }
  assert.equal(got.length, 2, 'still debouncing while changes keep coming');
  clock.advance(100);
  await flush();
  assert.equal(got.length, 3, 'the burst became one push');
  assert.equal(got[2].snapshot.services[0].ports[0].endpoints.length, 3);
});

test('changes that do not alter the content push nothing', async () => {
  const clock = new ManualClock();
  const cache = new SnapshotCache({ clock, log: quiet, load: async () => ({ resources: [], instances: [instance('a')] }) });
  const got: CachedSnapshot[] = [];
  await cache.subscribe(scope, (c) => got.push(c));
  cache.changed();
  clock.advance(200);
  await flush();
  assert.equal(got.length, 1);
});

test('a steady stream of changes is still pushed within the max delay', async () => {
  const clock = new ManualClock();
  let n = 1;
  const cache = new SnapshotCache({ clock, log: quiet, debounceMs: 100, maxDelayMs: 1000, load: async () => ({ resources: [], instances: Array.from({ length: n }, (_, i) => instance(`i${i}`)) }) });
  const got: CachedSnapshot[] = [];
  await cache.subscribe(scope, (c) => got.push(c));
  for (let i = 0; i < 12; i++) {
    n++;
    cache.changed();
    clock.advance(90);
    await flush();
  }
  assert.ok(got.length >= 2, 'pushed despite changes arriving faster than the debounce');
});

test('proxies that ask for the whole mesh share one snapshot whatever their service', async () => {
  const { nodeScope, nodeKey } = await import('./node-key.ts');
  const node = (service: string, upstreams: string[] = []) => ({ id: service, service, namespace: 'default', labels: {}, upstreams, weftVersion: 'test' });
  assert.equal(nodeKey(nodeScope(node('a'))), nodeKey(nodeScope(node('b'))));
  assert.notEqual(nodeKey(nodeScope(node('a', ['x']))), nodeKey(nodeScope(node('b', ['x']))));
});

// Deltas: computed once per key per rebuild, next to the full line.

function service(name: string, id: string, health: InstanceState['health'] = 'passing'): InstanceState {
  return { ...instance(id, health), service: name, labels: { app: name } };
}

async function cacheWith(initial: InstanceState[]) {
  const clock = new ManualClock();
  let instances = initial;
  const cache = new SnapshotCache({ clock, log: quiet, load: async () => ({ resources: [], instances }) });
  const got: CachedSnapshot[] = [];
  await cache.subscribe(scope, (c) => got.push(c));
  const change = async (next: InstanceState[]): Promise<CachedSnapshot> => {
    instances = next;
    await cache.rebuildNow();
    return got[got.length - 1];
  };
  return { got, change };
}

test('a new version carries the delta from the previous one: changed and new services in, gone ones out', async () => {
  const { applyDelta } = await import('../../config/apply-delta.ts');
  const many = (name: string, n: number) => Array.from({ length: n }, (_, i) => service(name, `${name}-${i}`));
  const { got, change } = await cacheWith([...many('a', 20), ...many('b', 20), ...many('c', 20)]);
  assert.equal(got[0].delta, undefined, 'nothing to diff the first snapshot against');

  const next = await change([...many('a', 20), ...many('b', 21), ...many('d', 1)]);
  assert.equal(next.snapshot.version, '2');
  assert.ok(next.delta);
  assert.equal(next.delta.base, '1');
  const msg = JSON.parse(next.delta.line);
  assert.equal(msg.type, 'delta');
  assert.deepEqual([msg.version, msg.base, msg.hash], ['2', '1', next.snapshot.hash]);
  assert.deepEqual(msg.upsert.map((s: { name: string }) => s.name), ['b', 'd'], 'a is unchanged and not sent');
  assert.deepEqual(msg.remove, [{ namespace: 'default', name: 'c' }]);
  assert.ok(next.delta.line.length < next.line.length);
  assert.ok(next.line.endsWith('\n') && next.delta.line.endsWith('\n'));

  // Applied to the previous snapshot as it arrived on the wire, it gives exactly the new one.
  const applied = applyDelta(JSON.parse(got[0].line).snapshot, msg);
  assert.ok(applied.ok, JSON.stringify(!applied.ok && applied.errors));
  assert.deepEqual(applied.value, JSON.parse(next.line).snapshot);
});

test('a delta no smaller than the full snapshot is not offered', async () => {
  const { change } = await cacheWith([service('a', 'a-1')]);
  // Every service changes and one is removed: the delta would carry all of it, plus the removal.
  const next = await change([service('b', 'b-1')]);
  assert.equal(next.snapshot.version, '2');
  assert.equal(next.delta, undefined);
});

test('an unchanged rebuild offers no new version, and the next delta is from the last published one', async () => {
  const { got, change } = await cacheWith([service('a', 'a-1'), service('b', 'b-1'), service('c', 'c-1')]);
  await change([service('a', 'a-1'), service('b', 'b-1'), service('c', 'c-1')]);
  assert.equal(got.length, 1);
  const next = await change([service('a', 'a-1'), service('b', 'b-1', 'critical'), service('c', 'c-1')]);
  assert.equal(next.delta?.base, '1');
  assert.deepEqual(JSON.parse(next.delta.line).upsert.map((s: { name: string }) => s.name), ['b']);
});

test('with a store revision, two replicas that loaded the same state number it alike, and a key never goes back', async () => {
  const clock = new ManualClock();
  let revision = 40;
  let instances = [instance('a')];
  const make = () => new SnapshotCache({ clock, log: quiet, load: async () => ({ resources: [], instances }), revision: () => revision });
  const [a, b] = [make(), make()];
  const gotA: CachedSnapshot[] = [];
  const gotB: CachedSnapshot[] = [];
  await a.subscribe(scope, (c) => gotA.push(c));
  await b.subscribe(scope, (c) => gotB.push(c));
  assert.equal(gotA[0].snapshot.version, '40');
  assert.equal(gotB[0].snapshot.version, '40', 'same revision, same content: same version on both replicas');
  assert.equal(gotA[0].snapshot.hash, gotB[0].snapshot.hash);

  // A change read at a lower revision than the key already has (a lagging read) still moves it on.
  instances = [instance('a'), instance('b')];
  revision = 30;
  await a.rebuildNow();
  assert.equal(gotA[1].snapshot.version, '41');
  // Unchanged content at a new revision: no new version, nothing pushed.
  revision = 50;
  await a.rebuildNow();
  assert.equal(gotA.length, 2);
});

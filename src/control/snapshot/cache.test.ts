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

  instances = [instance('a'), instance('b')];
  for (let i = 0; i < 5; i++) {
    cache.changed();
    clock.advance(50);
  }
  await flush();
  assert.equal(got.length, 1, 'still debouncing while changes keep coming');
  clock.advance(100);
  await flush();
  assert.equal(got.length, 2);
  assert.equal(got[1].snapshot.version, '2');
  assert.equal(got[1].snapshot.services[0].ports[0].endpoints.length, 2);
  assert.equal(JSON.parse(got[1].line).snapshot.version, '2', 'the pre-serialized line carries the same snapshot');
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

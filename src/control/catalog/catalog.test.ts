import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { validateRegistration } from '../../config/registration.ts';
import type { InstanceRegistration } from '../../config/catalog-types.ts';
import { openSqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { Catalog } from './catalog.ts';
import type { ProbeResult } from './probe.ts';

const quiet = createLogger('test', () => {});
const PASS: ProbeResult = { ok: true, outcome: 'success', reason: 'passing' };
let dir: string;
let store: Store;
let clock: ManualClock;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weft-catalog-'));
  store = await openSqliteStore(dir);
  clock = new ManualClock();
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function registration(raw: Record<string, unknown>): InstanceRegistration {
  const r = validateRegistration({ service: 'reviews', id: 'r1', address: '127.0.0.1', port: 9080, ...raw });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return r.value;
}

/** Lets the catalog's async work (store writes, probes) settle after a clock step. */
const settle = () => new Promise((r) => setImmediate(r));

test('an instance that misses its TTL turns critical, then is removed after the grace period', async () => {
  const catalog = new Catalog({ store, clock, log: quiet });
  await catalog.start();
  await catalog.register(registration({ ttlSeconds: 5, deregisterAfterSeconds: 10 }));
  clock.advance(4_000);
  await catalog.heartbeat('default', 'reviews', 'r1');
  clock.advance(4_000);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'passing', 'a heartbeat within the TTL keeps it passing');
  clock.advance(2_000);
  await settle();
  const critical = catalog.get('default', 'reviews', 'r1')!;
  assert.equal(critical.health, 'critical');
  assert.match(critical.healthReason, /ttl/);
  clock.advance(11_000);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r1'), undefined);
  assert.deepEqual(await store.listInstances(), [], 'the removal is persisted');
  catalog.stop();
});

test('a heartbeat brings a critical instance back to passing', async () => {
  const catalog = new Catalog({ store, clock, log: quiet });
  await catalog.start();
  await catalog.register(registration({ ttlSeconds: 2 }));
  clock.advance(3_000);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'critical');
  await catalog.heartbeat('default', 'reviews', 'r1');
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'passing');
  catalog.stop();
});

test('active checks turn an instance critical after the unhealthy threshold, and back', async () => {
  let result: ProbeResult = PASS;
  const catalog = new Catalog({ store, clock, log: quiet, probe: async () => result });
  await catalog.start();
  await catalog.register(registration({ ttlSeconds: 0, checks: [{ type: 'http', path: '/healthz', intervalSeconds: 1, unhealthyThreshold: 2 }] }));
  await settle();
  result = { ok: false, outcome: 'failure', reason: 'http check /healthz answered 500' };
  clock.advance(1_000);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'passing', 'one failure is under the threshold');
  clock.advance(1_000);
  await settle();
  const inst = catalog.get('default', 'reviews', 'r1')!;
  assert.equal(inst.health, 'critical');
  assert.equal(inst.healthReason, 'http check /healthz answered 500');
  result = PASS;
  clock.advance(1_000);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'passing');
  catalog.stop();
});

test('registrations survive a restart with a fresh heartbeat window', async () => {
  const first = new Catalog({ store, clock, log: quiet });
  await first.start();
  await first.register(registration({ ttlSeconds: 5 }));
  first.stop();
  clock.advance(60_000);
  const second = new Catalog({ store, clock, log: quiet });
  await second.start();
  await settle();
  assert.equal(second.get('default', 'reviews', 'r1')?.health, 'passing');
  second.stop();
});

test('heartbeat or deregistration of an unknown instance is a 404', async () => {
  const catalog = new Catalog({ store, clock, log: quiet });
  await catalog.start();
  await assert.rejects(catalog.heartbeat('default', 'nope', 'x'), { code: 'WEFT_ERR_CATALOG_NOT_FOUND', status: 404 });
  await assert.rejects(catalog.deregister('default', 'nope', 'x'), { code: 'WEFT_ERR_CATALOG_NOT_FOUND' });
  catalog.stop();
});

test('reported health (Consul TTL checks) folds into health: worse wins, a report is persisted, a restart keeps it', async () => {
  const catalog = new Catalog({ store, clock, log: quiet });
  await catalog.start();
  const registered = await catalog.register(registration({ ttlSeconds: 0 }), { reported: { status: 'critical', reason: 'check c1: not yet passed' } });
  assert.equal(registered.health, 'critical');
  assert.equal(registered.healthReason, 'check c1: not yet passed');
  const changes: string[] = [];
  catalog.subscribe(() => changes.push(catalog.get('default', 'reviews', 'r1')!.health));

  await catalog.report('default', 'reviews', 'r1', { status: 'warning', reason: 'check c1: slow' }, { heartbeat: true });
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'warning');
  await catalog.report('default', 'reviews', 'r1', { status: 'passing', reason: 'check c1: ok' }, { heartbeat: true });
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'passing');
  assert.deepEqual(changes, ['warning', 'passing']);

  // A report that leaves health alone is still stored: a restart must not bring back the old one.
  await catalog.report('default', 'reviews', 'r1', { status: 'critical', reason: 'check c1: down' }, { heartbeat: false });
  catalog.stop();
  const again = new Catalog({ store, clock, log: quiet });
  await again.start();
  assert.deepEqual(again.get('default', 'reviews', 'r1')?.reported, { status: 'critical', reason: 'check c1: down' });
  assert.equal(again.get('default', 'reviews', 'r1')?.health, 'critical');
  await assert.rejects(again.report('default', 'reviews', 'nope', { status: 'passing', reason: '' }, { heartbeat: true }), { code: 'WEFT_ERR_CATALOG_NOT_FOUND' });
  again.stop();
});

test('a lapsed TTL is critical whatever was reported; a reported pass with a heartbeat brings the instance back', async () => {
  const catalog = new Catalog({ store, clock, log: quiet, sweepMs: 500 });
  await catalog.start();
  await catalog.register(registration({ ttlSeconds: 3 }), { reported: { status: 'passing', reason: 'ok' } });
  clock.advance(3_600);
  await settle();
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'critical');
  assert.match(catalog.get('default', 'reviews', 'r1')!.healthReason, /ttl expired/);
  await catalog.report('default', 'reviews', 'r1', { status: 'passing', reason: 'ok' }, { heartbeat: true });
  assert.equal(catalog.get('default', 'reviews', 'r1')?.health, 'passing');
  catalog.stop();
});

test('heartbeats reach a store that expires instances itself (refreshInstance), and its failure does not fail them', async () => {
  const refreshed: string[] = [];
  let fail = false;
  // The SQLite store with the optional hook the etcd store implements (instance leases).
  const refreshInstance = async (i: { id: string; lastHeartbeat: number }): Promise<void> => {
    refreshed.push(`${i.id}@${i.lastHeartbeat}`);
    if (fail) throw new Error('etcd unavailable');
  };
  const leasing = new Proxy(store, {
    get: (target, prop) => {
      if (prop === 'refreshInstance') return refreshInstance;
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const lines: string[] = [];
  const catalog = new Catalog({ store: leasing, clock, log: createLogger('test', (l) => lines.push(l)) });
  await catalog.start();
  await catalog.register(registration({ ttlSeconds: 5 }));
  clock.advance(1_000);
  await catalog.heartbeat('default', 'reviews', 'r1');
  assert.deepEqual(refreshed, [`r1@${clock.now()}`], 'with the state that has the new heartbeat');
  fail = true;
  clock.advance(1_000);
  const state = await catalog.heartbeat('default', 'reviews', 'r1');
  assert.equal(state.health, 'passing');
  await settle();
  assert.ok(lines.some((l) => l.includes('WARN') && l.includes('store could not refresh instance')), lines.join('\n'));
  catalog.stop();
});

test('checks run by the sidecar are never probed here; its reports set the health, and survive a restart', async () => {
  const probed: string[] = [];
  const catalog = new Catalog({ store, clock, log: quiet, probe: async (check) => (probed.push(check.type), PASS) });
  await catalog.start();
  const changes: string[] = [];
  catalog.subscribe(() => changes.push(catalog.get('default', 'reviews', 'r1')?.health ?? 'gone'));
  await catalog.register(registration({ ttlSeconds: 0, checks: [{ type: 'grpc', serviceName: 'reviews.v1', intervalMs: 500, checkedBy: 'sidecar' }, { type: 'tcp', intervalMs: 1000 }] }));
  for (let i = 0; i < 10; i++) {
    clock.advance(500);
    await settle();
  }
  assert.ok(probed.length >= 4, `the control plane's own check runs (${probed.length} probes)`);
  assert.deepEqual([...new Set(probed)], ['tcp'], 'the check the sidecar runs is never probed here');
  let inst = catalog.get('default', 'reviews', 'r1')!;
  assert.deepEqual(inst.checkResults?.map((r) => [r.checkedBy, r.status, r.output]), [['sidecar', 'passing', 'pending'], ['control-plane', 'passing', 'passing']]);

  await catalog.reportChecks('default', 'reviews', 'r1', [{ status: 'critical', output: 'grpc check of reviews.v1 answered NOT_SERVING' }, { status: 'critical', output: 'ignored: the control plane runs this one' }]);
  inst = catalog.get('default', 'reviews', 'r1')!;
  assert.equal(inst.health, 'critical');
  assert.equal(inst.healthReason, 'grpc check of reviews.v1 answered NOT_SERVING');
  assert.deepEqual(inst.checkResults?.map((r) => r.status), ['critical', 'passing']);
  assert.equal(changes.at(-1), 'critical', 'subscribers (the snapshot builder) hear of it');

  // A restart keeps the sidecar's word until it speaks again.
  catalog.stop();
  const second = new Catalog({ store, clock, log: quiet, probe: async () => PASS });
  await second.start();
  await settle();
  assert.equal(second.get('default', 'reviews', 'r1')?.health, 'critical');
  await second.reportChecks('default', 'reviews', 'r1', [{ status: 'passing', output: 'passing' }]);
  assert.equal(second.get('default', 'reviews', 'r1')?.health, 'passing');
  await second.reportChecks('default', 'reviews', 'r1', [{ status: 'warning', output: 'degraded' }]);
  assert.equal(second.get('default', 'reviews', 'r1')?.health, 'warning', 'a warning shows when nothing is critical');
  await assert.rejects(second.reportChecks('default', 'reviews', 'nope', []), { code: 'WEFT_ERR_CATALOG_NOT_FOUND' });
  second.stop();
});

test('a check stored before intervalMs existed (whole seconds) is completed on read', async () => {
  const reg = registration({ ttlSeconds: 0 });
  const legacyCheck = { type: 'http', path: '/healthz', intervalSeconds: 3, timeoutSeconds: 1, unhealthyThreshold: 1, healthyThreshold: 1 };
  await store.putInstance({ ...reg, checks: [legacyCheck as never], health: 'passing', healthReason: 'passing', registeredAt: clock.now(), lastHeartbeat: clock.now(), healthSince: clock.now() });
  let probes = 0;
  const catalog = new Catalog({ store, clock, log: quiet, probe: async () => (probes++, PASS) });
  await catalog.start();
  await settle();
  for (let i = 0; i < 6; i++) {
    clock.advance(1_000);
    await settle();
  }
  assert.equal(probes, 3, 'probed at 0, 3 and 6 s');
  const check = catalog.get('default', 'reviews', 'r1')!.checks[0];
  assert.equal(check.intervalMs, 3_000);
  assert.equal(check.timeoutMs, 1_000);
  assert.equal(check.checkedBy, 'control-plane');
  assert.deepEqual(check.expectedStatuses, [{ start: 200, end: 400 }]);
  catalog.stop();
});

test('an instance a source owns keeps the health the source gives: no TTL, never swept away, unchanged puts write nothing', async () => {
  const catalog = new Catalog({ store, clock, log: quiet, sweepMs: 1000 });
  await catalog.start();
  let notified = 0;
  catalog.subscribe(() => notified++);
  const reg = { ...registration({ id: 'pod-a:10.0.0.1', ttlSeconds: 0 }), source: 'kubernetes' as const };
  await catalog.putSourced(reg, 'critical', 'kubernetes: not ready');
  assert.equal(notified, 1);
  await catalog.putSourced(reg, 'critical', 'kubernetes: not ready');
  assert.equal(notified, 1, 'an unchanged put is no change');
  // Far past any grace period: a sourced instance stays until its source removes it.
  clock.advance(3_600_000);
  await catalog.sweep();
  assert.equal(catalog.get('default', 'reviews', 'pod-a:10.0.0.1')?.health, 'critical');
  await catalog.putSourced(reg, 'passing', 'kubernetes: ready');
  assert.equal(catalog.get('default', 'reviews', 'pod-a:10.0.0.1')?.health, 'passing');
  await catalog.sweep();
  assert.equal(catalog.get('default', 'reviews', 'pod-a:10.0.0.1')?.health, 'passing');
  catalog.stop();

  // A restart keeps the source's last word until it speaks again.
  await catalog.putSourced(reg, 'critical', 'kubernetes: terminating');
  const again = new Catalog({ store, clock, log: quiet });
  await again.start();
  await again.sweep();
  assert.equal(again.get('default', 'reviews', 'pod-a:10.0.0.1')?.health, 'critical');
  assert.equal(again.get('default', 'reviews', 'pod-a:10.0.0.1')?.source, 'kubernetes');
  assert.equal(await again.removeSourced('default', 'reviews', 'pod-a:10.0.0.1'), true);
  assert.equal(await again.removeSourced('default', 'reviews', 'pod-a:10.0.0.1'), false);
  assert.equal((await store.listInstances()).length, 0);
  again.stop();
});

import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { validateRegistration } from '../../config/registration.ts';
import { openSqliteStore } from '../store/sqlite-store.ts';
import type { Store } from '../store/store.ts';
import { Catalog } from '../catalog/catalog.ts';
import { ConsulAgent } from './agent.ts';
import { decodeServiceDefinition } from './mapping.ts';
import { healthChecks } from './views.ts';

const quiet = createLogger('test', () => {});
let dir: string;
let store: Store;
let clock: ManualClock;
let catalog: Catalog;
let agent: ConsulAgent;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weft-consul-'));
  store = await openSqliteStore(dir);
  clock = new ManualClock();
  // Probes never run here: every active check answers ok.
  catalog = new Catalog({ store, clock, log: quiet, sweepMs: 500, probe: async () => ({ ok: true, outcome: 'success', reason: 'passing' }) });
  await catalog.start();
  agent = new ConsulAgent({ catalog, clock, log: quiet, sweepMs: 250 });
});
afterEach(async () => {
  agent.close();
  catalog.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const register = (body: Record<string, unknown>) => agent.register(decodeServiceDefinition(body, '127.0.0.1'));
const health = (service: string, id: string) => catalog.get('default', service, id)?.health;
const checkStatus = (service: string, id: string, checkId: string) => {
  const inst = catalog.get('default', service, id)!;
  return agent.checks(inst).find((c) => c.def.id === checkId);
};

test('a TTL check: critical until passed, warning and critical as set, critical again when the TTL lapses', async () => {
  await register({ Name: 'web', ID: 'web-1', Port: 8080, Check: { TTL: '10s' } });
  assert.equal(health('web', 'web-1'), 'critical');
  await agent.updateTtlCheck('service:web-1', 'passing', 'ok');
  assert.equal(health('web', 'web-1'), 'passing');
  await agent.updateTtlCheck('service:web-1', 'warning', 'slow disk');
  assert.equal(health('web', 'web-1'), 'warning');
  assert.deepEqual({ status: checkStatus('web', 'web-1', 'service:web-1')!.status, output: checkStatus('web', 'web-1', 'service:web-1')!.output }, { status: 'warning', output: 'slow disk' });
  await agent.updateTtlCheck('service:web-1', 'passing', 'ok again');
  clock.advance(9_000);
  await settle();
  assert.equal(health('web', 'web-1'), 'passing', 'within the TTL');
  clock.advance(1_500);
  await settle();
  assert.equal(health('web', 'web-1'), 'critical');
  // The catalog's TTL (the longest of the checks') or the agent's sweep, whichever looks first.
  assert.match(catalog.get('default', 'web', 'web-1')!.healthReason, /ttl expired/i);
  const view = checkStatus('web', 'web-1', 'service:web-1')!;
  assert.equal(view.status, 'critical');
  assert.equal(view.output, 'TTL expired (last output before timeout follows): ok again');
});

test('two TTL checks: each lapses on its own TTL; the instance is as bad as the worst', async () => {
  await register({ Name: 'web', ID: 'web-1', Checks: [{ TTL: '5s', CheckID: 'fast' }, { TTL: '20s', CheckID: 'slow' }] });
  await agent.updateTtlCheck('fast', 'passing', '');
  assert.equal(health('web', 'web-1'), 'critical', 'slow has not passed yet');
  await agent.updateTtlCheck('slow', 'passing', '');
  assert.equal(health('web', 'web-1'), 'passing');
  for (let i = 0; i < 6; i++) {
    clock.advance(4_000);
    await agent.updateTtlCheck('fast', 'passing', '');
    await settle();
  }
  // 24 s: fast kept passing, slow lapsed at 20 s.
  assert.equal(checkStatus('web', 'web-1', 'slow')!.status, 'critical');
  assert.equal(health('web', 'web-1'), 'critical');
});

test('re-registering keeps a TTL check\'s status; updates on unknown or non-TTL checks are refused as Consul refuses them', async () => {
  await register({ Name: 'web', ID: 'web-1', Check: { TTL: '10s' }, Checks: [{ HTTP: 'http://127.0.0.1:1/', Interval: '5s', CheckID: 'http' }] });
  await agent.updateTtlCheck('service:web-1:1', 'passing', '');
  await settle();
  await register({ Name: 'web', ID: 'web-1', Tags: ['v2'], Check: { TTL: '10s' }, Checks: [{ HTTP: 'http://127.0.0.1:1/', Interval: '5s', CheckID: 'http' }] });
  await settle();
  assert.equal(health('web', 'web-1'), 'passing');
  await assert.rejects(agent.updateTtlCheck('nope', 'passing', ''), { code: 'WEFT_ERR_CONSUL_NOT_FOUND', status: 404 });
  await assert.rejects(agent.updateTtlCheck('http', 'passing', ''), { code: 'WEFT_ERR_CONSUL_NOT_TTL', status: 500 });
  await assert.rejects(agent.deregister('nope'), { code: 'WEFT_ERR_CONSUL_NOT_FOUND' });
});

test('one ID names one service: registering it under another name moves it', async () => {
  await register({ Name: 'web', ID: 'x-1' });
  await register({ Name: 'api', ID: 'x-1' });
  assert.equal(catalog.get('default', 'web', 'x-1'), undefined);
  assert.ok(catalog.get('default', 'api', 'x-1'));
  await agent.deregister('x-1');
  assert.equal(agent.instances().length, 0);
});

test('instances of weft sidecars: their TTL is their weft heartbeat, which the Consul sweep never overrides', async () => {
  const r = validateRegistration({ service: 'reviews', id: 'r1', address: '127.0.0.1', port: 15006, ttlSeconds: 5 });
  assert.ok(r.ok);
  await catalog.register(r.value);
  agent.refresh();
  for (let i = 0; i < 5; i++) {
    clock.advance(3_000);
    await catalog.heartbeat('default', 'reviews', 'r1');
    await settle();
  }
  assert.equal(health('reviews', 'r1'), 'passing');
  assert.equal(checkStatus('reviews', 'r1', 'service:r1')!.status, 'passing');
  // A Consul client may pass it too (its check ID is the one Consul would give it).
  await agent.updateTtlCheck('service:r1', 'warning', 'from consul');
  assert.equal(health('reviews', 'r1'), 'warning');
});

test('the change index moves with a service\'s health and wakes its blocking queries, not with a TTL pass that changes nothing', async () => {
  await register({ Name: 'web', ID: 'web-1', Check: { TTL: '10s' } });
  await settle();
  const at = agent.index.of('web');
  let woke = false;
  void agent.index.wait('web', at, 300_000).then(() => (woke = true));
  await agent.updateTtlCheck('service:web-1', 'passing', 'a');
  await settle();
  assert.equal(woke, true, 'critical → passing is a change');
  const passingAt = agent.index.of('web');
  assert.ok(passingAt > at);
  await agent.updateTtlCheck('service:web-1', 'passing', 'b');
  await settle();
  assert.equal(agent.index.of('web'), passingAt, 'a pass with new output only does not move the index (Consul coalesces these too)');
  await register({ Name: 'web', ID: 'web-2' });
  await settle();
  assert.ok(agent.index.of('web') > passingAt);
});

test('health entry checks agree with weft\'s health: a weft-side reason shows as a weft:health check', async () => {
  const r = validateRegistration({ service: 'reviews', id: 'r1', address: '127.0.0.1', port: 15006, ttlSeconds: 0 });
  assert.ok(r.ok);
  await catalog.register(r.value, { reported: { status: 'critical', reason: 'drained by operator' } });
  const inst = catalog.get('default', 'reviews', 'r1')!;
  const checks = healthChecks(inst, agent.checks(inst), 1);
  assert.deepEqual(checks.map((c) => [c.CheckID, c.Status]), [['serfHealth', 'passing'], ['weft:health', 'critical']]);
  assert.equal(checks[1]!.Output, 'drained by operator');
});

test('an instance re-registered through weft\'s API with other checks gets the checks Consul would derive, not its old Consul ones', async () => {
  await register({ Name: 'web', ID: 'web-1', Port: 8080, Check: { TTL: '10s', CheckID: 'custom' } });
  assert.ok(checkStatus('web', 'web-1', 'custom'));
  const r = validateRegistration({ service: 'web', id: 'web-1', address: '127.0.0.1', port: 8080, ttlSeconds: 0, checks: [{ type: 'tcp' }] });
  assert.ok(r.ok);
  await catalog.register(r.value);
  const inst = catalog.get('default', 'web', 'web-1')!;
  assert.deepEqual(agent.checks(inst).map((c) => [c.def.id, c.def.type]), [['service:web-1', 'tcp']]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxySnapshot, ServiceSnapshot } from './snapshot-types.ts';
import type { SnapshotDelta } from './stream-protocol.ts';
import { DEFAULT_BACKEND_POLICY } from './kinds/backend-policy.ts';
import { snapshotHash } from './snapshot-hash.ts';
import { applyDelta } from './apply-delta.ts';
import { validateDelta } from './validate-delta.ts';

function service(name: string, endpoints = 1, namespace = 'default'): ServiceSnapshot {
  return {
    name, namespace, policy: DEFAULT_BACKEND_POLICY,
    ports: [{ name: 'http', port: 80, protocol: 'http', endpoints: Array.from({ length: endpoints }, (_, i) => ({ id: `${name}-${i}`, address: '127.0.0.1', port: 9000 + i, weight: 1, health: 'passing' as const, labels: {} })) }],
  };
}

function snapshot(version: string, services: ServiceSnapshot[]): ProxySnapshot {
  return { version, hash: snapshotHash('ALLOW_ANY', services), outboundTrafficPolicy: 'ALLOW_ANY', services };
}

/** What the wire gives a proxy: the delta as JSON, parsed back (fresh objects, as from the stream). */
function wire(d: SnapshotDelta): SnapshotDelta {
  return JSON.parse(JSON.stringify(d));
}

const base = snapshot('4', [service('a'), service('b'), service('c')]);

test('a delta upserts, removes and re-sorts, and the result hashes as the control plane built it', () => {
  const target = [service('0-first'), service('a'), service('b', 3)];
  const d = wire({ version: '5', base: '4', hash: snapshotHash('ALLOW_ANY', target), outboundTrafficPolicy: 'ALLOW_ANY', upsert: [service('b', 3), service('0-first')], remove: [{ namespace: 'default', name: 'c' }] });
  const r = applyDelta(base, d);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.equal(r.value.version, '5');
  assert.deepEqual(r.value.services.map((s) => s.name), ['0-first', 'a', 'b']);
  assert.equal(r.value.services[2].ports[0].endpoints.length, 3);
  assert.equal(r.value.services[1], base.services[0], 'unchanged services are kept as they were');
  assert.deepEqual(r.value, snapshot('5', target));
});

test('namespaces order before names, as the builder orders them', () => {
  const target = [service('z', 1, 'alpha'), service('a'), service('b'), service('c')];
  const r = applyDelta(base, wire({ version: '5', base: '4', hash: snapshotHash('ALLOW_ANY', target), outboundTrafficPolicy: 'ALLOW_ANY', upsert: [service('z', 1, 'alpha')], remove: [] }));
  assert.ok(r.ok);
  assert.deepEqual(r.value.services.map((s) => `${s.namespace}/${s.name}`), ['alpha/z', 'default/a', 'default/b', 'default/c']);
});

test('a delta for another base is refused with a resync, naming both versions', () => {
  const r = applyDelta(base, { version: '6', base: '5', hash: base.hash, outboundTrafficPolicy: 'ALLOW_ANY', upsert: [], remove: [] });
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.resync);
  assert.equal(!r.ok && r.errors[0].path, 'delta.base');
  assert.match(!r.ok ? r.errors[0].message : '', /version 5.*version 4/);
});

test('removing a service the proxy does not have, or a result with another hash, asks for a resync', () => {
  const gone = applyDelta(base, { version: '5', base: '4', hash: base.hash, outboundTrafficPolicy: 'ALLOW_ANY', upsert: [], remove: [{ namespace: 'default', name: 'zz' }] });
  assert.ok(!gone.ok && gone.resync && gone.errors[0].path === 'delta.remove[0]');
  const wrong = applyDelta(base, wire({ version: '5', base: '4', hash: base.hash, outboundTrafficPolicy: 'ALLOW_ANY', upsert: [service('a', 2)], remove: [] }));
  assert.ok(!wrong.ok && wrong.resync && wrong.errors[0].path === 'delta.hash');
  const policy = applyDelta(base, { version: '5', base: '4', hash: base.hash, outboundTrafficPolicy: 'REGISTRY_ONLY', upsert: [], remove: [] });
  assert.ok(!policy.ok && policy.errors[0].path === 'delta.hash', 'the outbound policy is covered by the hash');
});

test('validateDelta names every bad field by its path in the delta', () => {
  const bad = { type: 'delta', version: '5', base: 4, outboundTrafficPolicy: 'SOMETIMES', upsert: [service('a'), { ...service('b'), ports: [{ name: 'http', port: 0, protocol: 'http', endpoints: [] }] }], remove: [{ namespace: 'default' }] };
  const r = validateDelta(bad);
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.errors.map((e) => e.path).sort(), ['delta.base', 'delta.hash', 'delta.outboundTrafficPolicy', 'delta.remove[0].name', 'delta.upsert[1].ports[0].port']);
  assert.equal(validateDelta(null).ok, false);
  assert.equal(validateDelta({ version: '5', base: '4', hash: 'h', outboundTrafficPolicy: 'ALLOW_ANY' }).ok, false, 'upsert and remove are required');
});

test('validateDelta refuses a service named twice', () => {
  const r = validateDelta({ version: '5', base: '4', hash: 'h', outboundTrafficPolicy: 'ALLOW_ANY', upsert: [service('a'), service('b')], remove: [{ namespace: 'default', name: 'a' }] });
  assert.ok(!r.ok);
  assert.equal(r.errors[0].path, 'delta.remove[0]');
  assert.match(r.errors[0].message, /default\/a is already named at delta\.upsert\[0\]/);
  assert.ok(validateDelta({ version: '5', base: '4', hash: 'h', outboundTrafficPolicy: 'ALLOW_ANY', upsert: [service('a')], remove: [{ namespace: 'default', name: 'b' }] }).ok);
});

// BackendPolicy `loadBalancer.locality`: defaults, field-path errors through the kind's validator,
// and the snapshot check a proxy runs on the same field.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendPolicyType } from './backend-policy.ts';
import { DEFAULT_LOCALITY, completeLocality } from './backend-policy-locality.ts';
import { validateSnapshot } from '../validate-snapshot.ts';

const targetRefs = [{ kind: 'Service', name: 'reviews' }];

function validate(locality: unknown) {
  return backendPolicyType.validateSpec({ targetRefs, loadBalancer: { locality } }, 'spec');
}

test('locality: given fields kept, the rest defaulted; absent stays absent (defaults on read)', () => {
  const r = validate({ failoverPriority: ['topology.kubernetes.io/region', 'version'] });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.value.loadBalancer.locality, { enabled: true, failoverPriority: ['topology.kubernetes.io/region', 'version'], overprovisioningFactor: 140 });
  const none = backendPolicyType.validateSpec({ targetRefs }, 'spec');
  assert.ok(none.ok);
  assert.equal(none.value.loadBalancer.locality, undefined);
  assert.deepEqual(completeLocality(undefined), DEFAULT_LOCALITY);
  assert.deepEqual(completeLocality({ enabled: false }), { ...DEFAULT_LOCALITY, enabled: false });
});

const cases: [string, unknown, string[]][] = [
  ['factor below 100', { overprovisioningFactor: 99 }, ['spec.loadBalancer.locality.overprovisioningFactor']],
  ['factor above 1000', { overprovisioningFactor: 1001 }, ['spec.loadBalancer.locality.overprovisioningFactor']],
  ['factor as a float', { overprovisioningFactor: 1.4 }, ['spec.loadBalancer.locality.overprovisioningFactor']],
  ['enabled not a boolean', { enabled: 'yes' }, ['spec.loadBalancer.locality.enabled']],
  ['empty key', { failoverPriority: ['version', ''] }, ['spec.loadBalancer.locality.failoverPriority[1]']],
  ['not a label key', { failoverPriority: ['a b'] }, ['spec.loadBalancer.locality.failoverPriority[0]']],
  ['duplicate key', { failoverPriority: ['version', 'zone', 'version'] }, ['spec.loadBalancer.locality.failoverPriority[2]']],
  ['too many keys', { failoverPriority: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] }, ['spec.loadBalancer.locality.failoverPriority']],
  ['not a list', { failoverPriority: 'version' }, ['spec.loadBalancer.locality.failoverPriority']],
  ['unknown field', { subzone: 'x' }, ['spec.loadBalancer.locality.subzone']],
  ['not an object', 'on', ['spec.loadBalancer.locality']],
];

for (const [name, locality, paths] of cases) {
  test(`locality rejects ${name}`, () => {
    const r = validate(locality);
    assert.equal(r.ok, false);
    if (!r.ok) assert.deepEqual(r.errors.map((e) => e.path), paths);
  });
}

test('validateSnapshot: locality may be absent (an older control plane), but not malformed', () => {
  const snap = (loadBalancer: Record<string, unknown>) => ({ version: '1', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', services: [{ name: 'a', namespace: 'default', policy: { loadBalancer, timeouts: { connectMs: 1, requestMs: 0, idleMs: 1 }, retries: { attempts: 0 } }, ports: [] }] });
  assert.ok(validateSnapshot(snap({ algorithm: 'round-robin' })).ok);
  assert.ok(validateSnapshot(snap({ algorithm: 'round-robin', locality: DEFAULT_LOCALITY })).ok);
  const bad = validateSnapshot(snap({ algorithm: 'round-robin', locality: { enabled: true, failoverPriority: ['x', 'x'], overprovisioningFactor: 50 } }));
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors.map((e) => e.path).sort(), ['snapshot.services[0].policy.loadBalancer.locality.failoverPriority[1]', 'snapshot.services[0].policy.loadBalancer.locality.overprovisioningFactor']);
});

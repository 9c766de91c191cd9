// AuthorizationPolicy validation: defaults, and every wrong field named by its path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizationPolicyType } from './authorization-policy.ts';

function errorPaths(raw: unknown): string[] {
  const r = authorizationPolicyType.validateSpec(raw, 'spec');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

test('a valid policy keeps its rules; action defaults to ALLOW, rules to none', () => {
  const r = authorizationPolicyType.validateSpec({
    targetRefs: [{ kind: 'Service', name: 'orders' }],
    rules: [{ from: [{ identities: ['spiffe://weft.local/ns/default/svc/web'], namespaces: ['default'] }], to: [{ methods: ['GET'], paths: ['/api/*'] }] }],
  }, 'spec');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.equal(r.value.action, 'ALLOW');
  assert.deepEqual(r.value.rules[0], { from: [{ identities: ['spiffe://weft.local/ns/default/svc/web'], namespaces: ['default'] }], to: [{ methods: ['GET'], paths: ['/api/*'] }] });
  const bare = authorizationPolicyType.validateSpec({ targetRefs: [{ kind: 'Service', name: 'orders' }], action: 'DENY' }, 'spec');
  assert.ok(bare.ok);
  assert.deepEqual(bare.value.rules, []);
});

for (const [why, spec, paths] of [
  ['no targetRefs', { rules: [] }, ['spec.targetRefs']],
  ['unknown action', { targetRefs: [{ kind: 'Service', name: 'a' }], action: 'AUDIT' }, ['spec.action']],
  ['identity not SPIFFE', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{ identities: ['web'] }] }] }, ['spec.rules[0].from[0].identities[0]']],
  ['star in the middle', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ to: [{ paths: ['/a/*/b'] }] }] }, ['spec.rules[0].to[0].paths[0]']],
  ['path without /', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ to: [{ paths: ['api'] }] }] }, ['spec.rules[0].to[0].paths[0]']],
  ['lower-case method', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ to: [{ methods: ['get'] }] }] }, ['spec.rules[0].to[0].methods[0]']],
  ['empty source', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{}] }] }, ['spec.rules[0].from[0]']],
  ['unknown rule field', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ when: [] }] }, ['spec.rules[0].when']],
  ['bad namespace', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{ namespaces: ['Ops'] }] }] }, ['spec.rules[0].from[0].namespaces[0]']],
] as const) {
  test(`rejects: ${why}`, () => assert.deepEqual(errorPaths(spec), paths));
}

// AuthorizationPolicy validation: defaults, and every wrong field named by its path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizationPolicyType, parseConditionKey } from './authorization-policy.ts';

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

test('every Istio field: principals and request principals with patterns, not-lists, ports, when; AUDIT', () => {
  const rule = {
    from: [{ principals: ['spiffe://weft.local/ns/shop/*', '*/svc/web'], notPrincipals: ['spiffe://weft.local/ns/shop/svc/batch'], namespaces: ['shop'], notNamespaces: ['kube-system'], requestPrincipals: ['https://issuer.example/*'], notRequestPrincipals: ['*/blocked'] }],
    to: [{ methods: ['GET'], notMethods: ['DELETE'], paths: ['/api/*', '*.png', '/health'], notPaths: ['/api/admin/*'], ports: [8080, '9090'], notPorts: [22] }],
    when: [
      { key: 'request.headers[X-Tenant]', values: ['acme', 'beta*'] },
      { key: 'request.auth.claims[groups]', values: ['admins'] },
      { key: 'request.auth.claims[realm_access][roles]', notValues: ['guest'] },
      { key: 'request.auth.principal', values: ['*'] },
      { key: 'source.namespace', values: ['shop'] },
      { key: 'source.principal', notValues: ['*/svc/batch'] },
      { key: 'request.auth.audiences', values: ['orders'] },
      { key: 'request.auth.presenter', values: ['web-app'] },
    ],
  };
  const r = authorizationPolicyType.validateSpec({ targetRefs: [{ kind: 'Service', name: 'orders' }], action: 'AUDIT', rules: [rule] }, 'spec');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.equal(r.value.action, 'AUDIT');
  assert.deepEqual(r.value.rules[0].to?.[0].ports, [8080, 9090], 'ports given as strings (Istio) become numbers');
  assert.deepEqual(r.value.rules[0].when, rule.when);
  // Idempotent: the proxy re-reads what the API stored and gets the same value.
  const again = authorizationPolicyType.validateSpec(r.value, 'spec');
  assert.ok(again.ok);
  assert.deepEqual(again.value, r.value);
});

test('the key parser: headers lower-cased, nested claims split, unknown keys refused', () => {
  assert.deepEqual(parseConditionKey('request.headers[X-Tenant]'), { kind: 'header', name: 'x-tenant' });
  assert.deepEqual(parseConditionKey('request.auth.claims[realm_access][roles]'), { kind: 'claim', path: ['realm_access', 'roles'] });
  assert.deepEqual(parseConditionKey('request.auth.claims[iss]'), { kind: 'claim', path: ['iss'] });
  assert.deepEqual(parseConditionKey('source.principal'), { kind: 'source.principal' });
  for (const bad of ['request.headers[]', 'request.auth.claims', 'request.auth.claims[a]b', 'destination.port', 'request.headers[a]x']) assert.equal(parseConditionKey(bad), undefined, bad);
});

for (const [why, spec, paths] of [
  ['no targetRefs', { rules: [] }, ['spec.targetRefs']],
  ['unknown action', { targetRefs: [{ kind: 'Service', name: 'a' }], action: 'CUSTOM' }, ['spec.action']],
  ['identity not SPIFFE', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{ identities: ['web'] }] }] }, ['spec.rules[0].from[0].identities[0]']],
  ['star in the middle', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ to: [{ paths: ['/a/*/b'] }] }] }, ['spec.rules[0].to[0].paths[0]']],
  ['path without /', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ to: [{ paths: ['api'] }] }] }, ['spec.rules[0].to[0].paths[0]']],
  ['lower-case method', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ to: [{ methods: ['get'] }] }] }, ['spec.rules[0].to[0].methods[0]']],
  ['empty source', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{}] }] }, ['spec.rules[0].from[0]']],
  ['unknown rule field', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ source: {} }] }, ['spec.rules[0].source']],
  ['Istio nesting (from[].source) is not weft\'s shape', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{ source: { principals: ['*'] } }] }] }, ['spec.rules[0].from[0].source']],
  ['empty when', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ when: [] }] }, ['spec.rules[0].when']],
  ['star in the middle of a principal', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{ principals: ['spiffe://weft.local/*/svc/web'] }] }] }, ['spec.rules[0].from[0].principals[0]']],
  ['stars at both ends', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{ requestPrincipals: ['*x*'] }] }] }, ['spec.rules[0].from[0].requestPrincipals[0]']],
  ['principal without a scheme', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{ notPrincipals: ['weft.local/ns/a/svc/b'] }] }] }, ['spec.rules[0].from[0].notPrincipals[0]']],
  ['bad notNamespace', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{ notNamespaces: ['a_b'] }] }] }, ['spec.rules[0].from[0].notNamespaces[0]']],
  ['port out of range', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ to: [{ ports: [0, 70000, 'http'] }] }] }, ['spec.rules[0].to[0].ports[0]', 'spec.rules[0].to[0].ports[1]', 'spec.rules[0].to[0].ports[2]']],
  ['bad notMethod', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ to: [{ notMethods: ['Delete'] }] }] }, ['spec.rules[0].to[0].notMethods[0]']],
  ['bad notPath', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ to: [{ notPaths: ['x/*'] }] }] }, ['spec.rules[0].to[0].notPaths[0]']],
  ['unknown condition key', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ when: [{ key: 'source.ip', values: ['10.0.0.1'] }] }] }, ['spec.rules[0].when[0].key']],
  ['bad header name in a key', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ when: [{ key: 'request.headers[a b]', values: ['x'] }] }] }, ['spec.rules[0].when[0].key']],
  ['condition without values', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ when: [{ key: 'request.auth.principal' }] }] }, ['spec.rules[0].when[0]']],
  ['condition unknown field and bad pattern', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ when: [{ key: 'source.namespace', values: ['a*b'], op: 'eq' }] }] }, ['spec.rules[0].when[0].op', 'spec.rules[0].when[0].values[0]']],
  ['bad namespace', { targetRefs: [{ kind: 'Service', name: 'a' }], rules: [{ from: [{ namespaces: ['Ops'] }] }] }, ['spec.rules[0].from[0].namespaces[0]']],
] as const) {
  test(`rejects: ${why}`, () => assert.deepEqual(errorPaths(spec), paths));
}

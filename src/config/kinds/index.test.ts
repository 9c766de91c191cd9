// The kind registry: lookups by kind, plural and alias, and no name claimed by two kinds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findResourceType, resourceTypeForKind, resourceTypes } from './index.ts';

test('lists the eleven kinds', () => {
  assert.deepEqual(resourceTypes.map((t) => t.kind), ['BackendPolicy', 'Service', 'HTTPRoute', 'GRPCRoute', 'MeshConfig', 'AuthorizationPolicy', 'RequestAuthentication', 'ReferenceGrant', 'FaultInjection', 'TCPRoute', 'RateLimitPolicy']);
});

test('findResourceType accepts kind, plural and alias in any case', () => {
  for (const [name, kind] of [
    ['HTTPRoute', 'HTTPRoute'],
    ['httproutes', 'HTTPRoute'],
    ['route', 'HTTPRoute'],
    ['GrpcRoutes', 'GRPCRoute'],
    ['svc', 'Service'],
    ['SERVICES', 'Service'],
    ['bp', 'BackendPolicy'],
    ['meshconfigs', 'MeshConfig'],
    ['authz', 'AuthorizationPolicy'],
    ['AuthorizationPolicies', 'AuthorizationPolicy'],
    ['requestauthentications', 'RequestAuthentication'],
    ['jwt', 'RequestAuthentication'],
    ['tcproutes', 'TCPRoute'],
    ['TCPRoute', 'TCPRoute'],
    ['ratelimitpolicies', 'RateLimitPolicy'],
    ['rlp', 'RateLimitPolicy'],
  ]) {
    assert.equal(findResourceType(name)?.kind, kind, name);
  }
  assert.equal(findResourceType('gateways'), undefined);
});

test('resourceTypeForKind is exact', () => {
  assert.equal(resourceTypeForKind('Service')?.plural, 'services');
  assert.equal(resourceTypeForKind('service'), undefined);
  assert.equal(resourceTypeForKind('Gateway'), undefined);
});

test('no name resolves to two kinds', () => {
  const owner = new Map<string, string>();
  for (const t of resourceTypes) {
    for (const n of new Set([t.kind.toLowerCase(), t.plural, ...t.aliases])) {
      assert.equal(owner.get(n), undefined, `${n} is claimed by ${owner.get(n)} and ${t.kind}`);
      owner.set(n, t.kind);
    }
  }
});

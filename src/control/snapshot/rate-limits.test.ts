// RateLimitPolicies in snapshots: a Service's own policies, those on the routes the proxy applies
// to it (marked with the route), nothing for a policy in another namespace.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceState } from '../../config/catalog-types.ts';
import type { Resource } from '../../config/resource.ts';
import { validateResource } from '../../config/validate-resource.ts';
import { buildSnapshotContent } from './builder.ts';

function instance(service: string, namespace = 'default'): InstanceState {
  return {
    service, namespace, id: `${service}-${namespace}`, address: '127.0.0.1', ports: [{ port: 80, targetPort: 9000, name: 'http', protocol: 'http' }],
    labels: {}, weight: 1, ttlSeconds: 10, deregisterAfterSeconds: 60, checks: [],
    health: 'passing', healthReason: 'registered', registeredAt: 0, lastHeartbeat: 0, healthSince: 0,
  };
}

let clock = 0;
function resource(apiVersion: string, kind: string, name: string, namespace: string, spec: unknown): Resource {
  const r = validateResource({ apiVersion, kind, metadata: { name, namespace }, spec });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return { ...r.value, metadata: { ...r.value.metadata, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString() } };
}
const policy = (name: string, namespace: string, spec: object) => resource('weft.dev/v1alpha1', 'RateLimitPolicy', name, namespace, spec);
const local = { local: { total: { requestsPerSecond: 5 } } };

test('a Service gets its own policies and those of the routes attached to it', () => {
  const resources = [
    policy('svc', 'default', { targetRefs: [{ kind: 'Service', name: 'reviews' }], ...local }),
    policy('on-route', 'default', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'canary' }], direction: 'outbound', ...local }),
    policy('same-name-route', 'default', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'reviews' }], direction: 'outbound', ...local }),
    policy('elsewhere', 'shop', { targetRefs: [{ kind: 'Service', name: 'reviews' }], ...local }),
    resource('gateway.networking.k8s.io/v1', 'HTTPRoute', 'canary', 'default', { parentRefs: [{ name: 'reviews' }], rules: [{ backendRefs: [{ name: 'reviews', port: 80 }] }] }),
  ];
  const snap = buildSnapshotContent({ resources, instances: [instance('reviews'), instance('web')] }, { namespace: 'default', service: 'web', upstreams: [] });
  const reviews = snap.services.find((s) => s.name === 'reviews')!;
  assert.deepEqual(reviews.rateLimits, [
    { name: 'default/svc', direction: 'inbound', local: { total: { requestsPerSecond: 5, burst: 5 } } },
    { name: 'default/on-route', direction: 'outbound', local: { total: { requestsPerSecond: 5, burst: 5 } }, route: 'default/canary' },
  ]);
  assert.equal(snap.services.find((s) => s.name === 'web')!.rateLimits, undefined);
});

// Route attachment (GAMMA): producer and consumer routes, parentRef ports, backend resolution with
// ReferenceGrant, the ResolvedRefs reasons, route order, and backends pulled into a narrowed snapshot.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceState } from '../../config/catalog-types.ts';
import type { Resource } from '../../config/resource.ts';
import { validateResource } from '../../config/validate-resource.ts';
import { buildSnapshotContent } from './builder.ts';

function instance(service: string, namespace = 'default', port = 80): InstanceState {
  return {
    service, namespace, id: `${service}-${namespace}`, address: '127.0.0.1', ports: [{ port, targetPort: 9000, name: 'http', protocol: 'http' }],
    labels: {}, weight: 1, ttlSeconds: 10, deregisterAfterSeconds: 60, checks: [],
    health: 'passing', healthReason: 'registered', registeredAt: 0, lastHeartbeat: 0, healthSince: 0,
  };
}

let clock = 0;
function route(name: string, namespace: string, spec: unknown, kind = 'HTTPRoute'): Resource {
  const r = validateResource({ apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name, namespace }, spec });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  // Created in the order the test makes them.
  return { ...r.value, metadata: { ...r.value.metadata, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString() } };
}

function grant(namespace: string, spec: unknown): Resource {
  const r = validateResource({ apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { name: 'g', namespace }, spec });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return r.value;
}

const instances = [instance('reviews'), instance('reviews-v2'), instance('other', 'shop'), instance('client', 'shop')];
const toReviews = (backend: string, extra: Record<string, unknown> = {}) => ({ parentRefs: [{ name: 'reviews', ...extra }], rules: [{ backendRefs: [{ name: backend, port: 80 }] }] });
const scope = (namespace: string, upstreams: string[] = []) => ({ namespace, service: upstreams.length ? 'client' : '', upstreams });
const routesOf = (resources: Resource[], ns = 'default', upstreams: string[] = []) =>
  buildSnapshotContent({ resources, instances }, scope(ns, upstreams)).services.find((s) => s.name === 'reviews' && s.namespace === 'default')?.routes;

test('a producer route (in the Service namespace) governs clients of every namespace', () => {
  const r = route('canary', 'default', toReviews('reviews-v2'));
  for (const ns of ['default', 'shop']) {
    const routes = routesOf([r], ns);
    assert.deepEqual(routes?.map((x) => x.name), ['default/canary'], ns);
    assert.deepEqual(routes![0].rules[0].backends, [{ weight: 1, ref: 'Service/default/reviews-v2:80', service: { name: 'reviews-v2', namespace: 'default', port: 80 } }]);
    assert.equal(routes![0].rules[0].name, '0');
    assert.deepEqual(routes![0].rules[0].matches, [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }]);
  }
});

test('a consumer route governs only its own namespace, and there it replaces the producer routes', () => {
  const producer = route('producer', 'default', toReviews('reviews-v2'));
  const consumer = route('consumer', 'shop', { parentRefs: [{ name: 'reviews', namespace: 'default' }], rules: [{}] });
  assert.deepEqual(routesOf([producer, consumer], 'shop')?.map((x) => x.name), ['shop/consumer']);
  assert.deepEqual(routesOf([producer, consumer], 'default')?.map((x) => x.name), ['default/producer']);
  assert.deepEqual(routesOf([producer, consumer], 'elsewhere')?.map((x) => x.name), ['default/producer']);
  // A route in a third namespace is neither: it governs nobody but its own namespace's clients.
  assert.equal(routesOf([consumer], 'default'), undefined);
});

test('a parentRef port limits the route to that port; a port the Service lacks attaches nothing', () => {
  assert.equal(routesOf([route('p80', 'default', toReviews('reviews-v2', { port: 80 }))])?.[0].port, 80);
  assert.equal(routesOf([route('p81', 'default', toReviews('reviews-v2', { port: 81 }))]), undefined);
});

test('routes come oldest first, then by namespace/name', () => {
  const b = route('b', 'default', toReviews('reviews'));
  const a = route('a', 'default', toReviews('reviews'));
  const sameTime = { ...a, metadata: { ...a.metadata, name: 'aa', creationTimestamp: b.metadata.creationTimestamp } };
  assert.deepEqual(routesOf([a, b, sameTime])?.map((x) => x.name), ['default/aa', 'default/b', 'default/a']);
});

test('backendRefs resolve to Services, or to the reason their share gets 500', () => {
  const r = route('mixed', 'default', {
    parentRefs: [{ name: 'reviews' }],
    rules: [{ backendRefs: [
      { name: 'missing', port: 80 },
      { name: 'other', namespace: 'shop', port: 80 },
      { group: 'multicluster.x-k8s.io', kind: 'ServiceImport', name: 'reviews' },
      { name: 'reviews', port: 8080, weight: 3 },
    ] }],
  });
  const reasons = (resources: Resource[]) => routesOf(resources)![0].rules[0].backends.map((b) => b.unresolved ?? `ok ${b.service!.namespace}/${b.service!.name}`);
  assert.deepEqual(reasons([r]), ['BackendNotFound', 'RefNotPermitted', 'InvalidKind', 'BackendNotFound']);
  const allow = grant('shop', { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] });
  assert.deepEqual(reasons([r, allow]), ['BackendNotFound', 'ok shop/other', 'InvalidKind', 'BackendNotFound']);
  // A grant for another Service name, another route kind or another source namespace does not count.
  for (const spec of [
    { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service', name: 'not-other' }] },
    { from: [{ group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] },
    { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'nope' }], to: [{ group: '', kind: 'Service' }] },
  ]) assert.equal(reasons([r, grant('shop', spec)])[1], 'RefNotPermitted', JSON.stringify(spec));
});

test("a narrowed snapshot still holds the Services a route sends to, without those Services' own routes", () => {
  const r = route('canary', 'default', toReviews('reviews-v2'));
  const v2route = route('v2-self', 'default', { parentRefs: [{ name: 'reviews-v2' }], rules: [{ backendRefs: [{ name: 'other', port: 80 }] }] });
  const content = buildSnapshotContent({ resources: [r, v2route], instances }, scope('default', ['reviews']));
  // reviews-v2 comes as the route's backend; `other` (reviews-v2's own route's backend) does not:
  // a request sent to a backend is balanced over it, not routed again.
  assert.deepEqual(content.services.map((s) => s.name).sort(), ['reviews', 'reviews-v2']);
  assert.equal(content.services.find((s) => s.name === 'reviews-v2')!.routes, undefined);
});

test('a GRPCRoute carries its gRPC matches', () => {
  const r = route('grpc', 'default', { parentRefs: [{ name: 'reviews' }], rules: [{ matches: [{ method: { service: 'shop.Reviews', method: 'Get' } }], backendRefs: [{ name: 'reviews-v2', port: 80 }] }] }, 'GRPCRoute');
  const routes = routesOf([r]);
  assert.equal(routes?.[0].kind, 'GRPCRoute');
  assert.deepEqual(routes?.[0].rules[0].grpcMatches, [{ method: { type: 'Exact', service: 'shop.Reviews', method: 'Get' }, headers: [] }]);
});

function tcpRoute(name: string, namespace: string, spec: unknown): Resource {
  const r = validateResource({ apiVersion: 'gateway.networking.k8s.io/v1alpha2', kind: 'TCPRoute', metadata: { name, namespace }, spec });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return { ...r.value, metadata: { ...r.value.metadata, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString() } };
}

test('a TCPRoute attaches with GAMMA semantics, resolves its first rule, and pulls its backends into a narrowed snapshot', () => {
  const split = { parentRefs: [{ name: 'reviews', port: 80 }], rules: [{ name: 'split', backendRefs: [{ name: 'reviews', port: 80, weight: 50 }, { name: 'reviews-v2', port: 80, weight: 50 }] }, { backendRefs: [{ name: 'other' }] }] };
  const producer = tcpRoute('tcp-split', 'default', split);
  const build = (resources: Resource[], ns: string, upstreams: string[]) => buildSnapshotContent({ resources, instances }, scope(ns, upstreams)).services;
  const services = build([producer], 'shop', ['reviews.default']);
  const reviews = services.find((s) => s.name === 'reviews')!;
  assert.deepEqual(reviews.tcpRoutes, [{
    name: 'default/tcp-split', port: 80, rule: 'split',
    backends: [
      { weight: 50, ref: 'Service/default/reviews:80', service: { name: 'reviews', namespace: 'default', port: 80 } },
      { weight: 50, ref: 'Service/default/reviews-v2:80', service: { name: 'reviews-v2', namespace: 'default', port: 80 } },
    ],
  }]);
  assert.equal(reviews.routes, undefined);
  assert.ok(services.some((s) => s.name === 'reviews-v2'), 'the split backend is in the snapshot');
  // A consumer TCPRoute replaces the producer one for its namespace only.
  const consumer = tcpRoute('mine', 'shop', { parentRefs: [{ name: 'reviews', namespace: 'default' }], rules: [{ backendRefs: [{ name: 'other', port: 80 }] }] });
  assert.deepEqual(build([producer, consumer], 'shop', []).find((s) => s.name === 'reviews')!.tcpRoutes!.map((r) => r.name), ['shop/mine']);
  assert.deepEqual(build([producer, consumer], 'default', []).find((s) => s.name === 'reviews')!.tcpRoutes!.map((r) => r.name), ['default/tcp-split']);
});

test('a TCPRoute backend in another namespace needs a ReferenceGrant from TCPRoute', () => {
  const cross = tcpRoute('cross', 'default', { parentRefs: [{ name: 'reviews' }], rules: [{ backendRefs: [{ name: 'other', namespace: 'shop', port: 80 }] }] });
  const backendsWith = (resources: Resource[]) => buildSnapshotContent({ resources, instances }, scope('default')).services.find((s) => s.name === 'reviews')!.tcpRoutes![0].backends[0];
  assert.equal(backendsWith([cross]).unresolved, 'RefNotPermitted');
  const httpOnly = grant('shop', { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] });
  assert.equal(backendsWith([cross, httpOnly]).unresolved, 'RefNotPermitted');
  const tcp = grant('shop', { from: [{ group: 'gateway.networking.k8s.io', kind: 'TCPRoute', namespace: 'default' }], to: [{ group: '', kind: 'Service' }] });
  assert.deepEqual(backendsWith([cross, tcp]).service, { name: 'other', namespace: 'shop', port: 80 });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { endpointHealth, instanceId, instancesFor, protocolOf, routeResource, serviceResource, SOURCE_ANNOTATION } from './mapping.ts';
import { endpointSlice, service } from '../../../../test/support/kubernetes-fixtures.ts';

const svc = (name = 'reviews', options?: Parameters<typeof service>[2]) => service(name, 'default', options) as unknown as V1Service;
const slice = (...args: Parameters<typeof endpointSlice>) => endpointSlice(...args) as unknown as V1EndpointSlice;

test('endpoint health: ready (or unset) passes; not ready and terminating are critical', () => {
  assert.equal(endpointHealth(undefined).health, 'passing');
  assert.equal(endpointHealth({}).health, 'passing');
  assert.equal(endpointHealth({ ready: true, serving: true, terminating: false }).health, 'passing');
  assert.deepEqual(endpointHealth({ ready: false, serving: false, terminating: false }), { health: 'critical', reason: 'kubernetes: not ready' });
  assert.deepEqual(endpointHealth({ ready: false, serving: true, terminating: true }), { health: 'critical', reason: 'kubernetes: terminating (still serving)' });
  assert.deepEqual(endpointHealth({ ready: false, serving: false, terminating: true }), { health: 'critical', reason: 'kubernetes: terminating' });
});

test('protocol: appProtocol first, then the port name prefix, unknown appProtocols are opaque TCP', () => {
  assert.equal(protocolOf('kubernetes.io/h2c', 'http'), 'http2');
  assert.equal(protocolOf('grpc', undefined), 'grpc');
  assert.equal(protocolOf('kubernetes.io/ws', undefined), 'http');
  assert.equal(protocolOf('mysql', 'http'), 'tcp');
  assert.equal(protocolOf(undefined, 'grpc-api'), 'grpc');
  assert.equal(protocolOf(undefined, 'tcp'), 'tcp');
  assert.equal(protocolOf(undefined, 'web'), undefined);
  assert.equal(protocolOf(undefined, undefined), undefined);
});

test('instance ids: pod:address, hashed when too long for an id', () => {
  assert.equal(instanceId('reviews-v1-7d9f', '10.244.1.5'), 'reviews-v1-7d9f:10.244.1.5');
  assert.equal(instanceId(undefined, 'fd00::5'), 'fd00::5');
  const long = instanceId('p'.repeat(200), '10.0.0.1');
  assert.match(long, /^k8s-[0-9a-f]{32}$/);
  assert.equal(long, instanceId('p'.repeat(200), '10.0.0.1'));
});

test('a Service becomes an owned weft Service: TCP ports only, targetPort = port, protocol mapped', () => {
  const r = serviceResource(svc('reviews', { ports: [
    { name: 'http', protocol: 'TCP', port: 9080, targetPort: 8080 },
    { name: 'grpc-api', protocol: 'TCP', port: 9090, targetPort: 'grpc' },
    { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
  ] }));
  assert.ok(r.ok);
  assert.equal(r.resource.kind, 'Service');
  assert.equal(r.resource.metadata.annotations?.[SOURCE_ANNOTATION], 'kubernetes');
  assert.deepEqual(r.resource.spec, { ports: [
    { name: 'http', port: 9080, targetPort: 9080, appProtocol: 'http' },
    { name: 'grpc-api', port: 9090, targetPort: 9090, appProtocol: 'grpc' },
  ] });
  const external = serviceResource({ ...svc(), spec: { type: 'ExternalName', externalName: 'db.example.com' } } as V1Service);
  assert.equal(external.ok, false);
  const udpOnly = serviceResource(svc('dns', { ports: [{ name: 'dns', protocol: 'UDP', port: 53 }] }));
  assert.equal(udpOnly.ok, false);
});

test('two slices of a Service become instances on the Service port, with zone and node labels', () => {
  const insts = instancesFor('default', 'reviews', svc(), [
    slice('reviews', 'abc12', 8080, [{ pod: 'reviews-v1-a', address: '10.244.1.5', zone: 'eu-west-1a', node: 'node-1' }]),
    slice('reviews', 'def34', 8080, [{ pod: 'reviews-v2-b', address: '10.244.2.7', ready: false, serving: false }]),
  ], 'weft.local');
  assert.equal(insts.length, 2);
  const [a, b] = insts;
  assert.equal(a.registration.id, 'reviews-v1-a:10.244.1.5');
  assert.equal(a.registration.source, 'kubernetes');
  assert.equal(a.registration.ttlSeconds, 0);
  assert.deepEqual(a.registration.ports, [{ port: 9080, targetPort: 8080, name: 'http', protocol: 'http' }]);
  assert.deepEqual(a.registration.labels, { app: 'reviews', 'topology.kubernetes.io/zone': 'eu-west-1a', 'kubernetes.io/hostname': 'node-1' });
  assert.equal(a.registration.identity, undefined);
  assert.equal(a.health, 'passing');
  assert.equal(b.health, 'critical');
  assert.equal(b.reason, 'kubernetes: not ready');
});

test('a slice port the Service does not name is left out; without the Service the pod port stands for both', () => {
  const other = slice('reviews', 'x', 7000, [{ pod: 'p', address: '10.0.0.1' }], 'default', 'metrics');
  assert.deepEqual(instancesFor('default', 'reviews', svc(), [other], 'weft.local'), []);
  const [only] = instancesFor('default', 'reviews', undefined, [slice('reviews', 'y', 8080, [{ pod: 'p', address: '10.0.0.1' }])], 'weft.local');
  assert.deepEqual(only.registration.ports, [{ port: 8080, targetPort: 8080, name: 'http', protocol: 'http' }]);
});

test('an endpoint in two slices (while it moves) keeps its ready entry', () => {
  const insts = instancesFor('default', 'reviews', svc(), [
    slice('reviews', 'a', 8080, [{ pod: 'p', address: '10.0.0.1', ready: false }]),
    slice('reviews', 'b', 8080, [{ pod: 'p', address: '10.0.0.1', ready: true }]),
  ], 'weft.local');
  assert.equal(insts.length, 1);
  assert.equal(insts[0].health, 'passing');
});

test('a Service annotated weft.dev/sidecar gives its instances the service identity', () => {
  const [inst] = instancesFor('shop', 'reviews', service('reviews', 'shop', { annotations: { 'weft.dev/sidecar': 'true' } }) as unknown as V1Service,
    [slice('reviews', 'a', 8080, [{ pod: 'p', address: '10.0.0.1' }], 'shop')], 'example.org');
  assert.equal(inst.registration.identity, 'spiffe://example.org/ns/shop/svc/reviews');
});

test('Gateway API routes are validated by weft; an invalid one is refused with its field path', () => {
  const ok = routeResource({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'reviews', namespace: 'default' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'reviews' }], rules: [{ backendRefs: [{ name: 'reviews', port: 9080 }] }] },
  });
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.reason));
  assert.equal(ok.resource.metadata.annotations?.[SOURCE_ANNOTATION], 'kubernetes');
  const bad = routeResource({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'default' }, spec: { rules: 'x' } });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.reason : '', /spec\.rules/);
});

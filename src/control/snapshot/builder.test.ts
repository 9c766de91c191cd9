import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceState } from '../../config/catalog-types.ts';
import type { Resource } from '../../config/resource.ts';
import { validateResource } from '../../config/validate-resource.ts';
import { buildSnapshotContent, serviceModels } from './builder.ts';

function instance(service: string, id: string, labels: Record<string, string> = {}, extra: Partial<InstanceState> = {}): InstanceState {
  return {
    service, namespace: 'default', id, address: '127.0.0.1', ports: [{ port: 80, targetPort: 10000 + Number(id.replace(/\D/g, '') || 0), name: 'http', protocol: 'http' }],
    labels: { app: service, ...labels }, weight: 1, ttlSeconds: 10, deregisterAfterSeconds: 60, checks: [],
    health: 'passing', healthReason: 'registered', registeredAt: 0, lastHeartbeat: 0, healthSince: 0, ...extra,
  };
}

function resource(raw: unknown): Resource {
  const r = validateResource(raw);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return r.value;
}

const all = { namespace: 'default', service: 'client', upstreams: [] };

test('registered instances form implicit services with their endpoints', () => {
  const content = buildSnapshotContent({ resources: [], instances: [instance('reviews', 'r1'), instance('reviews', 'r2'), instance('catalog', 'c1')] }, all);
  assert.deepEqual(content.services.map((s) => s.name), ['catalog', 'reviews']);
  const reviews = content.services.find((s) => s.name === 'reviews')!;
  assert.deepEqual(reviews.ports[0].endpoints.map((e) => [e.id, e.port]), [['r1', 10001], ['r2', 10002]]);
  assert.equal(reviews.policy.loadBalancer.algorithm, 'peak-ewma');
});

test('a Service resource selects instances by label, like Kubernetes', () => {
  const svc = resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'reviews-v2' }, spec: { selector: { app: 'reviews', version: 'v2' }, ports: [{ port: 80 }] } });
  const instances = [instance('reviews', 'r1', { version: 'v1' }), instance('reviews', 'r2', { version: 'v2' })];
  const models = serviceModels({ resources: [svc], instances });
  const v2 = models.find((m) => m.name === 'reviews-v2')!;
  assert.deepEqual(v2.members.map((m) => m.id), ['r2']);
  assert.deepEqual(models.find((m) => m.name === 'reviews')!.members.map((m) => m.id), ['r1', 'r2']);
});

test('the BackendPolicy targeting a service is carried in its snapshot', () => {
  const policy = resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name: 'p' }, spec: { targetRefs: [{ kind: 'Service', name: 'reviews' }], loadBalancer: { algorithm: 'least-request' } } });
  const content = buildSnapshotContent({ resources: [policy], instances: [instance('reviews', 'r1'), instance('catalog', 'c1')] }, all);
  assert.equal(content.services.find((s) => s.name === 'reviews')!.policy.loadBalancer.algorithm, 'least-request');
  assert.equal(content.services.find((s) => s.name === 'catalog')!.policy.loadBalancer.algorithm, 'peak-ewma');
});

test('upstreams narrow a snapshot to what the proxy calls, plus its own service', () => {
  const instances = [instance('reviews', 'r1'), instance('catalog', 'c1'), instance('ratings', 'x1')];
  const content = buildSnapshotContent({ resources: [], instances }, { namespace: 'default', service: 'catalog', upstreams: ['reviews'] });
  assert.deepEqual(content.services.map((s) => s.name), ['catalog', 'reviews']);
});

test('equal inputs give equal hashes; any endpoint change gives a new one', () => {
  const a = buildSnapshotContent({ resources: [], instances: [instance('reviews', 'r1')] }, all);
  const b = buildSnapshotContent({ resources: [], instances: [instance('reviews', 'r1')] }, all);
  const c = buildSnapshotContent({ resources: [], instances: [instance('reviews', 'r1', {}, { health: 'critical' })] }, all);
  assert.equal(a.hash, b.hash);
  assert.notEqual(a.hash, c.hash);
});

test('MeshConfig sets the outbound traffic policy proxies enforce', () => {
  const mesh = resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' }, spec: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } });
  assert.equal(buildSnapshotContent({ resources: [mesh], instances: [] }, all).outboundTrafficPolicy, 'REGISTRY_ONLY');
  assert.equal(buildSnapshotContent({ resources: [], instances: [] }, all).outboundTrafficPolicy, 'ALLOW_ANY');
});

test('endpoints carry the identity their sidecar registered; MeshConfig mtls.mode DISABLE leaves it out', () => {
  const identity = 'spiffe://weft.local/ns/default/svc/reviews';
  const instances = [instance('reviews', 'r1', {}, { identity }), instance('reviews', 'r2')];
  const endpoints = (c: ReturnType<typeof buildSnapshotContent>) => c.services[0].ports[0].endpoints.map((e) => [e.id, e.identity]);
  const permissive = buildSnapshotContent({ resources: [], instances }, all);
  assert.equal(permissive.mtlsMode, 'PERMISSIVE');
  assert.deepEqual(endpoints(permissive), [['r1', identity], ['r2', undefined]]);
  const mesh = (mode: string) => resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' }, spec: { mtls: { mode } } });
  const disabled = buildSnapshotContent({ resources: [mesh('DISABLE')], instances }, all);
  assert.deepEqual(endpoints(disabled), [['r1', undefined], ['r2', undefined]]);
  const strict = buildSnapshotContent({ resources: [mesh('STRICT')], instances }, all);
  assert.equal(strict.mtlsMode, 'STRICT');
  assert.deepEqual(endpoints(strict), [['r1', identity]], 'under STRICT an instance without a sidecar gets no traffic');
  assert.notEqual(strict.hash, permissive.hash, 'the mode is part of the hash, so a change reaches proxies');
});

test('an instance whose identity is not its own service SPIFFE ID in the mesh trust domain gets no traffic', () => {
  const wrong = [
    instance('reviews', 'other-service', {}, { identity: 'spiffe://weft.local/ns/default/svc/admin' }),
    instance('reviews', 'other-domain', {}, { identity: 'spiffe://evil.local/ns/default/svc/reviews' }),
    instance('reviews', 'good', {}, { identity: 'spiffe://weft.local/ns/default/svc/reviews' }),
  ];
  const mesh = (mode: string) => resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' }, spec: { mtls: { mode } } });
  for (const resources of [[], [mesh('STRICT')]]) {
    const content = buildSnapshotContent({ resources, instances: wrong }, all);
    assert.deepEqual(content.services[0].ports[0].endpoints.map((e) => [e.id, e.identity]), [['good', 'spiffe://weft.local/ns/default/svc/reviews']]);
  }
  // The trust domain comes from the control plane: the same instances in another mesh get nothing.
  const elsewhere = buildSnapshotContent({ resources: [], instances: wrong, trustDomain: 'other.mesh' }, all);
  assert.deepEqual(elsewhere.services[0].ports[0].endpoints, []);
});

test('AuthorizationPolicies travel with the service they target, oldest first; other services carry none', () => {
  const authz = (name: string, action: string, creationTimestamp: string): Resource => {
    const r = resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name }, spec: { targetRefs: [{ kind: 'Service', name: 'reviews' }], action, rules: [{ to: [{ methods: ['GET'] }] }] } });
    return { ...r, metadata: { ...r.metadata, creationTimestamp } };
  };
  const resources = [authz('b-deny', 'DENY', '2026-01-02T00:00:00Z'), authz('a-allow', 'ALLOW', '2026-01-01T00:00:00Z')];
  const content = buildSnapshotContent({ resources, instances: [instance('reviews', 'r1'), instance('catalog', 'c1')] }, all);
  const reviews = content.services.find((s) => s.name === 'reviews')!;
  assert.deepEqual(reviews.authorization?.map((p) => [p.name, p.action]), [['default/a-allow', 'ALLOW'], ['default/b-deny', 'DENY']]);
  assert.deepEqual(reviews.authorization?.[0].rules, [{ to: [{ methods: ['GET'] }] }]);
  assert.equal('authorization' in content.services.find((s) => s.name === 'catalog')!, false);
});

test('a BackendPolicy stored before responseHeaderMs and streamIdleMs existed reaches proxies with their defaults', () => {
  // As the store holds one applied under the old defaults: validated then, every field then known filled in.
  const stored: Resource = {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'BackendPolicy',
    metadata: { name: 'old', namespace: 'default', creationTimestamp: '2025-01-01T00:00:00.000Z' },
    spec: { targetRefs: [{ kind: 'Service', name: 'reviews' }], loadBalancer: { algorithm: 'round-robin', choiceCount: 2 }, timeouts: { connectMs: 2000, requestMs: 30000, idleMs: 60000 }, retries: { attempts: 2 } },
  } as Resource;
  const content = buildSnapshotContent({ resources: [stored], instances: [instance('reviews', 'r1')] }, all);
  // The stored values stay (a 30 s total is what that policy says); the new fields get their defaults.
  assert.deepEqual(content.services[0].policy.timeouts, { connectMs: 2000, responseHeaderMs: 30000, streamIdleMs: 300000, requestMs: 30000, idleMs: 60000 });
});

test('RequestAuthentications travel with the service they target, oldest first; other services carry none', () => {
  const ra = (name: string, issuer: string, creationTimestamp: string): Resource => {
    const r = resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'RequestAuthentication', metadata: { name }, spec: { targetRefs: [{ kind: 'Service', name: 'reviews' }], jwtRules: [{ issuer, jwksUri: 'https://issuer.example/jwks.json' }] } });
    return { ...r, metadata: { ...r.metadata, creationTimestamp } };
  };
  const resources = [ra('b', 'https://b.example', '2026-01-02T00:00:00Z'), ra('a', 'https://a.example', '2026-01-01T00:00:00Z')];
  const content = buildSnapshotContent({ resources, instances: [instance('reviews', 'r1'), instance('catalog', 'c1')] }, all);
  const reviews = content.services.find((s) => s.name === 'reviews')!;
  assert.deepEqual(reviews.requestAuthentication?.map((p) => [p.name, p.jwtRules[0].issuer]), [['default/a', 'https://a.example'], ['default/b', 'https://b.example']]);
  assert.deepEqual(reviews.requestAuthentication?.[0].jwtRules[0].fromHeaders, [{ name: 'authorization', prefix: 'Bearer ' }], 'the validated rule, defaults filled in');
  assert.equal('requestAuthentication' in content.services.find((s) => s.name === 'catalog')!, false);
  const without = buildSnapshotContent({ resources: [], instances: [instance('reviews', 'r1'), instance('catalog', 'c1')] }, all);
  assert.notEqual(without.hash, content.hash, 'a RequestAuthentication is part of the hash, so a change reaches proxies');
});

test('MeshConfig authorization.defaultAction DENY marks every service default-deny; ALLOW or none marks nothing', () => {
  const mesh = (defaultAction?: string) => resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' }, spec: defaultAction ? { authorization: { defaultAction } } : {} });
  const instances = [instance('reviews', 'r1'), instance('catalog', 'c1')];
  const deny = buildSnapshotContent({ resources: [mesh('DENY')], instances }, all);
  assert.deepEqual(deny.services.map((s) => s.authorizationDefault), ['DENY', 'DENY']);
  for (const resources of [[mesh('ALLOW')], [mesh()], []]) {
    const allow = buildSnapshotContent({ resources, instances }, all);
    assert.equal(allow.services.some((s) => 'authorizationDefault' in s), false);
    assert.notEqual(allow.hash, deny.hash);
  }
});

test('MeshConfig accessLog and tracing reach every proxy in `observability`, and change the hash', () => {
  const spec = { accessLog: { enabled: true }, tracing: { otlpEndpoint: 'http://collector:4318/v1/traces' } };
  const mesh = resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' }, spec });
  const withObs = buildSnapshotContent({ resources: [mesh], instances: [] }, all);
  assert.deepEqual(withObs.observability, { accessLog: { enabled: true, sampleRate: 1, alwaysLogErrors: true, path: 'stdout' }, tracing: { sampleRate: 1, otlpEndpoint: 'http://collector:4318/v1/traces' } });
  const plain = resource({ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' }, spec: {} });
  const without = buildSnapshotContent({ resources: [plain], instances: [] }, all);
  assert.equal(without.observability, undefined);
  assert.notEqual(withObs.hash, without.hash);
  // Without the settings the hash is what it was before they existed.
  assert.equal(without.hash, buildSnapshotContent({ resources: [], instances: [] }, all).hash);
});

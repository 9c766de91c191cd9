// The whole-document validator: envelope checks (apiVersion, kind, metadata, top-level fields), the
// normalization (store-owned metadata and status dropped, namespace and spec defaults filled) and
// spec errors surfaced with their full paths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource, ValidationResult } from './resource.ts';
import { validateResource } from './validate-resource.ts';

function valid(raw: unknown): Resource {
  const r = validateResource(raw);
  if (!r.ok) assert.fail(`expected valid, got ${JSON.stringify(r.errors)}`);
  return r.value;
}

function errorPaths(r: ValidationResult<unknown>): string[] {
  assert.equal(r.ok, false, 'expected validation errors');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

const service = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'weft.dev/v1alpha1',
  kind: 'Service',
  metadata: { name: 'reviews' },
  spec: { ports: [{ port: 80 }] },
  ...over,
});

test('normalizes a Service: namespace defaulted, spec defaults filled', () => {
  assert.deepEqual(valid(service()), {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Service',
    metadata: { name: 'reviews', namespace: 'default' },
    spec: { ports: [{ port: 80, targetPort: 80, appProtocol: 'http' }] },
  });
});

test('keeps labels, annotations and resourceVersion; drops store-owned metadata and status', () => {
  const r = valid(
    service({
      metadata: {
        name: 'reviews',
        namespace: 'shop',
        labels: { app: 'reviews', 'weft.dev/tier': 'backend' },
        annotations: { 'example.com/config': '{"long": "free text is fine in annotations, even when it is much longer than sixty-three characters"}' },
        resourceVersion: '41',
        creationTimestamp: '2024-01-01T00:00:00Z',
        generation: 3,
        uid: '0b0c',
        managedFields: [],
      },
      status: { conditions: [] },
    }),
  );
  assert.deepEqual(r.metadata, {
    name: 'reviews',
    namespace: 'shop',
    labels: { app: 'reviews', 'weft.dev/tier': 'backend' },
    annotations: { 'example.com/config': '{"long": "free text is fine in annotations, even when it is much longer than sixty-three characters"}' },
    resourceVersion: '41',
  });
  assert.equal('status' in r, false);
});

test('an unquoted numeric resourceVersion is kept as its string', () => {
  assert.equal(valid(service({ metadata: { name: 'a', resourceVersion: 42 } })).metadata.resourceVersion, '42');
});

test('a kind whose fields are all optional may omit spec', () => {
  const r = valid({ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' } });
  assert.deepEqual((r.spec as { outboundTrafficPolicy: unknown }).outboundTrafficPolicy, { mode: 'ALLOW_ANY' });
});

test('validates each kind through its own spec validator', () => {
  const route = valid({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'reviews' },
    spec: { parentRefs: [{ name: 'reviews' }], rules: [{ backendRefs: [{ name: 'reviews-v1' }] }] },
  });
  assert.deepEqual((route.spec as { rules: { backendRefs: unknown }[] }).rules[0].backendRefs, [{ kind: 'Service', name: 'reviews-v1', weight: 1 }]);
  valid({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'greeter' }, spec: { parentRefs: [{ name: 'greeter' }] } });
  valid({ apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name: 'p' }, spec: { targetRefs: [{ kind: 'Service', name: 'reviews' }] } });
});

const cases: [string, unknown, string[]][] = [
  ['not an object', 'kind: Service', ['']],
  ['a list', [service()], ['']],
  ['unknown top-level field', service({ data: {} }), ['data']],
  ['apiVersion missing', service({ apiVersion: undefined }), ['apiVersion']],
  ['apiVersion of another kind', service({ apiVersion: 'gateway.networking.k8s.io/v1' }), ['apiVersion']],
  ['kind missing', service({ kind: undefined }), ['kind']],
  ['kind unknown', service({ kind: 'Gateway' }), ['kind']],
  ['kind in the wrong case', service({ kind: 'service' }), ['kind']],
  ['metadata missing', service({ metadata: undefined }), ['metadata']],
  ['metadata not an object', service({ metadata: 'reviews' }), ['metadata']],
  ['name missing', service({ metadata: {} }), ['metadata.name']],
  ['name upper case', service({ metadata: { name: 'Reviews' } }), ['metadata.name']],
  ['name with dots', service({ metadata: { name: 'reviews.v1' } }), ['metadata.name']],
  ['name too long', service({ metadata: { name: 'a'.repeat(64) } }), ['metadata.name']],
  ['namespace invalid', service({ metadata: { name: 'a', namespace: 'My_NS' } }), ['metadata.namespace']],
  ['namespace empty', service({ metadata: { name: 'a', namespace: '' } }), ['metadata.namespace']],
  ['label value not a string', service({ metadata: { name: 'a', labels: { tier: 2 } } }), ['metadata.labels.tier']],
  ['label value too long', service({ metadata: { name: 'a', labels: { tier: 'x'.repeat(64) } } }), ['metadata.labels.tier']],
  ['annotation bad key', service({ metadata: { name: 'a', annotations: { 'not valid!': 'x' } } }), ['metadata.annotations.not valid!']],
  ['annotation value not a string', service({ metadata: { name: 'a', annotations: { note: true } } }), ['metadata.annotations.note']],
  ['annotations too large', service({ metadata: { name: 'a', annotations: { big: 'x'.repeat(256 * 1024) } } }), ['metadata.annotations']],
  ['resourceVersion not a string', service({ metadata: { name: 'a', resourceVersion: { v: 1 } } }), ['metadata.resourceVersion']],
  ['unknown metadata field', service({ metadata: { name: 'a', finalizers: [] } }), ['metadata.finalizers']],
  ['spec error has the full path', service({ spec: { ports: [{ port: 80 }, { port: 80 }] } }), ['spec.ports[1].port']],
  ['spec not an object', service({ spec: [] }), ['spec']],
  ['missing spec of a kind with required fields', service({ spec: undefined }), ['spec.ports']],
];

for (const [name, raw, expected] of cases) {
  test(`rejects: ${name}`, () => {
    assert.deepEqual(errorPaths(validateResource(raw)), expected);
  });
}

test('an unknown kind names the known kinds and suggests the right spelling', () => {
  const r = validateResource(service({ kind: 'httproute' }));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0].message, /BackendPolicy, Service, HTTPRoute, GRPCRoute, MeshConfig/);
  assert.match(r.errors[0].message, /did you mean HTTPRoute/);
});

test('collects envelope, metadata and spec errors in one pass', () => {
  const r = validateResource({
    apiVersion: 'weft.dev/v1',
    kind: 'Service',
    metadata: { name: 'Bad_Name', namespace: 'x y', labels: { a: 1 } },
    spec: { ports: [{ port: 0 }] },
    extra: true,
  });
  assert.deepEqual(errorPaths(r).sort(), ['apiVersion', 'extra', 'metadata.labels.a', 'metadata.name', 'metadata.namespace', 'spec.ports[0].port']);
});

test('metadata errors are still reported when the kind is unknown', () => {
  assert.deepEqual(errorPaths(validateResource({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'X' } })), ['kind', 'metadata.name']);
});

// Service spec validation: defaults, exact error paths, uniqueness of port numbers and names.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidationResult } from '../resource.ts';
import { serviceType, type ServiceSpec } from './service.ts';

function valid(spec: unknown): ServiceSpec {
  const r = serviceType.validateSpec(spec, 'spec');
  if (!r.ok) assert.fail(`expected valid, got ${JSON.stringify(r.errors)}`);
  return r.value;
}

function errorPaths(r: ValidationResult<unknown>): string[] {
  assert.equal(r.ok, false, 'expected validation errors');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

test('fills targetPort and appProtocol defaults and keeps the selector', () => {
  const spec = valid({ selector: { app: 'reviews' }, ports: [{ name: 'http', port: 80 }, { port: 9090, targetPort: 'metrics', appProtocol: 'grpc' }] });
  assert.deepEqual(spec, {
    selector: { app: 'reviews' },
    ports: [
      { name: 'http', port: 80, targetPort: 80, appProtocol: 'http' },
      { port: 9090, targetPort: 'metrics', appProtocol: 'grpc' },
    ],
  });
});

test('selector is optional and absent in the result when not given', () => {
  const spec = valid({ ports: [{ port: 8080, targetPort: 18080 }] });
  assert.equal('selector' in spec, false);
  assert.deepEqual(spec.ports, [{ port: 8080, targetPort: 18080, appProtocol: 'http' }]);
});

const cases: [string, unknown, string[]][] = [
  ['spec not an object', 'x', ['spec']],
  ['ports missing', {}, ['spec.ports']],
  ['ports empty', { ports: [] }, ['spec.ports']],
  ['unknown top field', { ports: [{ port: 80 }], loadBalancerIP: '10.0.0.1' }, ['spec.loadBalancerIP']],
  ['unknown port field', { ports: [{ port: 80, hostPort: 80 }] }, ['spec.ports[0].hostPort']],
  ['port not an object', { ports: [80] }, ['spec.ports[0]']],
  ['port missing', { ports: [{ name: 'http' }] }, ['spec.ports[0].port']],
  ['port zero', { ports: [{ port: 0 }] }, ['spec.ports[0].port']],
  ['port too big', { ports: [{ port: 65536 }] }, ['spec.ports[0].port']],
  ['port fractional', { ports: [{ port: 80.5 }] }, ['spec.ports[0].port']],
  ['port as string', { ports: [{ port: '80' }] }, ['spec.ports[0].port']],
  ['name not a DNS label', { ports: [{ port: 80, name: 'HTTP_port' }] }, ['spec.ports[0].name']],
  ['name empty', { ports: [{ port: 80, name: '' }] }, ['spec.ports[0].name']],
  ['targetPort out of range', { ports: [{ port: 80, targetPort: 70000 }] }, ['spec.ports[0].targetPort']],
  ['targetPort bad name', { ports: [{ port: 80, targetPort: 'Not A Name' }] }, ['spec.ports[0].targetPort']],
  ['targetPort wrong type', { ports: [{ port: 80, targetPort: true }] }, ['spec.ports[0].targetPort']],
  ['appProtocol unknown', { ports: [{ port: 80, appProtocol: 'https' }] }, ['spec.ports[0].appProtocol']],
  ['selector value not a string', { selector: { app: 1 }, ports: [{ port: 80 }] }, ['spec.selector.app']],
  ['selector bad key', { selector: { 'bad key': 'x' }, ports: [{ port: 80 }] }, ['spec.selector.bad key']],
  ['duplicate port number reported on the duplicate', { ports: [{ port: 80, name: 'a' }, { port: 81, name: 'b' }, { port: 80, name: 'c' }] }, ['spec.ports[2].port']],
  ['duplicate port name reported on the duplicate', { ports: [{ port: 80, name: 'web' }, { port: 81, name: 'web' }] }, ['spec.ports[1].name']],
];

for (const [name, spec, expected] of cases) {
  test(`rejects: ${name}`, () => {
    assert.deepEqual(errorPaths(serviceType.validateSpec(spec, 'spec')), expected);
  });
}

test('collects every error in one pass', () => {
  const r = serviceType.validateSpec({ extra: 1, ports: [{ port: 0, appProtocol: 'udp' }, { port: 80, name: 'x' }, { port: 80, name: 'x' }] }, 'spec');
  assert.deepEqual(errorPaths(r).sort(), ['spec.extra', 'spec.ports[0].appProtocol', 'spec.ports[0].port', 'spec.ports[2].name', 'spec.ports[2].port'].sort());
});

test('registry metadata', () => {
  assert.equal(serviceType.kind, 'Service');
  assert.equal(serviceType.apiVersion, 'weft.dev/v1alpha1');
  assert.equal(serviceType.plural, 'services');
  assert.deepEqual(serviceType.aliases, ['service', 'svc']);
});

test('a Kubernetes v1 Service manifest is accepted verbatim and means the same as weft’s own kind', async () => {
  const { validateResource } = await import('../validate-resource.ts');
  const manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'reviews', namespace: 'shop', labels: { app: 'reviews' } },
    spec: {
      type: 'ClusterIP',
      sessionAffinity: 'None',
      selector: { app: 'reviews' },
      ports: [
        { name: 'http', port: 80, targetPort: 9080, protocol: 'TCP' },
        { name: 'grpc', port: 9090, targetPort: 'grpc', appProtocol: 'kubernetes.io/h2c' },
      ],
    },
    status: { loadBalancer: {} },
  };
  const r = validateResource(manifest);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.equal(r.value.apiVersion, 'weft.dev/v1alpha1', 'stored as the one kind it is');
  assert.deepEqual(r.value.spec, {
    selector: { app: 'reviews' },
    ports: [
      { name: 'http', port: 80, targetPort: 9080, appProtocol: 'http' },
      { name: 'grpc', port: 9090, targetPort: 'grpc', appProtocol: 'http2' },
    ],
  });
  const bad = validateResource({ ...manifest, spec: { type: 'ExternalName', ports: [{ port: 80, protocol: 'UDP', appProtocol: 'https' }] } });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors.map((e) => e.path).sort(), ['spec.ports[0].appProtocol', 'spec.ports[0].protocol', 'spec.type']);
  const otherVersion = validateResource({ ...manifest, apiVersion: 'v2' });
  assert.ok(!otherVersion.ok && otherVersion.errors[0].path === 'apiVersion');
});

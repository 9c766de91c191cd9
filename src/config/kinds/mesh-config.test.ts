// MeshConfig spec validation: defaults for an empty spec, the BackendPolicy rules reused for the
// mesh default policy (with its error paths), and targetRefs refused there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidationResult } from '../resource.ts';
import { DEFAULT_BACKEND_POLICY } from './backend-policy.ts';
import { DEFAULT_MESH_CONFIG, meshConfigType, type MeshConfigSpec } from './mesh-config.ts';

function valid(spec: unknown): MeshConfigSpec {
  const r = meshConfigType.validateSpec(spec, 'spec');
  if (!r.ok) assert.fail(`expected valid, got ${JSON.stringify(r.errors)}`);
  return r.value;
}

function errorPaths(r: ValidationResult<unknown>): string[] {
  assert.equal(r.ok, false, 'expected validation errors');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

test('an empty spec gets every default', () => {
  assert.deepEqual(valid({}), {
    outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
    mtls: { mode: 'PERMISSIVE' },
    defaultBackendPolicy: {
      loadBalancer: DEFAULT_BACKEND_POLICY.loadBalancer,
      timeouts: DEFAULT_BACKEND_POLICY.timeouts,
      retries: DEFAULT_BACKEND_POLICY.retries,
      circuitBreaker: DEFAULT_BACKEND_POLICY.circuitBreaker,
      outlierDetection: DEFAULT_BACKEND_POLICY.outlierDetection,
      slowStart: DEFAULT_BACKEND_POLICY.slowStart,
    },
    authorization: { defaultAction: 'ALLOW' },
  });
  assert.deepEqual(valid({}), DEFAULT_MESH_CONFIG);
  assert.equal('targetRefs' in DEFAULT_MESH_CONFIG.defaultBackendPolicy, false);
});

test('mtls.mode is kept as given', () => {
  assert.deepEqual(valid({ mtls: { mode: 'STRICT' } }).mtls, { mode: 'STRICT' });
  assert.deepEqual(valid({ mtls: { mode: 'DISABLE' } }).mtls, { mode: 'DISABLE' });
});

test('authorization.defaultAction: ALLOW by default, DENY for a default-deny mesh', () => {
  assert.deepEqual(valid({ authorization: { defaultAction: 'DENY' } }).authorization, { defaultAction: 'DENY' });
  assert.deepEqual(valid({ authorization: {} }).authorization, { defaultAction: 'ALLOW' });
});

test('a partial default policy is completed from BackendPolicy defaults', () => {
  const spec = valid({ outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' }, defaultBackendPolicy: { loadBalancer: { algorithm: 'least-request' }, timeouts: { requestMs: 5000 } } });
  assert.deepEqual(spec, {
    outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    mtls: { mode: 'PERMISSIVE' },
    defaultBackendPolicy: {
      loadBalancer: { algorithm: 'least-request', choiceCount: 2 },
      timeouts: { connectMs: 2000, responseHeaderMs: 30000, streamIdleMs: 300000, requestMs: 5000, idleMs: 4000 },
      retries: { attempts: 2 },
      circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 1024 },
      outlierDetection: DEFAULT_BACKEND_POLICY.outlierDetection,
      slowStart: DEFAULT_BACKEND_POLICY.slowStart,
    },
    authorization: { defaultAction: 'ALLOW' },
  });
  assert.equal('targetRefs' in spec.defaultBackendPolicy, false);
});

const cases: [string, unknown, string[]][] = [
  ['spec not an object', 5, ['spec']],
  ['unknown field', { outbound: {} }, ['spec.outbound']],
  ['mode unknown', { outboundTrafficPolicy: { mode: 'DENY' } }, ['spec.outboundTrafficPolicy.mode']],
  ['outboundTrafficPolicy unknown field', { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egress: [] } }, ['spec.outboundTrafficPolicy.egress']],
  ['outboundTrafficPolicy not an object', { outboundTrafficPolicy: 'ALLOW_ANY' }, ['spec.outboundTrafficPolicy']],
  ['mtls mode unknown', { mtls: { mode: 'ON' } }, ['spec.mtls.mode']],
  ['mtls unknown field', { mtls: { mode: 'STRICT', ports: [] } }, ['spec.mtls.ports']],
  ['defaultBackendPolicy not an object', { defaultBackendPolicy: [] }, ['spec.defaultBackendPolicy']],
  ['defaultBackendPolicy with targetRefs', { defaultBackendPolicy: { targetRefs: [{ kind: 'Service', name: 'a' }] } }, ['spec.defaultBackendPolicy.targetRefs']],
  ['defaultBackendPolicy bad algorithm', { defaultBackendPolicy: { loadBalancer: { algorithm: 'consistent-hash' } } }, ['spec.defaultBackendPolicy.loadBalancer.algorithm']],
  ['defaultBackendPolicy bad timeout', { defaultBackendPolicy: { timeouts: { connectMs: 0 } } }, ['spec.defaultBackendPolicy.timeouts.connectMs']],
  ['defaultBackendPolicy unknown field', { defaultBackendPolicy: { retry: {} } }, ['spec.defaultBackendPolicy.retry']],
  ['authorization defaultAction unknown', { authorization: { defaultAction: 'AUDIT' } }, ['spec.authorization.defaultAction']],
  ['authorization unknown field', { authorization: { defaultAction: 'DENY', mode: 'x' } }, ['spec.authorization.mode']],
];

for (const [name, spec, expected] of cases) {
  test(`rejects: ${name}`, () => {
    assert.deepEqual(errorPaths(meshConfigType.validateSpec(spec, 'spec')), expected);
  });
}

test('the unknown-field hint inside defaultBackendPolicy does not suggest targetRefs', () => {
  const r = meshConfigType.validateSpec({ defaultBackendPolicy: { retry: {} } }, 'spec');
  assert.equal(r.ok, false);
  if (!r.ok) assert.doesNotMatch(r.errors[0].message, /targetRefs/);
});

test('collects every error in one pass', () => {
  const r = meshConfigType.validateSpec({ outboundTrafficPolicy: { mode: 'x' }, defaultBackendPolicy: { targetRefs: [], retries: { attempts: 99 } } }, 'spec');
  assert.deepEqual(errorPaths(r).sort(), ['spec.defaultBackendPolicy.retries.attempts', 'spec.defaultBackendPolicy.targetRefs', 'spec.outboundTrafficPolicy.mode']);
});

test('accessLog and tracing: defaults filled, bad values refused with their field paths', () => {
  const spec = valid({ accessLog: { enabled: true }, tracing: { otlpEndpoint: 'http://collector:4318/v1/traces' } });
  assert.deepEqual(spec.accessLog, { enabled: true, sampleRate: 1, alwaysLogErrors: true, path: 'stdout' });
  assert.deepEqual(spec.tracing, { sampleRate: 1, otlpEndpoint: 'http://collector:4318/v1/traces' });
  assert.deepEqual(valid({ accessLog: { enabled: true, sampleRate: 0.1, path: '/var/log/weft.log', fields: ['time', 'requestId', 'status'], alwaysLogErrors: false } }).accessLog, { enabled: true, sampleRate: 0.1, alwaysLogErrors: false, path: '/var/log/weft.log', fields: ['time', 'requestId', 'status'] });
  assert.deepEqual(errorPaths(meshConfigType.validateSpec({ accessLog: { enabled: 'yes', sampleRate: 2, path: 'relative.log', fields: ['nope'], extra: 1 } }, 'spec')).sort(), [
    'spec.accessLog.enabled', 'spec.accessLog.extra', 'spec.accessLog.fields[0]', 'spec.accessLog.path', 'spec.accessLog.sampleRate',
  ]);
  assert.deepEqual(errorPaths(meshConfigType.validateSpec({ tracing: { sampleRate: -0.5 } }, 'spec')).sort(), ['spec.tracing.otlpEndpoint', 'spec.tracing.sampleRate']);
  assert.deepEqual(errorPaths(meshConfigType.validateSpec({ tracing: { otlpEndpoint: 'grpc://collector:4317' } }, 'spec')), ['spec.tracing.otlpEndpoint']);
});

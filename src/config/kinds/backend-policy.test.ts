// BackendPolicy spec validation: defaults and exact error paths (the kind predates this test file).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidationResult } from '../resource.ts';
import { DEFAULT_OUTLIER_DETECTION, completeOutlierDetection, completeSlowStart } from './backend-policy-outlier.ts';
import { DEFAULT_BACKEND_POLICY, backendPolicyType, completeTimeouts, type BackendPolicySpec } from './backend-policy.ts';

function valid(spec: unknown): BackendPolicySpec {
  const r = backendPolicyType.validateSpec(spec, 'spec');
  if (!r.ok) assert.fail(`expected valid, got ${JSON.stringify(r.errors)}`);
  return r.value;
}

function errorPaths(r: ValidationResult<unknown>): string[] {
  assert.equal(r.ok, false, 'expected validation errors');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

const targets = [{ kind: 'Service', name: 'reviews' }];

test('fills every default', () => {
  assert.deepEqual(valid({ targetRefs: targets }), {
    targetRefs: [{ kind: 'Service', name: 'reviews' }],
    loadBalancer: { algorithm: 'peak-ewma', choiceCount: 2 },
    // Nothing total by default: a long stream that keeps moving is never cut (issue 10, class 6).
    timeouts: { connectMs: 2000, responseHeaderMs: 30000, streamIdleMs: 300000, requestMs: 0, idleMs: 4000 },
    retries: { attempts: 2 },
    circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 1024 },
    outlierDetection: {
      consecutive5xx: 5,
      consecutiveGatewayErrors: 5,
      consecutiveConnectFailures: 1,
      intervalMs: 10000,
      baseEjectionTimeMs: 30000,
      maxEjectionTimeMs: 300000,
      maxEjectionPercent: 50,
      successRate: { enabled: true, minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 },
    },
    slowStart: { windowMs: 0, aggression: 1, minWeightPercent: 10 },
  });
});

test('keeps given values and completes partial sections', () => {
  const spec = valid({ targetRefs: targets, loadBalancer: { algorithm: 'least-request', choiceCount: 3 }, timeouts: { requestMs: 30000, streamIdleMs: 0 }, retries: { attempts: 0 } });
  assert.deepEqual(spec.loadBalancer, { algorithm: 'least-request', choiceCount: 3 });
  assert.deepEqual(spec.timeouts, { connectMs: 2000, responseHeaderMs: 30000, streamIdleMs: 0, requestMs: 30000, idleMs: 4000 });
  assert.deepEqual(spec.retries, { attempts: 0 });
});

const cases: [string, unknown, string[]][] = [
  ['targetRefs missing', {}, ['spec.targetRefs']],
  ['targetRefs empty', { targetRefs: [] }, ['spec.targetRefs']],
  ['targetRef kind missing', { targetRefs: [{ name: 'a' }] }, ['spec.targetRefs[0].kind']],
  ['targetRef bad name', { targetRefs: [{ kind: 'Service', name: 'A_B' }] }, ['spec.targetRefs[0].name']],
  ['targetRef unknown field', { targetRefs: [{ kind: 'Service', name: 'a', port: 80 }] }, ['spec.targetRefs[0].port']],
  ['unknown algorithm', { targetRefs: targets, loadBalancer: { algorithm: 'consistent-hash' } }, ['spec.loadBalancer.algorithm']],
  ['choiceCount too small', { targetRefs: targets, loadBalancer: { choiceCount: 1 } }, ['spec.loadBalancer.choiceCount']],
  ['connectMs zero', { targetRefs: targets, timeouts: { connectMs: 0 } }, ['spec.timeouts.connectMs']],
  ['requestMs as string', { targetRefs: targets, timeouts: { requestMs: '30s' } }, ['spec.timeouts.requestMs']],
  ['responseHeaderMs negative', { targetRefs: targets, timeouts: { responseHeaderMs: -1 } }, ['spec.timeouts.responseHeaderMs']],
  ['streamIdleMs fractional', { targetRefs: targets, timeouts: { streamIdleMs: 1.5 } }, ['spec.timeouts.streamIdleMs']],
  ['streamIdleMs above a day', { targetRefs: targets, timeouts: { streamIdleMs: 86_400_001 } }, ['spec.timeouts.streamIdleMs']],
  ['idleMs zero', { targetRefs: targets, timeouts: { idleMs: 0 } }, ['spec.timeouts.idleMs']],
  ['unknown timeout (Envoy spelling)', { targetRefs: targets, timeouts: { stream_idle_timeout: 1000 } }, ['spec.timeouts.stream_idle_timeout']],
  ['attempts too many', { targetRefs: targets, retries: { attempts: 11 } }, ['spec.retries.attempts']],
  ['unknown field (Envoy spelling)', { targetRefs: targets, circuit_breakers: {} }, ['spec.circuit_breakers']],
  ['maxEjectionPercent over 100', { targetRefs: targets, outlierDetection: { maxEjectionPercent: 101 } }, ['spec.outlierDetection.maxEjectionPercent']],
  ['negative consecutive5xx', { targetRefs: targets, outlierDetection: { consecutive5xx: -1 } }, ['spec.outlierDetection.consecutive5xx']],
  ['negative baseEjectionTimeMs', { targetRefs: targets, outlierDetection: { baseEjectionTimeMs: -5 } }, ['spec.outlierDetection.baseEjectionTimeMs']],
  ['base ejection time above the max', { targetRefs: targets, outlierDetection: { baseEjectionTimeMs: 60000, maxEjectionTimeMs: 30000 } }, ['spec.outlierDetection.maxEjectionTimeMs']],
  ['base above the default max', { targetRefs: targets, outlierDetection: { baseEjectionTimeMs: 600000 } }, ['spec.outlierDetection.maxEjectionTimeMs']],
  ['intervalMs zero', { targetRefs: targets, outlierDetection: { intervalMs: 0 } }, ['spec.outlierDetection.intervalMs']],
  ['Envoy spelling of a field', { targetRefs: targets, outlierDetection: { base_ejection_time: 1000 } }, ['spec.outlierDetection.base_ejection_time']],
  ['stdevFactor zero', { targetRefs: targets, outlierDetection: { successRate: { stdevFactor: 0 } } }, ['spec.outlierDetection.successRate.stdevFactor']],
  ['stdevFactor as string', { targetRefs: targets, outlierDetection: { successRate: { stdevFactor: '1.9' } } }, ['spec.outlierDetection.successRate.stdevFactor']],
  ['minimumHosts zero', { targetRefs: targets, outlierDetection: { successRate: { minimumHosts: 0 } } }, ['spec.outlierDetection.successRate.minimumHosts']],
  ['successRate.enabled not a boolean', { targetRefs: targets, outlierDetection: { successRate: { enabled: 'yes' } } }, ['spec.outlierDetection.successRate.enabled']],
  ['slowStart negative window', { targetRefs: targets, slowStart: { windowMs: -1 } }, ['spec.slowStart.windowMs']],
  ['slowStart aggression zero', { targetRefs: targets, slowStart: { aggression: 0 } }, ['spec.slowStart.aggression']],
  ['slowStart minWeightPercent over 100', { targetRefs: targets, slowStart: { minWeightPercent: 150 } }, ['spec.slowStart.minWeightPercent']],
  ['slowStart unknown field', { targetRefs: targets, slowStart: { slow_start_window: 1000 } }, ['spec.slowStart.slow_start_window']],
];

for (const [name, spec, expected] of cases) {
  test(`rejects: ${name}`, () => {
    assert.deepEqual(errorPaths(backendPolicyType.validateSpec(spec, 'spec')), expected);
  });
}

test('a policy stored before responseHeaderMs and streamIdleMs existed still validates, and gets their defaults', () => {
  // What the store holds for a policy applied under the old defaults: every field then known, filled in.
  const spec = valid({ targetRefs: targets, timeouts: { connectMs: 2000, requestMs: 30000, idleMs: 60000 } });
  assert.deepEqual(spec.timeouts, { connectMs: 2000, responseHeaderMs: 30000, streamIdleMs: 300000, requestMs: 30000, idleMs: 60000 });
  // The snapshot builder completes such a stored spec the same way, without validating it again.
  assert.deepEqual(completeTimeouts({ connectMs: 2000, requestMs: 30000, idleMs: 60000 }), spec.timeouts);
  const complete = DEFAULT_BACKEND_POLICY.timeouts;
  assert.equal(completeTimeouts(complete), complete, 'a complete value is returned as is');
});

test('outlierDetection and slowStart: given values kept, the rest completed', () => {
  const spec = valid({ targetRefs: targets, outlierDetection: { consecutive5xx: 3, baseEjectionTimeMs: 1000, successRate: { stdevFactor: 1 } }, slowStart: { windowMs: 60000, aggression: 1.5 } });
  assert.equal(spec.outlierDetection?.consecutive5xx, 3);
  assert.equal(spec.outlierDetection?.baseEjectionTimeMs, 1000);
  assert.equal(spec.outlierDetection?.maxEjectionTimeMs, 300000);
  assert.deepEqual(spec.outlierDetection?.successRate, { enabled: true, minimumHosts: 5, requestVolume: 100, stdevFactor: 1 });
  assert.deepEqual(spec.slowStart, { windowMs: 60000, aggression: 1.5, minWeightPercent: 10 });
});

test('a policy stored before outlierDetection existed is completed with the defaults', () => {
  assert.equal(completeOutlierDetection(undefined), DEFAULT_OUTLIER_DETECTION);
  assert.deepEqual(completeOutlierDetection({ consecutive5xx: 2, successRate: { minimumHosts: 3 } as never }), {
    ...DEFAULT_OUTLIER_DETECTION,
    consecutive5xx: 2,
    successRate: { ...DEFAULT_OUTLIER_DETECTION.successRate, minimumHosts: 3 },
  });
  assert.deepEqual(completeSlowStart({ windowMs: 5 }), { windowMs: 5, aggression: 1, minWeightPercent: 10 });
});

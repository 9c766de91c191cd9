// BackendPolicy `adaptiveConcurrency`: off when absent, defaults filled in (Envoy's), exact error
// paths, and the proxy's snapshot check of the same fields.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendPolicyType, DEFAULT_BACKEND_POLICY } from './backend-policy.ts';
import { DEFAULT_ADAPTIVE_CONCURRENCY } from './backend-policy-adaptive-concurrency.ts';
import { validateSnapshot } from '../validate-snapshot.ts';

const targetRefs = [{ kind: 'Service', name: 'reviews' }];

function paths(spec: unknown): string[] {
  const r = backendPolicyType.validateSpec(spec, 'spec');
  assert.equal(r.ok, false, 'expected validation errors');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

test('absent: off, and the policy value has no such field', () => {
  const r = backendPolicyType.validateSpec({ targetRefs }, 'spec');
  assert.ok(r.ok);
  assert.equal('adaptiveConcurrency' in r.value, false);
});

test('empty object: on with Envoy\'s defaults; given fields are kept, the rest filled in', () => {
  const r = backendPolicyType.validateSpec({ targetRefs, adaptiveConcurrency: {} }, 'spec');
  assert.ok(r.ok);
  assert.deepEqual(r.value.adaptiveConcurrency, {
    sampleAggregatePercentile: 50,
    concurrencyLimitParams: { maxConcurrencyLimit: 1000, concurrencyUpdateIntervalMs: 100 },
    minRttCalcParams: { intervalMs: 60000, requestCount: 50, jitterPercent: 10, minConcurrency: 3, bufferPercent: 25 },
  });
  const p = backendPolicyType.validateSpec({ targetRefs, adaptiveConcurrency: { sampleAggregatePercentile: 90, minRttCalcParams: { requestCount: 20, minConcurrency: 1 } } }, 'spec');
  assert.ok(p.ok);
  assert.deepEqual(p.value.adaptiveConcurrency, { ...DEFAULT_ADAPTIVE_CONCURRENCY, sampleAggregatePercentile: 90, minRttCalcParams: { ...DEFAULT_ADAPTIVE_CONCURRENCY.minRttCalcParams, requestCount: 20, minConcurrency: 1 } });
});

const bad: [string, unknown, string[]][] = [
  ['not an object', [], ['spec.adaptiveConcurrency']],
  ['unknown field', { enabled: true }, ['spec.adaptiveConcurrency.enabled']],
  ['percentile above 100', { sampleAggregatePercentile: 101 }, ['spec.adaptiveConcurrency.sampleAggregatePercentile']],
  ['percentile not an integer', { sampleAggregatePercentile: 50.5 }, ['spec.adaptiveConcurrency.sampleAggregatePercentile']],
  ['max limit 0', { concurrencyLimitParams: { maxConcurrencyLimit: 0 } }, ['spec.adaptiveConcurrency.concurrencyLimitParams.maxConcurrencyLimit']],
  ['update interval too short', { concurrencyLimitParams: { concurrencyUpdateIntervalMs: 1 } }, ['spec.adaptiveConcurrency.concurrencyLimitParams.concurrencyUpdateIntervalMs']],
  ['unknown limit field', { concurrencyLimitParams: { maxRequests: 5 } }, ['spec.adaptiveConcurrency.concurrencyLimitParams.maxRequests']],
  ['interval too short', { minRttCalcParams: { intervalMs: 10 } }, ['spec.adaptiveConcurrency.minRttCalcParams.intervalMs']],
  ['requestCount 0', { minRttCalcParams: { requestCount: 0 } }, ['spec.adaptiveConcurrency.minRttCalcParams.requestCount']],
  ['jitter above 100', { minRttCalcParams: { jitterPercent: 150 } }, ['spec.adaptiveConcurrency.minRttCalcParams.jitterPercent']],
  ['minConcurrency 0', { minRttCalcParams: { minConcurrency: 0 } }, ['spec.adaptiveConcurrency.minRttCalcParams.minConcurrency']],
  ['buffer negative', { minRttCalcParams: { bufferPercent: -1 } }, ['spec.adaptiveConcurrency.minRttCalcParams.bufferPercent']],
  ['min above max', { concurrencyLimitParams: { maxConcurrencyLimit: 5 }, minRttCalcParams: { minConcurrency: 6 } }, ['spec.adaptiveConcurrency.minRttCalcParams.minConcurrency']],
  ['several at once', { sampleAggregatePercentile: 'p50', minRttCalcParams: { requestCount: 'x', fixedValue: 1 } }, ['spec.adaptiveConcurrency.sampleAggregatePercentile', 'spec.adaptiveConcurrency.minRttCalcParams.fixedValue', 'spec.adaptiveConcurrency.minRttCalcParams.requestCount']],
];
for (const [name, value, expected] of bad) {
  test(`rejects adaptiveConcurrency: ${name}`, () => {
    assert.deepEqual(paths({ targetRefs, adaptiveConcurrency: value }).sort(), [...expected].sort());
  });
}

function snapshot(adaptiveConcurrency: unknown): unknown {
  return { version: '1', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', services: [{ name: 'reviews', namespace: 'default', ports: [], policy: { ...DEFAULT_BACKEND_POLICY, adaptiveConcurrency } }] };
}

test('snapshot: a valid setting passes, a bad one is refused with its path, a newer field is tolerated', () => {
  assert.equal(validateSnapshot(snapshot(DEFAULT_ADAPTIVE_CONCURRENCY)).ok, true);
  assert.equal(validateSnapshot(snapshot(undefined)).ok, true);
  const r = validateSnapshot(snapshot({ ...DEFAULT_ADAPTIVE_CONCURRENCY, minRttCalcParams: { ...DEFAULT_ADAPTIVE_CONCURRENCY.minRttCalcParams, minConcurrency: 0 } }));
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.errors.map((e) => e.path), ['snapshot.services[0].policy.adaptiveConcurrency.minRttCalcParams.minConcurrency']);
  assert.equal(validateSnapshot(snapshot({ ...DEFAULT_ADAPTIVE_CONCURRENCY, someNewerField: 1 })).ok, true);
});

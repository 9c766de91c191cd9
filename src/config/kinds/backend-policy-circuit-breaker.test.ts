// BackendPolicy circuitBreaker: defaults, stored policies without it, and bad limits with field paths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendPolicyType } from './backend-policy.ts';
import { completeCircuitBreaker, DEFAULT_CIRCUIT_BREAKER } from './backend-policy-circuit-breaker.ts';
import { validateSnapshot } from '../validate-snapshot.ts';

const targetRefs = [{ kind: 'Service', name: 'reviews' }];

test('circuitBreaker: Envoy\'s defaults, partial sections completed', () => {
  const r = backendPolicyType.validateSpec({ targetRefs }, 'spec');
  assert.ok(r.ok);
  assert.deepEqual(r.value.circuitBreaker, { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 1024 });
  const p = backendPolicyType.validateSpec({ targetRefs, circuitBreaker: { maxRequests: 5 } }, 'spec');
  assert.ok(p.ok);
  assert.deepEqual(p.value.circuitBreaker, { ...DEFAULT_CIRCUIT_BREAKER, maxRequests: 5 });
});

test('circuitBreaker: a policy stored before the field existed gets the defaults', () => {
  assert.deepEqual(completeCircuitBreaker(undefined), DEFAULT_CIRCUIT_BREAKER);
  assert.deepEqual(completeCircuitBreaker({ maxRetries: 1 }), { ...DEFAULT_CIRCUIT_BREAKER, maxRetries: 1 });
});

test('circuitBreaker: bad limits are refused with their field paths', () => {
  const cases: [unknown, string[]][] = [
    [{ maxRequests: 0 }, ['spec.circuitBreaker.maxRequests']],
    [{ maxConnections: -1, maxRetries: 1.5 }, ['spec.circuitBreaker.maxConnections', 'spec.circuitBreaker.maxRetries']],
    [{ maxPendingRequests: 1_000_001 }, ['spec.circuitBreaker.maxPendingRequests']],
    [{ maxRequests: '5' }, ['spec.circuitBreaker.maxRequests']],
    [{ maxRequest: 5 }, ['spec.circuitBreaker.maxRequest']],
    ['open', ['spec.circuitBreaker']],
  ];
  for (const [circuitBreaker, paths] of cases) {
    const r = backendPolicyType.validateSpec({ targetRefs, circuitBreaker }, 'spec');
    assert.equal(r.ok, false, JSON.stringify(circuitBreaker));
    assert.deepEqual(r.ok ? [] : r.errors.map((e) => e.path), paths, JSON.stringify(circuitBreaker));
  }
});

test('snapshot: a proxy refuses (NACKs) a circuitBreaker with a limit out of range, accepts one without it', () => {
  const service = (policy: unknown) => ({ version: '1', outboundTrafficPolicy: 'ALLOW_ANY', services: [{ name: 's', namespace: 'default', policy, ports: [] }] });
  const base = { loadBalancer: { algorithm: 'round-robin' }, timeouts: { connectMs: 1, requestMs: 0, idleMs: 1 }, retries: { attempts: 0 } };
  assert.equal(validateSnapshot(service(base)).ok, true);
  assert.equal(validateSnapshot(service({ ...base, circuitBreaker: DEFAULT_CIRCUIT_BREAKER })).ok, true);
  const bad = validateSnapshot(service({ ...base, circuitBreaker: { ...DEFAULT_CIRCUIT_BREAKER, maxRequests: 0 } }));
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.ok ? [] : bad.errors.map((e) => e.path), ['snapshot.services[0].policy.circuitBreaker.maxRequests']);
});

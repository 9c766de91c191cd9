// BackendPolicy `retries` validation: what is kept, defaults filled on read, and exact error paths
// (through the API's validator and the proxy's snapshot check).

import test from 'node:test';
import assert from 'node:assert/strict';
import type { ValidationResult } from '../resource.ts';
import { backendPolicyType } from './backend-policy.ts';
import { completeRetries } from './backend-policy-retries.ts';
import { validateSnapshot } from '../validate-snapshot.ts';

const targets = [{ kind: 'Service', name: 'reviews' }];

function validate(retries: unknown): ValidationResult<{ retries: unknown }> {
  return backendPolicyType.validateSpec({ targetRefs: targets, retries }, 'spec') as ValidationResult<{ retries: unknown }>;
}

function errorPaths(r: ValidationResult<unknown>): string[] {
  assert.equal(r.ok, false, 'expected validation errors');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

test('keeps what was written, compactly; attempts filled', () => {
  const full = {
    attempts: 3,
    retryOn: ['5xx', 'unavailable', 'retriable-status-codes'],
    retriableStatusCodes: [409],
    perTryTimeoutMs: 200,
    backoff: { baseIntervalMs: 10, maxIntervalMs: 100 },
    retryNonIdempotent: true,
    budget: { ratio: 0.25, minRetriesPerSecond: 5, ttlMs: 5000 },
  };
  const r = validate(full);
  assert.ok(r.ok);
  assert.deepEqual(r.value.retries, full);
  const only = validate({ retryOn: ['reset'] });
  assert.ok(only.ok);
  assert.deepEqual(only.value.retries, { attempts: 2, retryOn: ['reset'] });
});

test('a stored policy with only attempts reads with every default', () => {
  assert.deepEqual(completeRetries({ attempts: 1 }), {
    attempts: 1,
    retryOn: [],
    retriableStatusCodes: [],
    perTryTimeoutMs: 0,
    backoff: { baseIntervalMs: 25, maxIntervalMs: 250 },
    retryNonIdempotent: false,
    budget: { ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 },
  });
});

const BAD: [string, unknown, string[]][] = [
  ['ratio over 1', { budget: { ratio: 1.5 } }, ['spec.retries.budget.ratio']],
  ['ratio negative', { budget: { ratio: -0.1 } }, ['spec.retries.budget.ratio']],
  ['ratio a string', { budget: { ratio: '0.2' } }, ['spec.retries.budget.ratio']],
  ['minRetriesPerSecond negative', { budget: { minRetriesPerSecond: -1 } }, ['spec.retries.budget.minRetriesPerSecond']],
  ['ttlMs not whole seconds', { budget: { ttlMs: 1500 } }, ['spec.retries.budget.ttlMs']],
  ['ttlMs too short', { budget: { ttlMs: 0 } }, ['spec.retries.budget.ttlMs']],
  ['budget unknown field', { budget: { percent: 20 } }, ['spec.retries.budget.percent']],
  ['negative base interval', { backoff: { baseIntervalMs: -5 } }, ['spec.retries.backoff.baseIntervalMs']],
  ['negative max interval', { backoff: { maxIntervalMs: -5 } }, ['spec.retries.backoff.maxIntervalMs']],
  ['base over max', { backoff: { baseIntervalMs: 300, maxIntervalMs: 200 } }, ['spec.retries.backoff.maxIntervalMs']],
  ['max below the default base', { backoff: { maxIntervalMs: 10 } }, ['spec.retries.backoff.maxIntervalMs']],
  ['unknown retryOn', { retryOn: ['5xx', 'retriable-4xx'] }, ['spec.retries.retryOn[1]']],
  ['retryOn repeated', { retryOn: ['reset', 'reset'] }, ['spec.retries.retryOn[1]']],
  ['code below 100', { retryOn: ['retriable-status-codes'], retriableStatusCodes: [99] }, ['spec.retries.retriableStatusCodes[0]']],
  ['code over 599', { retryOn: ['retriable-status-codes'], retriableStatusCodes: [503, 600] }, ['spec.retries.retriableStatusCodes[1]']],
  ['codes without retriable-status-codes', { retryOn: ['5xx'], retriableStatusCodes: [409] }, ['spec.retries.retriableStatusCodes']],
  ['negative per-try timeout', { perTryTimeoutMs: -1 }, ['spec.retries.perTryTimeoutMs']],
  ['retryNonIdempotent not a boolean', { retryNonIdempotent: 'yes' }, ['spec.retries.retryNonIdempotent']],
  ['unknown field', { perTryTimeout: '1s' }, ['spec.retries.perTryTimeout']],
];

for (const [name, retries, paths] of BAD) {
  test(`rejects ${name}`, () => {
    assert.deepEqual(errorPaths(validate(retries)), paths);
  });
}

test('snapshot validation: the proxy NACKs the same bad retries, and accepts an old policy with only attempts', () => {
  const snapshot = (retries: unknown) => ({
    version: '1',
    outboundTrafficPolicy: 'ALLOW_ANY',
    services: [{ name: 'reviews', namespace: 'default', ports: [], policy: { loadBalancer: { algorithm: 'round-robin' }, timeouts: { connectMs: 1000, requestMs: 0, idleMs: 4000 }, retries } }],
  });
  assert.equal(validateSnapshot(snapshot({ attempts: 2 })).ok, true);
  assert.deepEqual(errorPaths(validateSnapshot(snapshot({ attempts: 2, budget: { ratio: 2 } }))), ['snapshot.services[0].policy.retries.budget.ratio']);
  assert.deepEqual(errorPaths(validateSnapshot(snapshot({ attempts: 2, retryOn: ['sometimes'] }))), ['snapshot.services[0].policy.retries.retryOn[0]']);
  assert.deepEqual(errorPaths(validateSnapshot(snapshot({}))), ['snapshot.services[0].policy.retries.attempts']);
});

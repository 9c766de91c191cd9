// Unit tests of retryOn classification: statuses, grpc-status, failure kinds, and the defaults a
// policy stored with only `attempts` keeps.

import test from 'node:test';
import assert from 'node:assert/strict';
import { backendRetryPolicy, compileRetries, compileRouteRetry, retriesAnswer, retriesFailure } from './retry-policy.ts';
import type { FailureKind } from '../../http/attempt-rules.ts';

const ANSWERLESS: FailureKind[] = ['connect', 'peer-app-unreachable', 'reset-before-response', 'reset-after-response', 'peer-app-reset', 'timeout', 'per-try-timeout'];

test('a policy with only attempts: the never-reached-the-app rule alone, default budget and backoff', () => {
  const p = compileRetries({ attempts: 2 });
  assert.equal(p.attempts, 2);
  assert.equal(p.widened, false);
  for (const k of ANSWERLESS) assert.equal(retriesFailure(p, k), false, k);
  for (const s of [500, 502, 503, 504]) assert.equal(retriesAnswer(p, s, undefined), undefined);
  assert.equal(retriesAnswer(p, 200, '14'), undefined);
  assert.deepEqual(p.budget, { ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 });
  assert.equal(p.baseIntervalMs, 25);
  assert.equal(p.maxIntervalMs, 250);
  assert.equal(p.perTryTimeoutMs, 0);
  assert.equal(p.retryNonIdempotent, false);
});

test('5xx: every 5xx answer, and connect failures and resets', () => {
  const p = compileRetries({ attempts: 1, retryOn: ['5xx'] });
  assert.equal(p.widened, true);
  for (let s = 500; s <= 599; s++) assert.equal(retriesAnswer(p, s, undefined), 'retriable-status-code');
  for (const s of [200, 404, 429, 499]) assert.equal(retriesAnswer(p, s, undefined), undefined);
  for (const k of ANSWERLESS) assert.equal(retriesFailure(p, k), true, k);
  assert.equal(retriesFailure(p, 'retriable-status-code'), false);
});

test('gateway-error: 502, 503, 504 only', () => {
  const p = compileRetries({ attempts: 1, retryOn: ['gateway-error'] });
  assert.deepEqual([500, 501, 502, 503, 504, 505].map((s) => retriesAnswer(p, s, undefined) !== undefined), [false, false, true, true, true, false]);
  assert.equal(retriesFailure(p, 'per-try-timeout'), true);
});

test('connect-failure and reset split the answerless failures', () => {
  const c = compileRetries({ attempts: 1, retryOn: ['connect-failure'] });
  assert.deepEqual(ANSWERLESS.filter((k) => retriesFailure(c, k)), ['connect', 'peer-app-unreachable']);
  const r = compileRetries({ attempts: 1, retryOn: ['reset'] });
  // reset implies connect-failure (Envoy: a missing answer includes one that never connected).
  assert.deepEqual(ANSWERLESS.filter((k) => retriesFailure(r, k)), ANSWERLESS);
  for (const s of [500, 503]) assert.equal(retriesAnswer(r, s, undefined), undefined);
});

test('retriable-status-codes: exactly the codes listed', () => {
  const p = compileRetries({ attempts: 1, retryOn: ['retriable-status-codes'], retriableStatusCodes: [409, 503] });
  assert.equal(retriesAnswer(p, 409, undefined), 'retriable-status-code');
  assert.equal(retriesAnswer(p, 503, undefined), 'retriable-status-code');
  assert.equal(retriesAnswer(p, 502, undefined), undefined);
  assert.equal(retriesFailure(p, 'connect'), false);
});

test('gRPC: grpc-status in the head, only the codes named', () => {
  const p = compileRetries({ attempts: 1, retryOn: ['unavailable', 'cancelled'] });
  assert.equal(retriesAnswer(p, 200, '14'), 'retriable-grpc-status');
  assert.equal(retriesAnswer(p, 200, '1'), 'retriable-grpc-status');
  assert.equal(retriesAnswer(p, 200, '13'), undefined);
  assert.equal(retriesAnswer(p, 200, '0'), undefined);
  assert.equal(retriesAnswer(p, 200, undefined), undefined);
  assert.equal(retriesAnswer(p, 200, '014'), undefined, 'not a canonical status');
  assert.equal(retriesAnswer(p, 200, 'x'), undefined);
  const all = compileRetries({ attempts: 1, retryOn: ['cancelled', 'deadline-exceeded', 'resource-exhausted', 'internal', 'unavailable'] });
  assert.deepEqual([1, 4, 8, 13, 14].map((c) => retriesAnswer(all, 200, String(c))), Array(5).fill('retriable-grpc-status'));
  assert.deepEqual([2, 3, 5, 16].map((c) => retriesAnswer(all, 200, String(c))), Array(4).fill(undefined));
});

test('backoff, per-try timeout, opt-in and budget as written', () => {
  const p = compileRetries({ attempts: 3, retryOn: ['5xx'], perTryTimeoutMs: 200, backoff: { baseIntervalMs: 10, maxIntervalMs: 40 }, retryNonIdempotent: true, budget: { ratio: 0.5 } });
  assert.equal(p.perTryTimeoutMs, 200);
  assert.equal(p.baseIntervalMs, 10);
  assert.equal(p.maxIntervalMs, 40);
  assert.equal(p.retryNonIdempotent, true);
  assert.deepEqual(p.budget, { ratio: 0.5, minRetriesPerSecond: 10, ttlMs: 10_000 });
  // Only a base: the max follows it (10 ×).
  assert.equal(compileRetries({ attempts: 1, backoff: { baseIntervalMs: 100 } }).maxIntervalMs, 1000);
});

test('a route rule retry: its codes and every answerless failure; no budget of its own', () => {
  const p = compileRouteRetry([503], 2, 50);
  assert.equal(retriesAnswer(p, 503, undefined), 'retriable-status-code');
  assert.equal(retriesAnswer(p, 500, undefined), undefined);
  for (const k of ANSWERLESS) assert.equal(retriesFailure(p, k), true, k);
  assert.equal(p.budget, undefined);
  assert.equal(p.maxIntervalMs, 500);
});

test('backendRetryPolicy compiles once per policy value', () => {
  const retries = { attempts: 1, retryOn: ['5xx' as const] };
  assert.equal(backendRetryPolicy(retries), backendRetryPolicy(retries));
  assert.notEqual(backendRetryPolicy(retries), backendRetryPolicy({ ...retries }));
  assert.equal(backendRetryPolicy(undefined).attempts, 2);
});

// Unit tests of a rule's timeouts and retry as compiled for the forwarder, and the retry backoff.

import test from 'node:test';
import assert from 'node:assert/strict';
import { compileRoutePolicy, retryBackoffMs, DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_BACKOFF_MS } from './route-policy.ts';

test('no timeouts and no retry: no policy (the BackendPolicy alone)', () => {
  assert.equal(compileRoutePolicy(undefined, undefined), undefined);
});

test('timeouts in ms; "0s" stays 0 (none), an absent one undefined', () => {
  const p = compileRoutePolicy({ request: '1m30s', backendRequest: '250ms' }, undefined)!;
  assert.equal(p.requestMs, 90_000);
  assert.equal(p.backendRequestMs, 250);
  assert.equal(p.retry, undefined);
  const none = compileRoutePolicy({ request: '0s' }, undefined)!;
  assert.equal(none.requestMs, 0);
  assert.equal(none.backendRequestMs, undefined);
});

test('retry: codes as a set, defaults for attempts and backoff', () => {
  const p = compileRoutePolicy(undefined, { codes: [503, 504], attempts: 3, backoff: '100ms' })!;
  assert.deepEqual([...p.retry!.codes], [503, 504]);
  assert.equal(p.retry!.attempts, 3);
  assert.equal(p.retry!.backoffMs, 100);
  const d = compileRoutePolicy(undefined, { codes: [] })!;
  assert.equal(d.retry!.attempts, DEFAULT_RETRY_ATTEMPTS);
  assert.equal(d.retry!.backoffMs, DEFAULT_RETRY_BACKOFF_MS);
  assert.equal(compileRoutePolicy(undefined, { codes: [], backoff: '0s' })!.retry!.backoffMs, 0);
});

test('backoff: exponential from the minimum, jitter only upward, capped', () => {
  assert.equal(retryBackoffMs(100, 1, () => 0), 100);
  assert.equal(retryBackoffMs(100, 2, () => 0), 200);
  assert.equal(retryBackoffMs(100, 3, () => 0), 400);
  assert.equal(retryBackoffMs(100, 10, () => 0), 1000);
  assert.equal(retryBackoffMs(100, 1, () => 0.999), 149);
  assert.equal(retryBackoffMs(0, 3), 0);
  for (let n = 1; n < 6; n++) assert.ok(retryBackoffMs(40, n) >= 40);
});

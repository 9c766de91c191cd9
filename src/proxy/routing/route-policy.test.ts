// Unit tests of a rule's timeouts and retry as compiled for the forwarder, and the retry backoff.

import test from 'node:test';
import assert from 'node:assert/strict';
import { compileRoutePolicy, DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_BACKOFF_MS } from './route-policy.ts';

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

test('retry: codes retried, every answerless failure too, defaults for attempts and backoff', () => {
  const p = compileRoutePolicy(undefined, { codes: [503, 504], attempts: 3, backoff: '100ms' })!;
  const r = p.retry!;
  assert.deepEqual([...r.statuses.keys()].filter((s) => r.statuses[s] === 1), [503, 504]);
  assert.equal(r.attempts, 3);
  assert.equal(r.baseIntervalMs, 100);
  assert.equal(r.maxIntervalMs, 1000);
  assert.equal(r.widened, true);
  assert.equal(r.retryNonIdempotent, true, "a rule's retry is its author's opt-in, as before");
  const d = compileRoutePolicy(undefined, { codes: [] })!;
  assert.equal(d.retry!.attempts, DEFAULT_RETRY_ATTEMPTS);
  assert.equal(d.retry!.baseIntervalMs, DEFAULT_RETRY_BACKOFF_MS);
  assert.equal(d.retry!.statuses.length, 0);
  assert.equal(compileRoutePolicy(undefined, { codes: [], backoff: '0s' })!.retry!.baseIntervalMs, 0);
});

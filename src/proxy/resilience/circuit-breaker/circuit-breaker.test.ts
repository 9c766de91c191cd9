// The breaker's counters alone: each limit, release, and limits changing under counts in flight.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker } from './circuit-breaker.ts';
import { DEFAULT_CIRCUIT_BREAKER } from '../../../config/kinds/backend-policy-circuit-breaker.ts';

function breaker(limits: Partial<typeof DEFAULT_CIRCUIT_BREAKER>): CircuitBreaker {
  const b = new CircuitBreaker();
  b.update(limits, []);
  return b;
}

test('defaults are Envoy\'s: 1024 connections, pending, requests; 3 retries', () => {
  const b = new CircuitBreaker();
  b.update(undefined, []);
  assert.deepEqual(b.limits, { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 1024 });
});

test('maxRequests: admits up to the limit, refuses the next, admits again after a release', () => {
  const b = breaker({ maxRequests: 3 });
  assert.equal(b.tryStartRequest(), true);
  assert.equal(b.tryStartRequest(), true);
  assert.equal(b.tryStartRequest(), true);
  assert.equal(b.tryStartRequest(), false);
  assert.equal(b.requests, 3, 'a refusal takes nothing');
  b.endRequest();
  assert.equal(b.tryStartRequest(), true);
  for (let i = 0; i < 3; i++) b.endRequest();
  assert.equal(b.requests, 0);
  b.endRequest();
  assert.equal(b.requests, 0, 'never below zero');
});

test('maxPendingRequests and maxConnections: a new connection is refused by whichever is reached', () => {
  const b = breaker({ maxPendingRequests: 2, maxConnections: 5 });
  assert.equal(b.tryStartPending(0), undefined);
  assert.equal(b.tryStartPending(1), undefined);
  assert.equal(b.tryStartPending(2), 'max-pending-requests');
  assert.equal(b.pending, 2);
  b.endPending();
  assert.equal(b.tryStartPending(5), 'max-connections', 'connections are checked first');
  assert.equal(b.tryStartPending(4), undefined);
  assert.equal(b.tryStartPending(-1), 'max-pending-requests', 'HTTP/2 (-1) is checked for pending only');
  b.endPending();
  assert.equal(b.tryStartPending(-1), undefined);
  b.endPending();
  b.endPending();
  assert.equal(b.pending, 0);
});

test('maxRetries: the seam the retry decision calls', () => {
  const b = breaker({ maxRetries: 1 });
  assert.equal(b.tryStartRetry(), true);
  assert.equal(b.tryStartRetry(), false);
  b.endRetry();
  assert.equal(b.tryStartRetry(), true);
  b.endRetry();
  assert.equal(b.retries, 0);
});

test('a new snapshot changes the limits and keeps the counts in flight', () => {
  const b = breaker({ maxRequests: 4 });
  for (let i = 0; i < 3; i++) assert.equal(b.tryStartRequest(), true);
  b.update({ maxRequests: 2 }, []);
  assert.equal(b.requests, 3);
  assert.equal(b.tryStartRequest(), false, 'over the lowered limit');
  b.endRequest();
  assert.equal(b.tryStartRequest(), false, 'still at 2');
  b.endRequest();
  assert.equal(b.tryStartRequest(), true);
  assert.equal(b.limits.maxPendingRequests, 1024, 'fields left out take their defaults');
});

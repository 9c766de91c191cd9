// Unit tests of the retry decision forward.ts asks after each failed attempt: the never-reached-the-app
// rule, retryOn with replay and idempotency, the breaker's maxRetries and the budget, in that order.

import test from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { CircuitBreaker } from '../circuit-breaker/circuit-breaker.ts';
import { releaseHolds, startRetry } from '../circuit-breaker/breaker-holds.ts';
import { RetryBudget } from './budget.ts';
import { compileRetries } from './retry-policy.ts';
import { BUDGETED_RETRY, FREE_RETRY, NO_RETRY, retryDecision, type RetryState } from './retry-decision.ts';

function state(o: Partial<Omit<RetryState, 'replayable'>> & { replayable?: boolean } = {}): RetryState {
  const { replayable = true, ...rest } = o;
  return {
    breaker: undefined,
    holdsRequest: false,
    holdsRetry: false,
    retryOverflow: false,
    attempts: 1,
    maxAttempts: 3,
    finished: false,
    bodyStarted: false,
    hasBody: false,
    method: 'GET',
    retry: compileRetries({ attempts: 2, retryOn: ['5xx'] }),
    budgetExhausted: false,
    ctx: {},
    replayable: () => replayable,
    ...rest,
  };
}

test('a connect failure before the body left, or an unreachable peer app without a body, is a free retry', () => {
  assert.equal(retryDecision(state({ method: 'POST', hasBody: true }), 'connect'), FREE_RETRY);
  assert.equal(retryDecision(state({ method: 'POST', hasBody: true, bodyStarted: true, replayable: false }), 'connect'), NO_RETRY);
  assert.equal(retryDecision(state({ method: 'DELETE' }), 'peer-app-unreachable'), FREE_RETRY);
});

test('no retry once the attempts are spent or the request ended', () => {
  assert.equal(retryDecision(state({ attempts: 3 }), 'connect'), NO_RETRY);
  assert.equal(retryDecision(state({ finished: true }), 'connect'), NO_RETRY);
});

test('retryOn: an idempotent, replayable request goes again on the budget; a POST only when opted in', () => {
  assert.equal(retryDecision(state(), 'retriable-status-code'), BUDGETED_RETRY);
  assert.equal(retryDecision(state({ method: 'POST' }), 'retriable-status-code'), NO_RETRY);
  assert.equal(retryDecision(state({ method: 'POST', retry: compileRetries({ attempts: 2, retryOn: ['5xx'], retryNonIdempotent: true }) }), 'retriable-status-code'), BUDGETED_RETRY);
  assert.equal(retryDecision(state({ hasBody: true, replayable: false }), 'retriable-status-code'), NO_RETRY, 'a body that was not kept cannot be sent again');
  // Without retryOn, a reset of a bodiless GET still goes again (always on).
  assert.equal(retryDecision(state({ retry: compileRetries({ attempts: 2 }) }), 'reset-before-response'), BUDGETED_RETRY);
  assert.equal(retryDecision(state({ retry: compileRetries({ attempts: 2 }) }), 'reset-after-response'), NO_RETRY);
});

test("the breaker's maxRetries refuses a counted retry and marks the overflow; a free one is not counted", () => {
  const breaker = new CircuitBreaker();
  breaker.update({ maxRetries: 1 }, []);
  const first = state({ breaker });
  assert.equal(retryDecision(first, 'retriable-status-code'), BUDGETED_RETRY);
  assert.equal(startRetry(first, 'retriable-status-code'), true);
  assert.equal(breaker.retries, 1);
  const second = state({ breaker });
  assert.equal(retryDecision(second, 'retriable-status-code'), NO_RETRY);
  assert.equal(second.retryOverflow, true);
  assert.equal(retryDecision(second, 'connect'), FREE_RETRY, 'a connect failure takes no slot');
  releaseHolds(first);
  assert.equal(breaker.retries, 0, 'the slot goes back when the request ends');
});

test('an exhausted budget refuses the retry and marks the request', () => {
  const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0, ttlMs: 10_000 }, new ManualClock());
  const s = state({ ctx: { budget } });
  assert.equal(retryDecision(s, 'retriable-status-code'), NO_RETRY);
  assert.equal(s.budgetExhausted, true);
  assert.equal(retryDecision(state({ ctx: { budget } }), 'connect'), FREE_RETRY, 'a free retry does not ask the budget');
});

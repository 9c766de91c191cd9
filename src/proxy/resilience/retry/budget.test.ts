// Unit tests of the retry budget with an injected clock: the ratio, the minimum per second, the
// window rolling over, and a policy change in place.

import test from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { RetryBudget, RetryBudgets, monotonicClock, requestTime } from './budget.ts';

/** Spends retries while the budget allows, up to `max`; returns how many it got. */
function drain(b: RetryBudget, max = 100_000): number {
  let n = 0;
  while (n < max && b.canRetry()) {
    b.recordRetry();
    n++;
  }
  return n;
}

test('ratio: 20% of the requests in the window, with no minimum', () => {
  const clock = new ManualClock(0);
  const b = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 0, ttlMs: 10_000 }, clock);
  assert.equal(b.canRetry(), false, 'no requests, no minimum: nothing to retry');
  for (let i = 0; i < 100; i++) b.recordRequest();
  assert.equal(b.allowance(), 20);
  assert.equal(drain(b), 20);
  assert.equal(b.canRetry(), false);
  // Five more requests deposit one more retry.
  for (let i = 0; i < 5; i++) b.recordRequest();
  assert.equal(drain(b), 1);
});

test('minimum per second: a reserve of minRetriesPerSecond × window seconds on top of the ratio', () => {
  const clock = new ManualClock(0);
  const b = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 3, ttlMs: 10_000 }, clock);
  assert.equal(b.allowance(), 30);
  for (let i = 0; i < 50; i++) b.recordRequest();
  assert.equal(drain(b), 30 + 10);
});

test('window: counts leave after ttl, so the budget refills; a half-spent second stays until it rolls out', () => {
  const clock = new ManualClock(0);
  const b = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0, ttlMs: 3_000 }, clock);
  for (let i = 0; i < 10; i++) b.recordRequest(); // second 0
  assert.equal(drain(b), 5);
  clock.advance(1_000); // second 1: second 0 still in the window
  assert.equal(b.canRetry(), false);
  for (let i = 0; i < 4; i++) b.recordRequest();
  assert.equal(drain(b), 2);
  clock.advance(1_999); // second 2 (2999 ms)
  assert.equal(b.canRetry(), false);
  clock.advance(1); // second 3: second 0's 10 requests and 5 retries leave the window
  assert.equal(b.allowance(), 0, 'second 1 remains: 4 requests × 0.5 − 2 retries');
  clock.advance(1_000); // second 4: second 1 leaves too
  assert.equal(b.allowance(), 0);
  for (let i = 0; i < 6; i++) b.recordRequest();
  assert.equal(drain(b), 3);
  // A long silence empties every bucket at once.
  clock.advance(60_000);
  assert.equal(b.allowance(), 0);
  for (let i = 0; i < 2; i++) b.recordRequest();
  assert.equal(drain(b), 1);
});

test('steady failure: retries stay within ratio × requests + minimum × seconds over a long run', () => {
  const clock = new ManualClock(0);
  const b = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 }, clock);
  let requests = 0;
  let retries = 0;
  // 200 requests a second for 60 s, each wanting 2 retries.
  for (let ms = 0; ms < 60_000; ms += 5) {
    clock.advance(5);
    b.recordRequest();
    requests++;
    for (let k = 0; k < 2; k++) if (b.canRetry()) {
      b.recordRetry();
      retries++;
    }
  }
  assert.ok(retries <= 0.2 * requests + 10 * 60 + 10 * 10, `${retries} retries for ${requests} requests`);
  assert.ok(retries >= 0.2 * requests, `the ratio is used: ${retries}`);
});

test('registry: one budget per service, kept across a policy change of ratio; a new window starts afresh', () => {
  const clock = new ManualClock(0);
  const budgets = new RetryBudgets(clock);
  const c1 = { ratio: 0.2, minRetriesPerSecond: 0, ttlMs: 10_000 };
  const a = budgets.of('reviews.default', c1);
  assert.equal(budgets.of('reviews.default', c1), a);
  assert.notEqual(budgets.of('ratings.default', c1), a);
  for (let i = 0; i < 10; i++) a.recordRequest();
  const c2 = { ratio: 1, minRetriesPerSecond: 0, ttlMs: 10_000 };
  assert.equal(budgets.of('reviews.default', c2), a, 'same window: adjusted in place');
  assert.equal(a.allowance(), 10);
  const c3 = { ratio: 1, minRetriesPerSecond: 0, ttlMs: 5_000 };
  const fresh = budgets.of('reviews.default', c3);
  assert.notEqual(fresh, a);
  assert.equal(fresh.allowance(), 0);
});

test('a deposit at a time the caller already read: a reading older than the newest second counts in the newest bucket, never rolls the ring back', () => {
  const clock = new ManualClock(0);
  const b = new RetryBudget({ ratio: 1, minRetriesPerSecond: 0, ttlMs: 2_000 }, clock);
  clock.advance(1_500);
  b.recordRequest(); // second 1
  b.recordRequest(900); // read in second 0 by a request that arrived before: counted in second 1
  assert.equal(b.allowance(), 2);
  clock.advance(1_000); // second 2: both are still in the 2 s window
  assert.equal(b.allowance(), 2);
  clock.advance(1_000); // second 3: second 1 left the window, with both deposits
  assert.equal(b.allowance(), 0);
});

test("the default clock is monotonic epoch ms, in the base of requestTime(performance.now())", () => {
  const a = monotonicClock.now();
  const r = requestTime(performance.now());
  const c = monotonicClock.now();
  assert.ok(a <= r && r <= c, `${a} ≤ ${r} ≤ ${c}`);
  assert.ok(Math.abs(a - Date.now()) < 60_000, 'close to the wall clock');
});

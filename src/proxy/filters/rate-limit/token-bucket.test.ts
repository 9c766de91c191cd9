// The token bucket on an injected clock: starts full (burst), refills at its rate, never above burst.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { TokenBucket } from './token-bucket.ts';

test('a full bucket admits its burst at once, then one request per 1/rate', () => {
  const clock = new ManualClock();
  const b = new TokenBucket(10, 5, clock.now());
  for (let i = 0; i < 5; i++) assert.ok(b.take(clock.now()), `burst ${i}`);
  assert.equal(b.take(clock.now()), false);
  assert.equal(b.waitMs(clock.now()), 100);
  clock.advance(99);
  assert.equal(b.take(clock.now()), false);
  clock.advance(1);
  assert.ok(b.take(clock.now()));
  assert.equal(b.take(clock.now()), false);
});

test('over a long run the admitted rate is the configured rate (plus the burst)', () => {
  const clock = new ManualClock();
  const b = new TokenBucket(50, 10, clock.now());
  let admitted = 0;
  // 150 offered per second for 10 s: 1500 requests, one every 6.67 ms.
  for (let i = 0; i < 1500; i++) {
    if (b.take(clock.now())) admitted++;
    clock.advance(1000 / 150);
  }
  assert.ok(Math.abs(admitted - (500 + 10)) <= 1, `admitted ${admitted}`);
});

test('refill stops at the burst, and has() takes nothing', () => {
  const clock = new ManualClock();
  const b = new TokenBucket(1, 3, clock.now());
  assert.ok(b.take(clock.now()));
  clock.advance(3_600_000);
  assert.equal(b.remaining(), 2, 'remaining before refill is what the last refill left');
  assert.ok(b.has(clock.now()));
  assert.equal(b.remaining(), 3);
  for (let i = 0; i < 3; i++) assert.ok(b.take(clock.now()));
  assert.equal(b.has(clock.now()), false);
  assert.equal(b.remaining(), 0);
});

test('fractional rates: 0.5 per second is one request every 2 s', () => {
  const clock = new ManualClock();
  const b = new TokenBucket(0.5, 1, clock.now());
  assert.ok(b.take(clock.now()));
  assert.equal(b.waitMs(clock.now()), 2000);
  clock.advance(1999);
  assert.equal(b.take(clock.now()), false);
  clock.advance(1);
  assert.ok(b.take(clock.now()));
});

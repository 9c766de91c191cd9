// The gradient controller without sleeping: the gradient step, the minRTT measurement and its
// window, the limits, jitter with a seeded random, and the slot accounting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { DEFAULT_ADAPTIVE_CONCURRENCY, type AdaptiveConcurrencySpec } from '../../../config/kinds/backend-policy-adaptive-concurrency.ts';
import { seededRandom } from '../../balance/fixtures.ts';
import { GradientController, nextLimit } from './gradient-controller.ts';

function config(min: Partial<AdaptiveConcurrencySpec['minRttCalcParams']> = {}, limits: Partial<AdaptiveConcurrencySpec['concurrencyLimitParams']> = {}, percentile = 50): AdaptiveConcurrencySpec {
  const d = DEFAULT_ADAPTIVE_CONCURRENCY;
  return { sampleAggregatePercentile: percentile, concurrencyLimitParams: { ...d.concurrencyLimitParams, ...limits }, minRttCalcParams: { ...d.minRttCalcParams, ...min } };
}

/** Admits and completes `n` requests one after another, each taking `latencyMs`. */
function serve(c: GradientController, n: number, latencyMs: number): void {
  for (let i = 0; i < n; i++) {
    const t = c.admit();
    assert.ok(t >= 0, 'admitted');
    c.release(t, latencyMs);
  }
}

test('nextLimit: gradient (minRTT + buffer) / sampleRTT clamped to [0.5, 2], plus sqrt headroom, clamped to the limits', () => {
  const cfg = config();
  // minRTT 10, buffer 25 %: 12.5 / 12.5 = 1 → 100 + sqrt(100) = 110.
  assert.equal(nextLimit(100, 10, 12.5, cfg), 110);
  // 12.5 / 25 = 0.5 → 50 + 7.07 → 57.
  assert.equal(nextLimit(100, 10, 25, cfg), 57);
  // Far slower: the gradient stays at 0.5, never lower.
  assert.equal(nextLimit(100, 10, 1000, cfg), 57);
  // Faster than minRTT: at most ×2 → 200 + 14.1 → 214.
  assert.equal(nextLimit(100, 10, 1, cfg), 214);
  assert.equal(nextLimit(100, 10, 0, cfg), 214, 'a 0 ms window counts as the largest step up');
  // Clamps: never above maxConcurrencyLimit, never below minConcurrency.
  assert.equal(nextLimit(900, 10, 1, cfg), 1000);
  assert.equal(nextLimit(3, 10, 1000, config({ minConcurrency: 3 })), 3);
  assert.equal(nextLimit(4, 10, 1000, config({ minConcurrency: 1 })), 3, '2 + sqrt 2 = 3.41 → 3');
  // bufferPercent 0: latency at minRTT keeps the limit, plus headroom.
  assert.equal(nextLimit(16, 10, 10, config({ bufferPercent: 0 })), 20);
});

test('starts measuring minRTT at minConcurrency; requestCount samples at the percentile set it and restore the limit', () => {
  const clock = new ManualClock();
  const changes: [number, number][] = [];
  const c = new GradientController({ config: config({ requestCount: 5, minConcurrency: 2 }, {}, 50), clock, random: seededRandom(1), onChange: (l, r) => changes.push([l, r]) });
  assert.equal(c.measuringMinRtt, true);
  assert.equal(c.limit, 2);
  const a = c.admit();
  const b = c.admit();
  assert.equal(c.admit(), -1, 'minConcurrency is the limit while measuring');
  assert.equal(c.inFlight, 2);
  c.release(a, 30);
  c.release(b, 10);
  serve(c, 3, 20);
  // Samples 30, 10, 20, 20, 20 → p50 (nearest rank 3 of 5) = 20.
  assert.equal(c.measuringMinRtt, false);
  assert.equal(c.minRttMs, 20);
  assert.equal(c.limit, 2, 'back to the limit before the measurement (the start value, minConcurrency)');
  assert.equal(c.inFlight, 0);
  assert.deepEqual(changes, [[2, 0], [2, 20]]);
});

test('the percentile is taken as configured (p90 of 10 samples)', () => {
  const c = new GradientController({ config: config({ requestCount: 10 }, {}, 90), clock: new ManualClock(), random: seededRandom(2) });
  for (let i = 10; i >= 1; i--) serve(c, 1, i);
  assert.equal(c.minRttMs, 9);
});

test('each update window moves the limit by the gradient; no samples, no change', () => {
  const clock = new ManualClock();
  const c = new GradientController({ config: config({ requestCount: 3, minConcurrency: 3 }, { concurrencyUpdateIntervalMs: 100 }), clock, random: seededRandom(3) });
  serve(c, 3, 10);
  assert.equal(c.minRttMs, 10);
  assert.equal(c.limit, 3);
  // Healthy latency: the limit grows, about ×2 + sqrt each window while answers stay fast.
  serve(c, 5, 10);
  clock.advance(100);
  assert.equal(c.sampleRttMs, 10);
  assert.equal(c.limit, nextLimit(3, 10, 10, c.config));
  const grown = c.limit;
  clock.advance(100);
  assert.equal(c.limit, grown, 'a window without samples leaves the limit alone');
  serve(c, 5, 10);
  clock.advance(100);
  assert.ok(c.limit > grown);
  // Latency doubles and more: the limit falls by half (plus headroom).
  const before = c.limit;
  serve(c, 5, 40);
  clock.advance(100);
  assert.equal(c.limit, nextLimit(before, 10, 40, c.config));
  assert.ok(c.limit < before);
});

test('the limit converges under a service whose latency grows with concurrency, and holds latency near minRTT', () => {
  // A service that serves 4 at once in 20 ms: with L in flight, latency is 20 × max(1, L/4) ms.
  const clock = new ManualClock();
  const c = new GradientController({ config: config({ requestCount: 20 }), clock, random: seededRandom(4) });
  serve(c, 20, 20);
  const latency = (limit: number): number => 20 * Math.max(1, limit / 4);
  for (let w = 0; w < 100; w++) {
    serve(c, 10, latency(c.limit));
    clock.advance(100);
  }
  assert.ok(c.limit >= 4 && c.limit <= 10, `limit ${c.limit} near the capacity 4 plus headroom`);
  assert.ok(latency(c.limit) <= 2 * 20 * 1.25, `latency at the limit ${latency(c.limit)} within 2 × minRTT + buffer`);
});

test('minRTT is measured again after intervalMs plus a jitter from the seeded random, within jitterPercent', () => {
  const clock = new ManualClock();
  // The first random call is the jitter (no reservoir below 4096 samples).
  const expectedJitter = Math.floor(seededRandom(5)() * (10_000 * 20) / 100);
  const c = new GradientController({ config: config({ requestCount: 2, intervalMs: 10_000, jitterPercent: 20 }), clock, random: seededRandom(5) });
  serve(c, 2, 10);
  assert.ok(expectedJitter >= 0 && expectedJitter < 2000);
  // Keep the limit above minimum meanwhile, so only the interval can start a measurement.
  for (let t = 0; t + 100 < 10_000 + expectedJitter; t += 100) {
    serve(c, 2, 10);
    clock.advance(100);
  }
  assert.equal(c.measuringMinRtt, false, 'not before interval + jitter');
  const limit = c.limit;
  assert.ok(limit > 3);
  clock.advance(100);
  assert.equal(c.measuringMinRtt, true, 'measuring again');
  assert.equal(c.limit, 3, 'held at minConcurrency while measuring');
  // No update window runs while measuring, however long it takes.
  clock.advance(5_000);
  assert.equal(c.limit, 3);
  serve(c, 2, 50);
  assert.equal(c.minRttMs, 50, 'the new measurement replaces the old one');
  assert.equal(c.limit, limit, 'the limit from before the measurement is back');
});

test('different seeds give different jitters, each inside [interval, interval × (1 + jitter))', () => {
  const starts = new Set<number>();
  for (const seed of [11, 12, 13, 14]) {
    const clock = new ManualClock(0);
    const c = new GradientController({ config: config({ requestCount: 1, intervalMs: 10_000, jitterPercent: 50 }, { concurrencyUpdateIntervalMs: 1_000_000 }), clock, random: seededRandom(seed) });
    serve(c, 1, 5);
    let at = 0;
    while (!c.measuringMinRtt) {
      clock.advance(10);
      at += 10;
    }
    assert.ok(at >= 10_000 && at <= 15_000, `measurement started at ${at} ms`);
    starts.add(at);
  }
  assert.ok(starts.size > 1, 'the jitter varies with the random source');
});

test('a limit pinned at minConcurrency for 5 windows triggers a new minRTT measurement', () => {
  const clock = new ManualClock();
  const c = new GradientController({ config: config({ requestCount: 2 }), clock, random: seededRandom(6) });
  serve(c, 2, 10);
  for (let w = 0; w < 4; w++) {
    serve(c, 2, 1000);
    clock.advance(100);
    assert.equal(c.limit, 3);
    assert.equal(c.measuringMinRtt, false, `window ${w + 1}`);
  }
  serve(c, 2, 1000);
  clock.advance(100);
  assert.equal(c.measuringMinRtt, true);
});

test('a request admitted before a minRTT measurement began is no sample of it; its slot still frees', () => {
  const clock = new ManualClock();
  const c = new GradientController({ config: config({ requestCount: 2, intervalMs: 1000, jitterPercent: 0 }, { concurrencyUpdateIntervalMs: 100_000 }), clock, random: seededRandom(7) });
  serve(c, 2, 10);
  const old = c.admit();
  clock.advance(1000);
  assert.equal(c.measuringMinRtt, true);
  c.release(old, 500);
  assert.equal(c.inFlight, 0);
  serve(c, 1, 20);
  assert.equal(c.measuringMinRtt, true, 'the old request did not count');
  serve(c, 1, 20);
  assert.equal(c.minRttMs, 20);
});

test('cancel frees a slot without a sample; the limit is never exceeded', () => {
  const c = new GradientController({ config: config({ requestCount: 2, minConcurrency: 2 }), clock: new ManualClock(), random: seededRandom(8) });
  const a = c.admit();
  const b = c.admit();
  assert.ok(a >= 0 && b >= 0);
  assert.equal(c.admit(), -1);
  c.cancel();
  assert.equal(c.inFlight, 1);
  assert.equal(c.measuringMinRtt, true, 'a cancelled request is no sample');
  const d = c.admit();
  assert.ok(d >= 0);
  assert.equal(c.admit(), -1);
});

test('maxConcurrencyLimit caps growth; close stops the timers', () => {
  const clock = new ManualClock();
  const c = new GradientController({ config: config({ requestCount: 1, minConcurrency: 3 }, { maxConcurrencyLimit: 8 }), clock, random: seededRandom(9) });
  serve(c, 1, 10);
  for (let w = 0; w < 10; w++) {
    serve(c, 3, 1);
    clock.advance(100);
  }
  assert.equal(c.limit, 8);
  c.close();
  serve(c, 3, 1000);
  clock.advance(100_000);
  assert.equal(c.limit, 8, 'no update after close');
  assert.equal(c.measuringMinRtt, false);
});

test('more samples in a window than kept: the reservoir still stands for the window', () => {
  const clock = new ManualClock();
  const c = new GradientController({ config: config({ requestCount: 1 }), clock, random: seededRandom(10) });
  serve(c, 1, 10);
  for (let i = 0; i < 20_000; i++) serve(c, 1, i % 2 === 0 ? 10 : 12.5);
  clock.advance(100);
  assert.ok(c.sampleRttMs === 10 || c.sampleRttMs === 12.5);
});

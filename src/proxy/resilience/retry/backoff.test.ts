// Unit tests of the retry backoff: bounds of the equal jitter with seeded random.

import test from 'node:test';
import assert from 'node:assert/strict';
import { retryBackoffMs } from './backoff.ts';
import { seededRandom } from '../../balance/fixtures.ts';

/** The balancer tests' seeded PRNG (mulberry32), so the bounds are checked over many draws that repeat. */
const seeded = seededRandom;

test('the extremes of each retry with base 25 and max 250', () => {
  const expect: [number, number][] = [[25, 50], [50, 100], [100, 200], [125, 250], [125, 250]];
  expect.forEach(([lo, hi], i) => {
    assert.equal(retryBackoffMs(25, 250, i + 1, () => 0), lo);
    assert.equal(retryBackoffMs(25, 250, i + 1, () => 0.999999), hi - 1);
  });
});

test('never below base, never above max, for many seeded draws', () => {
  const random = seeded(42);
  for (const [base, max] of [[25, 250], [10, 10], [100, 150], [1, 60_000]]) {
    for (let n = 1; n <= 40; n++) {
      for (let k = 0; k < 50; k++) {
        const w = retryBackoffMs(base, max, n, random);
        assert.ok(w >= base && w <= max, `base ${base} max ${max} retry ${n}: ${w}`);
      }
    }
  }
});

test('jitter spreads: draws differ, and their mean sits in the upper half of the ceiling', () => {
  const random = seeded(7);
  const draws = Array.from({ length: 1000 }, () => retryBackoffMs(100, 10_000, 3, random));
  assert.ok(new Set(draws).size > 100);
  const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
  assert.ok(mean > 560 && mean < 640, `mean ${mean} (expected about 600 in [400, 800))`);
});

test('base 0: no wait', () => {
  assert.equal(retryBackoffMs(0, 0, 3), 0);
});

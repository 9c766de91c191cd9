import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyHistogram, mergeInto, quantile } from './histogram.ts';
import { STATS_BUCKETS, STATS_LATENCY_BOUNDS_MS } from '../../config/stats-report.ts';

const at = (bucket: number, n: number): number[] => {
  const h = emptyHistogram();
  h[bucket] = n;
  return h;
};

test('an empty histogram has no percentiles', () => {
  assert.equal(emptyHistogram().length, STATS_BUCKETS);
  assert.equal(quantile(emptyHistogram(), 0.5), undefined);
});

test('percentiles interpolate linearly inside the bucket the rank falls in (histogram_quantile)', () => {
  // 100 requests in (5 ms, 10 ms]: p50 is halfway, p99 near the top.
  const h = at(STATS_LATENCY_BOUNDS_MS.indexOf(10), 100);
  assert.equal(quantile(h, 0.5), 7.5);
  assert.equal(quantile(h, 0.99), 5 + 5 * 0.99);
  // The first bucket starts at 0.
  assert.equal(quantile(at(0, 10), 0.5), 0.25);
});

test('a rank in the +Inf bucket answers the highest finite bound', () => {
  const h = mergeInto(at(0, 1), at(STATS_BUCKETS - 1, 99));
  assert.equal(quantile(h, 0.99), STATS_LATENCY_BOUNDS_MS[STATS_LATENCY_BOUNDS_MS.length - 1]);
  assert.equal(quantile(h, 0.01), 0.5);
});

test('merging adds counts, so percentiles of merged histograms weigh every sidecar by its traffic', () => {
  const fast = at(STATS_LATENCY_BOUNDS_MS.indexOf(1), 90); // (0.5, 1] ms
  const slow = at(STATS_LATENCY_BOUNDS_MS.indexOf(100), 10); // (50, 100] ms
  const merged = mergeInto(mergeInto(emptyHistogram(), fast), slow);
  assert.equal(merged.reduce((a, b) => a + b, 0), 100);
  assert.ok(quantile(merged, 0.5)! <= 1);
  assert.ok(quantile(merged, 0.95)! > 50 && quantile(merged, 0.95)! <= 100);
  assert.equal(quantile(merged, 0.9), 1);
  // The inputs are left alone.
  assert.equal(fast[STATS_LATENCY_BOUNDS_MS.indexOf(100)], 0);
});

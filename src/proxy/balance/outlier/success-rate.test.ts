import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSuccessRateOutlier, successRateThreshold } from './success-rate.ts';

const rule = { enabled: true, minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 };
const v = (requests: number, successes: number) => ({ intervalRequests: requests, intervalSuccesses: successes });

test('threshold is mean − stdevFactor × population stdev over the endpoints with enough volume', () => {
  // Rates 1, 1, 1, 1, 0.5: mean 0.9, variance (4 × 0.01 + 0.16) / 5 = 0.04, stdev 0.2.
  const endpoints = [v(100, 100), v(200, 200), v(100, 100), v(150, 150), v(100, 50)];
  const t = successRateThreshold(endpoints, rule);
  assert.ok(t !== undefined);
  assert.ok(Math.abs(t - (0.9 - 1.9 * 0.2)) < 1e-12, String(t));
  assert.deepEqual(endpoints.map((e) => isSuccessRateOutlier(e, t, rule)), [false, false, false, false, true]);
  // A larger factor forgives it: 0.9 − 3 × 0.2 = 0.3 < 0.5.
  const lenient = { ...rule, stdevFactor: 3 };
  assert.equal(isSuccessRateOutlier(endpoints[4], successRateThreshold(endpoints, lenient)!, lenient), false);
});

test('endpoints below requestVolume are neither counted nor judged; too few hosts means no verdict', () => {
  const endpoints = [v(100, 100), v(100, 100), v(100, 100), v(100, 100), v(99, 0)];
  assert.equal(successRateThreshold(endpoints, rule), undefined, 'only 4 hosts with volume');
  assert.equal(isSuccessRateOutlier(v(99, 0), 0.99, rule), false);
  assert.equal(successRateThreshold([], { ...rule, minimumHosts: 1 }), undefined);
  // All equal: stdev 0, threshold = mean, nobody below it.
  const t = successRateThreshold([v(100, 90), v(100, 90), v(100, 90), v(100, 90), v(100, 90)], rule)!;
  assert.ok(Math.abs(t - 0.9) < 1e-12);
  assert.equal(isSuccessRateOutlier(v(100, 90), t, rule), false);
});

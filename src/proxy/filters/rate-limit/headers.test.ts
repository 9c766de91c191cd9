// The 429's fields: Retry-After in whole seconds (at least 1) and the IETF RateLimit fields.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitedHeaders, rateLimitField, rateLimitPolicyField, retryAfterSeconds } from './headers.ts';

test('RateLimit-Policy: quota per 1 s window, or one per ceil(1/rate) seconds for slow limits', () => {
  assert.equal(rateLimitPolicyField('default/rl/total', 50, 10), '"default/rl/total";q=50;w=1;weft-burst=10');
  assert.equal(rateLimitPolicyField('p', 2.5, 3), '"p";q=2;w=1;weft-burst=3');
  assert.equal(rateLimitPolicyField('p', 0.5, 1), '"p";q=1;w=2;weft-burst=1');
  assert.equal(rateLimitPolicyField('p', 0.3, 1), '"p";q=1;w=4;weft-burst=1');
  assert.equal(rateLimitPolicyField('a"b\\c', 1, 1), '"a\\"b\\\\c";q=1;w=1;weft-burst=1');
});

test('RateLimit and Retry-After', () => {
  assert.equal(rateLimitField('p', 3.7, 2), '"p";r=3;t=2');
  assert.equal(retryAfterSeconds(0), 1);
  assert.equal(retryAfterSeconds(20), 1);
  assert.equal(retryAfterSeconds(1000), 1);
  assert.equal(retryAfterSeconds(1001), 2);
  assert.deepEqual(limitedHeaders('"p";q=1;w=1;weft-burst=1', 'p', 2500), { 'retry-after': '3', 'ratelimit-policy': '"p";q=1;w=1;weft-burst=1', ratelimit: '"p";r=0;t=3' });
});

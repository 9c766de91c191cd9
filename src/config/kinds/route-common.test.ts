// The helpers proxies reuse from route validation: duration parsing and anchored regex compilation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFullMatch, parseDuration } from './route-common.ts';

test('parseDuration reads every GEP-2257 unit and combinations', () => {
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1m500ms'), 60_500);
  assert.equal(parseDuration('1h1m1s1ms'), 3_661_001);
});

test('parseDuration refuses what GEP-2257 refuses', () => {
  for (const bad of ['', '10', '1.5s', '-1s', '1d', '100000s', '1h1m1s1ms1s', ' 1s', '1S']) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
});

test('compileFullMatch anchors the pattern at both ends', () => {
  const re = compileFullMatch('/items/[0-9]+');
  assert.equal(re.test('/items/42'), true);
  assert.equal(re.test('/items/42/x'), false);
  assert.equal(re.test('/v1/items/42'), false);
  // An alternation is anchored as a whole, not only its first and last branch.
  const alt = compileFullMatch('a|b');
  assert.equal(alt.test('a'), true);
  assert.equal(alt.test('ab'), false);
  assert.throws(() => compileFullMatch('('), SyntaxError);
  // Valid only once wrapped, and then unanchored: must be refused.
  assert.throws(() => compileFullMatch('a)|(b'), SyntaxError);
});

test('route patterns match in linear time: catastrophic backtracking is impossible, backreferences are refused', { timeout: 20_000 }, async () => {
  const { compileFullMatch, checkRegex } = await import('./route-common.ts');
  const { Checker } = await import('../validate.ts');
  // With a backtracking engine each of these takes longer than the test's timeout (2^5000 steps).
  assert.equal(compileFullMatch('/(a+)+$').test(`/${'a'.repeat(5000)}!`), false);
  assert.equal(compileFullMatch('(a|a)*b').test('a'.repeat(100_000)), false);
  assert.equal(compileFullMatch('/v[0-9]+/.*').test('/v2/items'), true);
  const c = new Checker();
  assert.equal(checkRegex(c, '(a)\\1', 'spec.rules[0].matches[0].path.value'), false);
  assert.equal(c.errors[0].path, 'spec.rules[0].matches[0].path.value');
  assert.match(c.errors[0].message, /linear time/);
});

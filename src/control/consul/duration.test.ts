import { test } from 'node:test';
import assert from 'node:assert/strict';
import { durationMs, parseGoDuration } from './duration.ts';

test('Go durations as Consul sends them', () => {
  assert.equal(parseGoDuration('10s'), 10_000);
  assert.equal(parseGoDuration('1m30s'), 90_000);
  assert.equal(parseGoDuration('500ms'), 500);
  assert.equal(parseGoDuration('1.5h'), 5_400_000);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('-2s'), -2000);
  assert.equal(parseGoDuration('250us'), 0.25);
  for (const bad of ['', '10', 's', '10x', '1m 30s', '1.2.3s', 'ten seconds']) assert.equal(parseGoDuration(bad), undefined, bad);
});

test('a duration field: a string, or nanoseconds as Go decodes a number into a Duration', () => {
  const bad = (why: string) => new Error(why);
  assert.equal(durationMs('15s', bad), 15_000);
  assert.equal(durationMs(2_000_000_000, bad), 2000);
  assert.equal(durationMs(undefined, bad), undefined);
  assert.equal(durationMs('', bad), undefined);
  assert.throws(() => durationMs('soon', bad), /invalid duration "soon"/);
  assert.throws(() => durationMs(true, bad), /cannot decode/);
});

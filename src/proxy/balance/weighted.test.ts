import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer } from './balancer.ts';
import { endpoint, policy, seededRandom, sequence, countPicks } from './fixtures.ts';

test('weighted picks follow the weights exactly and smoothly (1:3)', () => {
  const b = createBalancer({ random: seededRandom(1) });
  b.update([endpoint('a', { weight: 1 }), endpoint('b', { weight: 3 })], policy('weighted'));
  const ids = sequence(() => b.picker(), 400);
  // Every run of 4 picks (one full round of the weights) has exactly one `a`.
  for (let i = 0; i < ids.length; i += 4) assert.equal(ids.slice(i, i + 4).filter((id) => id === 'a').length, 1);
});

test('weighted reproduces nginx smooth weighted round robin', () => {
  const b = createBalancer();
  b.update([endpoint('a', { weight: 5 }), endpoint('b', { weight: 1 }), endpoint('c', { weight: 1 })], policy('weighted'));
  assert.deepEqual(sequence(() => b.picker(), 7), ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
});

test('weighted never picks weight-0 endpoints', () => {
  const b = createBalancer({ random: seededRandom(1) });
  b.update([endpoint('a', { weight: 0 }), endpoint('b', { weight: 2 }), endpoint('c', { weight: 2 })], policy('weighted'));
  const counts = countPicks(() => b.picker(), 100);
  assert.equal(counts.get('a'), undefined);
  assert.equal(counts.get('b'), 50);
});

test('weighted with every healthy endpoint at weight 0 fails as no-healthy-endpoints', () => {
  const b = createBalancer();
  b.update([endpoint('a', { weight: 0 }), endpoint('b', { weight: 0 })], policy('weighted'));
  const pick = b.picker().pick();
  assert.equal(pick.kind, 'fail');
  assert.equal(pick.kind === 'fail' && pick.reason, 'no-healthy-endpoints');
});

test('weighted keeps the proportions of the untried endpoints on a retry', () => {
  const b = createBalancer();
  b.update([endpoint('a', { weight: 1 }), endpoint('b', { weight: 2 }), endpoint('c', { weight: 3 })], policy('weighted'));
  const counts = countPicks(() => b.picker(), 300, { exclude: new Set(['c']) });
  assert.deepEqual([counts.get('a'), counts.get('b'), counts.get('c')], [100, 200, undefined]);
  const all = b.picker().pick({ exclude: new Set(['a', 'b', 'c']) });
  assert.equal(all.kind === 'fail' && all.reason, 'all-endpoints-tried');
});

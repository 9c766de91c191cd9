import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer } from './balancer.ts';
import { endpoint, policy, seededRandom, sequence } from './fixtures.ts';

test('round robin cycles through every endpoint evenly, in a fixed order', () => {
  const b = createBalancer({ random: seededRandom(1) });
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], policy('round-robin'));
  const ids = sequence(() => b.picker(), 30);
  const cycle = ids.slice(0, 3);
  assert.deepEqual([...cycle].sort(), ['a', 'b', 'c']);
  for (let i = 0; i < ids.length; i++) assert.equal(ids[i], cycle[i % 3]);
});

test('round robin ignores weights', () => {
  const b = createBalancer({ random: seededRandom(2) });
  b.update([endpoint('a', { weight: 1 }), endpoint('b', { weight: 9 })], policy('round-robin'));
  const ids = sequence(() => b.picker(), 10);
  assert.equal(ids.filter((id) => id === 'a').length, 5);
});

test('round robin skips excluded endpoints and keeps cycling over the rest', () => {
  const b = createBalancer({ random: seededRandom(3) });
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], policy('round-robin'));
  const ids = sequence(() => b.picker(), 10, { exclude: new Set(['b']) });
  assert.ok(!ids.includes('b'));
  for (let i = 1; i < ids.length; i++) assert.notEqual(ids[i], ids[i - 1]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer } from './balancer.ts';
import { countPicks, endpoint, policy, seededRandom } from './fixtures.ts';

test('random picks are roughly uniform', () => {
  const b = createBalancer({ random: seededRandom(42) });
  b.update(['a', 'b', 'c', 'd'].map((id) => endpoint(id)), policy('random'));
  const counts = countPicks(() => b.picker(), 40_000);
  assert.equal(counts.size, 4);
  for (const [id, n] of counts) assert.ok(Math.abs(n - 10_000) < 500, `${id}: ${n}`);
});

test('random re-draws uniformly among untried endpoints on a retry', () => {
  const b = createBalancer({ random: seededRandom(7) });
  b.update(['a', 'b', 'c'].map((id) => endpoint(id)), policy('random'));
  const counts = countPicks(() => b.picker(), 20_000, { exclude: new Set(['a']) });
  assert.equal(counts.get('a'), undefined);
  for (const id of ['b', 'c']) assert.ok(Math.abs(counts.get(id)! - 10_000) < 500, `${id}: ${counts.get(id)}`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer } from './balancer.ts';
import type { Pick } from './picker.ts';
import { countPicks, endpoint, pickedId, policy, seededRandom } from './fixtures.ts';

const ok = { ok: true, latencyMs: 1 };

test('least request sends each new request to the endpoint with fewest in flight', () => {
  const b = createBalancer({ random: seededRandom(5) });
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], policy('least-request', 3));
  const open: Pick[] = [];
  for (let i = 0; i < 9; i++) open.push(b.picker().pick());
  const active = new Map(b.endpointStats().map((s) => [s.id, s.active]));
  assert.deepEqual([active.get('a'), active.get('b'), active.get('c')], [3, 3, 3]);
  // Finish b's requests: b is now the least loaded and gets the next two.
  for (const p of open) if (p.kind === 'endpoint' && p.endpoint.id === 'b') p.done(ok);
  assert.equal(pickedId(b.picker().pick()), 'b');
  assert.equal(pickedId(b.picker().pick()), 'b');
});

test('least request with two choices avoids a loaded endpoint', () => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const b = createBalancer({ random: seededRandom(9) });
  // Pin five requests on `hot` by excluding everything else.
  b.update([...ids, 'hot'].map((id) => endpoint(id)), policy('least-request'));
  const others = new Set(ids);
  for (let i = 0; i < 5; i++) assert.equal(pickedId(b.picker().pick({ exclude: others })), 'hot');
  // The two samples are distinct, so `hot` always loses to the idle endpoint sampled with it.
  const counts = countPicks(() => b.picker(), 2_000);
  assert.equal(counts.get('hot'), undefined);
  for (const id of ids) assert.ok(counts.get(id)! > 150, `${id}: ${counts.get(id)}`);
});

test('least request breaks ties at random', () => {
  const b = createBalancer({ random: seededRandom(11) });
  b.update([endpoint('a'), endpoint('b')], policy('least-request'));
  const counts = countPicks(() => b.picker(), 10_000);
  assert.ok(Math.abs(counts.get('a')! - 5_000) < 300, `a: ${counts.get('a')}`);
});

test('least request weighs load by endpoint weight', () => {
  const b = createBalancer({ random: seededRandom(13) });
  b.update([endpoint('a', { weight: 1 }), endpoint('b', { weight: 3 }), endpoint('z', { weight: 0 })], policy('least-request'));
  // Idle, the heavier endpoint scores better: (0 + 1) / 3 < (0 + 1) / 1.
  assert.equal(pickedId(b.picker().pick()), 'b');
  // Held open, requests settle in proportion to the weights; weight 0 gets none.
  const open: Pick[] = [];
  for (let i = 0; i < 39; i++) open.push(b.picker().pick());
  const active = new Map(b.endpointStats().map((s) => [s.id, s.active]));
  assert.deepEqual([active.get('a'), active.get('b'), active.get('z')], [10, 30, 0]);
});

test('least request honours exclude', () => {
  const b = createBalancer({ random: seededRandom(17) });
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], policy('least-request'));
  const counts = countPicks(() => b.picker(), 1_000, { exclude: new Set(['a', 'b']) });
  assert.deepEqual([...counts], [['c', 1_000]]);
  const pick = b.picker().pick({ exclude: new Set(['a', 'b', 'c']) });
  assert.equal(pick.kind === 'fail' && pick.reason, 'all-endpoints-tried');
});

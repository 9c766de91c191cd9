import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../lib/clock.ts';
import { LOAD_BALANCER_ALGORITHMS } from '../../config/kinds/backend-policy.ts';
import { createBalancer } from './balancer.ts';
import type { Pick } from './picker.ts';
import { countPicks, endpoint, pickedId, policy, seededRandom, tuned } from './fixtures.ts';

const ok = { ok: true, latencyMs: 1 };
const refused = { ok: false, connectFailure: true, latencyMs: 1 };

function reason(pick: Pick): string {
  return pick.kind === 'fail' ? pick.reason : `endpoint ${pick.endpoint.id}`;
}

function stats(b: ReturnType<typeof createBalancer>, id: string) {
  const s = b.endpointStats().find((x) => x.id === id);
  assert.ok(s, `no stats for ${id}`);
  return s;
}

/** Picks until `id` comes up (round robin gets there within n picks) and fails the attempt. */
function refuse(b: ReturnType<typeof createBalancer>, id: string): void {
  const others = new Set(b.endpointStats().map((s) => s.id).filter((x) => x !== id));
  const pick = b.picker().pick({ exclude: others });
  assert.equal(pickedId(pick), id);
  if (pick.kind === 'endpoint') pick.done(refused);
}

test('no endpoints and no healthy endpoints fail with different reasons', () => {
  const b = createBalancer();
  assert.equal(reason(b.picker().pick()), 'no-endpoints');
  b.update([], policy('round-robin'));
  assert.equal(reason(b.picker().pick()), 'no-endpoints');
  b.update([endpoint('a', { health: 'critical' })], policy('round-robin'));
  assert.equal(reason(b.picker().pick()), 'no-healthy-endpoints');
});

test('only passing and warning endpoints are picked, by every algorithm', () => {
  for (const algorithm of LOAD_BALANCER_ALGORITHMS) {
    const b = createBalancer({ random: seededRandom(1) });
    b.update(
      [endpoint('a', { health: 'critical' }), endpoint('b', { health: 'warning' }), endpoint('c')],
      policy(algorithm),
    );
    const counts = countPicks(() => b.picker(), 200);
    // peak-ewma may stay on the one that answered fastest (the other's score decays only with time).
    if (algorithm === 'peak-ewma') assert.ok([...counts.keys()].every((id) => id === 'b' || id === 'c'), algorithm);
    else assert.deepEqual([...counts.keys()].sort(), ['b', 'c'], algorithm);
  }
});

test('exclude skips tried endpoints and fails once all were tried, for every algorithm', () => {
  for (const algorithm of LOAD_BALANCER_ALGORITHMS) {
    const b = createBalancer({ random: seededRandom(2) });
    b.update([endpoint('a'), endpoint('b'), endpoint('c', { health: 'critical' })], policy(algorithm));
    const counts = countPicks(() => b.picker(), 50, { exclude: new Set(['a']) });
    assert.deepEqual([...counts], [['b', 50]], algorithm);
    // The unhealthy `c` does not count as left to try.
    assert.equal(reason(b.picker().pick({ exclude: new Set(['a', 'b']) })), 'all-endpoints-tried', algorithm);
  }
});

test('done is idempotent', () => {
  const b = createBalancer();
  b.update([endpoint('a')], policy('least-request'));
  const p1 = b.picker().pick();
  const p2 = b.picker().pick();
  assert.equal(stats(b, 'a').active, 2);
  assert.ok(p1.kind === 'endpoint' && p2.kind === 'endpoint');
  p1.done({ ok: false, latencyMs: 3 });
  p1.done({ ok: false, latencyMs: 3 });
  assert.equal(stats(b, 'a').active, 1);
  assert.equal(stats(b, 'a').consecutiveFailures, 1);
  p2.done(ok);
  assert.equal(stats(b, 'a').active, 0);
  assert.equal(stats(b, 'a').consecutiveFailures, 0);
});

test('per-endpoint state survives updates for endpoints still present', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(3) });
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], policy('round-robin'));
  const held = b.picker().pick({ exclude: new Set(['b', 'c']) });
  refuse(b, 'b');
  assert.notEqual(stats(b, 'b').ejectedUntil, undefined);

  // New snapshot: `c` leaves, `d` arrives, `a` changes address and `b` changes weight.
  b.update([endpoint('a', { address: '10.0.0.9' }), endpoint('b', { weight: 4 }), endpoint('d')], policy('least-request', 3));
  assert.equal(stats(b, 'a').active, 1);
  assert.equal(stats(b, 'b').consecutiveFailures, 1);
  assert.notEqual(stats(b, 'b').ejectedUntil, undefined, 'ejection carries over');
  // `a` still has a request in flight and `b` is ejected, so least-request goes to `d`.
  const next = b.picker().pick();
  assert.equal(pickedId(next), 'd');
  if (next.kind === 'endpoint') next.done(ok);
  // A pick made before the update settles on the same state.
  assert.ok(held.kind === 'endpoint');
  held.done(ok);
  assert.equal(stats(b, 'a').active, 0);

  // An endpoint that leaves and comes back starts afresh; the late `done` of a removed one is harmless.
  const onD = b.picker().pick({ exclude: new Set(['a', 'b']) });
  b.update([endpoint('a'), endpoint('b')], policy('round-robin'));
  assert.ok(onD.kind === 'endpoint');
  onD.done(refused);
  b.update([endpoint('a'), endpoint('b'), endpoint('d')], policy('round-robin'));
  const d = stats(b, 'd');
  assert.deepEqual(
    { active: d.active, consecutiveFailures: d.consecutiveFailures, eligible: d.eligible, ejectedUntil: d.ejectedUntil, ejectionCount: d.ejectionCount },
    { active: 0, consecutiveFailures: 0, eligible: true, ejectedUntil: undefined, ejectionCount: 0 },
  );
});

test('a connect failure ejects the endpoint for baseEjectionTimeMs', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(4) });
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], tuned(policy('round-robin'), { baseEjectionTimeMs: 5_000 }));
  const before = b.picker();
  refuse(b, 'a');
  assert.notEqual(b.picker(), before, 'ejection publishes a new picker');
  assert.equal(stats(b, 'a').ejectedUntil, clock.now() + 5_000);
  assert.equal(countPicks(() => b.picker(), 100).get('a'), undefined);
  // Retries do not reach for the ejected endpoint either.
  assert.equal(reason(b.picker().pick({ exclude: new Set(['b', 'c']) })), 'all-endpoints-tried');

  clock.advance(4_999);
  assert.equal(countPicks(() => b.picker(), 100).get('a'), undefined);
  clock.advance(1);
  assert.equal(stats(b, 'a').ejectedUntil, undefined);
  assert.equal(countPicks(() => b.picker(), 99).get('a'), 33);
});

test('failures with neither a status nor a failure kind do not eject', () => {
  const b = createBalancer({ clock: new ManualClock(), random: seededRandom(5) });
  b.update([endpoint('a'), endpoint('b')], policy('round-robin'));
  for (let i = 0; i < 5; i++) {
    const pick = b.picker().pick({ exclude: new Set(['b']) });
    if (pick.kind === 'endpoint') pick.done({ ok: false, latencyMs: 1 });
  }
  assert.equal(stats(b, 'a').consecutiveFailures, 5);
  assert.equal(stats(b, 'a').ejectedUntil, undefined);
});

test('at most maxEjectionPercent of the endpoints are ejected, but at least one may be', () => {
  const clock = new ManualClock();
  const four = createBalancer({ clock, random: seededRandom(6) });
  four.update(['a', 'b', 'c', 'd'].map((id) => endpoint(id)), policy('round-robin'));
  for (const id of ['a', 'b', 'c']) refuse(four, id);
  assert.deepEqual(four.endpointStats().map((s) => s.ejectedUntil !== undefined), [true, true, false, false]);
  assert.deepEqual([...countPicks(() => four.picker(), 10).keys()].sort(), ['c', 'd']);

  const two = createBalancer({ clock, random: seededRandom(7) });
  two.update([endpoint('a'), endpoint('b')], policy('round-robin'));
  refuse(two, 'a');
  refuse(two, 'b');
  assert.deepEqual(two.endpointStats().map((s) => s.ejectedUntil !== undefined), [true, false]);

  // Once an ejection ends, another endpoint may take its place.
  clock.advance(30_000);
  refuse(two, 'b');
  assert.deepEqual(two.endpointStats().map((s) => s.ejectedUntil !== undefined), [false, true]);

  const none = createBalancer({ clock });
  none.update([endpoint('a'), endpoint('b')], tuned(policy('round-robin'), { maxEjectionPercent: 0 }));
  refuse(none, 'a');
  assert.equal(stats(none, 'a').ejectedUntil, undefined);
});

test('when every endpoint is ejected the picker falls back to all of them', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(8) });
  b.update([endpoint('a'), endpoint('b')], tuned(policy('random'), { maxEjectionPercent: 100 }));
  refuse(b, 'a');
  assert.deepEqual([...countPicks(() => b.picker(), 20).keys()], ['b']);
  refuse(b, 'b');
  assert.deepEqual([...countPicks(() => b.picker(), 200).keys()].sort(), ['a', 'b']);

  const single = createBalancer({ clock });
  single.update([endpoint('only')], policy('round-robin'));
  refuse(single, 'only');
  assert.notEqual(stats(single, 'only').ejectedUntil, undefined);
  assert.equal(pickedId(single.picker().pick()), 'only');
});

test('an ejected endpoint that leaves takes its ejection with it', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(9) });
  b.update([endpoint('a'), endpoint('b')], policy('round-robin'));
  refuse(b, 'a');
  b.update([endpoint('b'), endpoint('c')], policy('round-robin'));
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], policy('round-robin'));
  assert.equal(stats(b, 'a').ejectedUntil, undefined);
  clock.advance(60_000); // the old expiry timer was cancelled or finds nothing to do
  assert.equal(countPicks(() => b.picker(), 30).get('a'), 10);
});

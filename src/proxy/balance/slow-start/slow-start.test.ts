// Slow start through the balancer, on a manual clock: who ramps (new after the first update, back
// after an ejection, healthy again), the share each algorithm gives a ramping endpoint, and the end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { createBalancer, type StatefulBalancer } from '../balancer.ts';
import type { LoadBalancerAlgorithm } from '../../../config/kinds/backend-policy.ts';
import { countPicks, endpoint, pickedId, policy, seededRandom, tuned } from '../fixtures.ts';

const WINDOW = 10_000;

function factor(b: StatefulBalancer, id: string): number {
  const s = b.endpointStats().find((x) => x.id === id);
  assert.ok(s);
  return s.weightFactor;
}

function setup(algorithm: LoadBalancerAlgorithm, seed = 1) {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(seed) });
  const p = tuned(policy(algorithm), { successRate: { enabled: false }, baseEjectionTimeMs: 1_000 }, { windowMs: WINDOW, aggression: 1, minWeightPercent: 10 });
  b.update([endpoint('a'), endpoint('b')], p);
  return { b, clock, p };
}

test('the first update\'s endpoints start at full weight; one added later ramps linearly over the window', () => {
  const { b, clock, p } = setup('weighted');
  assert.equal(factor(b, 'a'), 1);
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], p);
  const seen: number[] = [];
  for (let t = 0; t <= WINDOW; t += 1_000) {
    seen.push(Math.round(factor(b, 'c') * 100) / 100);
    clock.advance(1_000);
  }
  // Recomputed every window / 10 on a timer: 0.1 (the floor) at first, then t / window.
  assert.deepEqual(seen, [0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  assert.equal(factor(b, 'a'), 1);
});

// least-request with every pick completed at once sees no load: its own test below holds requests open.
for (const algorithm of ['weighted', 'round-robin', 'random'] as const) {
  test(`${algorithm}: a ramping endpoint gets about its factor's share, then a full share`, () => {
    const { b, clock, p } = setup(algorithm, 7);
    b.update([endpoint('a'), endpoint('b'), endpoint('c')], p);
    clock.advance(WINDOW / 2); // factor 0.5: c's share is 0.5 / 2.5 = 20%
    assert.equal(factor(b, 'c'), 0.5);
    const n = 5_000;
    const half = countPicks(() => b.picker(), n).get('c') ?? 0;
    assert.ok(Math.abs(half / n - 0.2) < 0.03, `${algorithm}: c got ${half} of ${n} at factor 0.5`);
    clock.advance(WINDOW / 2);
    assert.equal(factor(b, 'c'), 1);
    const full = countPicks(() => b.picker(), 3_000).get('c') ?? 0;
    assert.ok(Math.abs(full / 3_000 - 1 / 3) < 0.03, `${algorithm}: c got ${full} of 3000 at full weight`);
  });
}

test('least-request: the ramp weighs against load, as Envoy\'s weighted score (active + 1) / (weight × factor)', () => {
  const { b, clock, p } = setup('least-request', 3);
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], p);
  clock.advance(WINDOW / 2); // factor 0.5
  // Requests held open: each pick goes where (active + 1) / factor is lowest of two sampled, so c
  // carries about half the load of a or b, a fifth of the whole.
  const held = [];
  for (let i = 0; i < 500; i++) held.push(b.picker().pick());
  const c = held.filter((x) => pickedId(x) === 'c').length;
  assert.ok(Math.abs(c / 500 - 0.2) < 0.03, `c carries ${c} of 500`);
  for (const x of held) if (x.kind === 'endpoint') x.done({ ok: true, latencyMs: 1 });
});

test('an endpoint readmitted after an ejection ramps up again', () => {
  const { b, clock } = setup('round-robin');
  const pick = b.picker().pick({ exclude: new Set(['b']) });
  assert.ok(pick.kind === 'endpoint');
  pick.done({ ok: false, connectFailure: true, failure: 'connect', latencyMs: 1 });
  assert.equal(factor(b, 'a'), 1, 'no ramp while ejected');
  clock.advance(1_000);
  assert.equal(factor(b, 'a'), 0.1, 'readmitted at the floor');
  clock.advance(WINDOW);
  assert.equal(factor(b, 'a'), 1);
});

test('an endpoint healthy again ramps; a window of 0 turns it all off, ramps in progress included', () => {
  const { b, clock, p } = setup('round-robin');
  b.update([endpoint('a', { health: 'critical' }), endpoint('b')], p);
  b.update([endpoint('a'), endpoint('b')], p);
  assert.equal(factor(b, 'a'), 0.1);
  clock.advance(WINDOW / 2);
  b.update([endpoint('a'), endpoint('b')], tuned(policy('round-robin'), {}, { windowMs: 0 }));
  assert.equal(factor(b, 'a'), 1);
  assert.deepEqual([...countPicks(() => b.picker(), 10).values()], [5, 5]);
});

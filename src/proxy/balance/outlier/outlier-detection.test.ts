// Outlier detection through the balancer, on a manual clock: each ejection rule, ejection time growth
// and cap, decay, maxEjectionPercent, readmission, success rate, and what the observer is told.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { createBalancer, type StatefulBalancer } from '../balancer.ts';
import type { PickOutcome } from '../picker.ts';
import { countPicks, endpoint, pickedId, policy, seededRandom, tuned } from '../fixtures.ts';
import type { EjectionReason } from './outcome.ts';

const answer = (status: number): PickOutcome => ({ ok: status < 500, latencyMs: 1, status });
const failed = (failure: 'connect' | 'reset' | 'timeout' | 'cancelled'): PickOutcome => ({ ok: false, connectFailure: failure === 'connect', latencyMs: 1, failure });

function stats(b: StatefulBalancer, id: string) {
  const s = b.endpointStats().find((x) => x.id === id);
  assert.ok(s, `no stats for ${id}`);
  return s;
}

const ejected = (b: StatefulBalancer, id: string): boolean => stats(b, id).ejectedUntil !== undefined;

/** Sends one attempt to `id` (the others excluded) and settles it with `outcome`. */
function send(b: StatefulBalancer, id: string, outcome: PickOutcome): void {
  const others = new Set(b.endpointStats().map((s) => s.id).filter((x) => x !== id));
  const pick = b.picker().pick({ exclude: others });
  assert.equal(pickedId(pick), id);
  if (pick.kind === 'endpoint') pick.done(outcome);
}

function balancer(ids: string[], outlier: Parameters<typeof tuned>[1] = {}, seed = 1) {
  const clock = new ManualClock();
  const events: string[] = [];
  const b = createBalancer({
    clock,
    random: seededRandom(seed),
    observer: { ejected: (reason: EjectionReason) => events.push(`ejected ${reason}`), ended: () => events.push('ended') },
  });
  b.update(ids.map((id) => endpoint(id)), tuned(policy('round-robin'), { successRate: { enabled: false }, ...outlier }));
  return { b, clock, events };
}

test('consecutive5xx: the Nth 5xx in a row ejects; any non-5xx answer (429 included) restarts the count', () => {
  const { b, events } = balancer(['a', 'b', 'c']);
  for (let i = 0; i < 4; i++) send(b, 'a', answer(500));
  assert.equal(stats(b, 'a').consecutive5xx, 4);
  send(b, 'a', answer(429));
  assert.equal(stats(b, 'a').consecutive5xx, 0, '429 is load, not failure');
  for (let i = 0; i < 4; i++) send(b, 'a', answer(500));
  send(b, 'a', answer(200));
  for (let i = 0; i < 4; i++) send(b, 'a', answer(501));
  assert.equal(ejected(b, 'a'), false);
  send(b, 'a', answer(500));
  assert.equal(ejected(b, 'a'), true);
  assert.equal(stats(b, 'a').lastEjectionReason, 'consecutive-5xx');
  assert.equal(stats(b, 'a').consecutive5xx, 0, 'counts restart after an ejection');
  assert.deepEqual(events, ['ejected consecutive-5xx']);
  assert.equal(countPicks(() => b.picker(), 60).get('a'), undefined);
});

test('consecutiveGatewayErrors: 502/503/504, resets and timeouts; a plain 500 ends the run; cancelled counts for nothing', () => {
  const { b } = balancer(['a', 'b', 'c'], { consecutive5xx: 0, consecutiveGatewayErrors: 4 });
  send(b, 'a', answer(502));
  send(b, 'a', answer(503));
  send(b, 'a', failed('cancelled'));
  send(b, 'a', answer(504));
  assert.equal(stats(b, 'a').consecutiveGatewayErrors, 3);
  send(b, 'a', answer(500));
  assert.equal(stats(b, 'a').consecutiveGatewayErrors, 0);
  send(b, 'a', failed('reset'));
  send(b, 'a', failed('timeout'));
  send(b, 'a', answer(503));
  for (let i = 0; i < 10; i++) send(b, 'a', failed('cancelled'));
  assert.equal(ejected(b, 'a'), false);
  send(b, 'a', failed('reset'));
  assert.equal(ejected(b, 'a'), true);
  assert.equal(stats(b, 'a').lastEjectionReason, 'consecutive-gateway-errors');
});

test('gateway errors also count as 5xx (Envoy without split local-origin errors)', () => {
  const { b } = balancer(['a', 'b', 'c'], { consecutive5xx: 3, consecutiveGatewayErrors: 0, consecutiveConnectFailures: 0 });
  send(b, 'a', failed('timeout'));
  send(b, 'a', answer(503));
  send(b, 'a', answer(500));
  assert.equal(stats(b, 'a').lastEjectionReason, 'consecutive-5xx');
});

test('a connect failure ejects at once by default (consecutiveConnectFailures 1); 0 leaves it to the other rules', () => {
  const once = balancer(['a', 'b', 'c']);
  send(once.b, 'a', failed('connect'));
  assert.equal(stats(once.b, 'a').lastEjectionReason, 'connect-failure');
  assert.deepEqual(once.events, ['ejected connect-failure']);

  const off = balancer(['a', 'b', 'c'], { consecutiveConnectFailures: 0, consecutiveGatewayErrors: 3 });
  send(off.b, 'a', failed('connect'));
  send(off.b, 'a', failed('connect'));
  send(off.b, 'a', { ok: true, latencyMs: 1 }); // a TCP connection carried through: no status, still a success
  assert.equal(stats(off.b, 'a').consecutiveGatewayErrors, 0);
  send(off.b, 'a', { ok: false, latencyMs: 0 }); // the proxy's own trouble: counts for nothing
  send(off.b, 'a', failed('connect'));
  send(off.b, 'a', failed('connect'));
  assert.equal(ejected(off.b, 'a'), false);
  send(off.b, 'a', failed('connect'));
  assert.equal(stats(off.b, 'a').lastEjectionReason, 'consecutive-gateway-errors');
});

test('ejection time is base × times ejected, capped at maxEjectionTimeMs; readmission on time, counters fresh', () => {
  const { b, clock, events } = balancer(['a', 'b', 'c'], { baseEjectionTimeMs: 1_000, maxEjectionTimeMs: 2_500, intervalMs: 60_000 });
  const lengths: number[] = [];
  for (let i = 0; i < 4; i++) {
    const start = clock.now();
    send(b, 'a', failed('connect'));
    const until = stats(b, 'a').ejectedUntil;
    assert.ok(until !== undefined);
    lengths.push(until - start);
    clock.advance(until - start - 1);
    assert.equal(ejected(b, 'a'), true, 'still out 1 ms before the end');
    assert.equal(countPicks(() => b.picker(), 20).get('a'), undefined);
    clock.advance(1);
    assert.equal(ejected(b, 'a'), false, 'back at the end');
    assert.equal(stats(b, 'a').consecutiveConnectFailures, 0);
  }
  assert.deepEqual(lengths, [1_000, 2_000, 2_500, 2_500]);
  assert.equal(stats(b, 'a').ejectionCount, 3, 'the multiplier stops growing at the cap');
  assert.deepEqual(events.filter((e) => e === 'ended').length, 4);
  assert.equal(countPicks(() => b.picker(), 30).get('a'), 10);
});

test('the ejection count decays by one per interval spent not ejected', () => {
  const { b, clock } = balancer(['a', 'b', 'c'], { baseEjectionTimeMs: 1_000, maxEjectionTimeMs: 10_000, intervalMs: 5_000 });
  send(b, 'a', failed('connect'));
  clock.advance(1_000);
  send(b, 'a', failed('connect'));
  assert.equal(stats(b, 'a').ejectionCount, 2);
  clock.advance(2_000); // readmitted at t=3000; the first interval ends at t=5000
  assert.equal(stats(b, 'a').ejectionCount, 2);
  clock.advance(2_000);
  assert.equal(stats(b, 'a').ejectionCount, 1);
  const start = clock.now();
  send(b, 'a', failed('connect'));
  assert.equal(stats(b, 'a').ejectedUntil! - start, 2_000, 'after one decay the next ejection is the second, not the third');
  clock.advance(20_000);
  assert.equal(stats(b, 'a').ejectionCount, 0);
  send(b, 'a', failed('connect'));
  assert.equal(stats(b, 'a').ejectedUntil! - clock.now(), 1_000, 'fully decayed: base time again');
});

test('maxEjectionPercent caps ejections (at least one); a capped endpoint is ejected once a place frees up', () => {
  const ten = balancer(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'], { maxEjectionPercent: 20, baseEjectionTimeMs: 1_000 });
  for (const id of ['a', 'b', 'c']) send(ten.b, id, failed('connect'));
  assert.deepEqual(['a', 'b', 'c'].map((id) => ejected(ten.b, id)), [true, true, false]);
  ten.clock.advance(1_000);
  send(ten.b, 'c', failed('connect'));
  assert.equal(ejected(ten.b, 'c'), true);

  // Default 50 with three endpoints: one may go, the second failing one stays in.
  const three = balancer(['a', 'b', 'c']);
  for (const id of ['a', 'b']) for (let i = 0; i < 5; i++) send(three.b, id, answer(500));
  assert.deepEqual(['a', 'b', 'c'].map((id) => ejected(three.b, id)), [true, false, false]);
  // Its run goes on, so it is ejected on its next 5xx once `a` is back.
  three.clock.advance(30_000);
  send(three.b, 'b', answer(500));
  assert.deepEqual(['a', 'b', 'c'].map((id) => ejected(three.b, id)), [false, true, false]);

  const none = balancer(['a', 'b'], { maxEjectionPercent: 0 });
  send(none.b, 'a', failed('connect'));
  assert.equal(ejected(none.b, 'a'), false);
});

test('success rate: below mean − 1.9 stdev over an interval is ejected; too little volume or too few hosts is not judged', () => {
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const { b, clock, events } = balancer(ids, { consecutive5xx: 0, consecutiveGatewayErrors: 0, intervalMs: 10_000, successRate: { enabled: true } });
  // Interval 1: `e` fails 40% of 100 requests (never 5 in a row), the rest succeed.
  for (const id of ids) for (let i = 0; i < 100; i++) send(b, id, answer(id === 'e' && i % 5 < 2 ? 503 : 200));
  clock.advance(9_999);
  assert.equal(ejected(b, 'e'), false, 'judged only at the end of the interval');
  clock.advance(1);
  assert.equal(ejected(b, 'e'), true);
  assert.equal(stats(b, 'e').lastEjectionReason, 'success-rate');
  assert.deepEqual(events, ['ejected success-rate']);
  assert.deepEqual(ids.slice(0, 4).map((id) => ejected(b, id)), [false, false, false, false]);

  // Interval 2: the same shape at 99 requests each is below requestVolume: nobody is judged.
  const low = balancer(ids, { consecutive5xx: 0, consecutiveGatewayErrors: 0, successRate: { enabled: true } }, 2);
  for (const id of ids) for (let i = 0; i < 99; i++) send(low.b, id, answer(id === 'e' && i % 5 < 2 ? 503 : 200));
  low.clock.advance(10_000);
  assert.equal(ejected(low.b, 'e'), false);

  // Four endpoints: below minimumHosts 5, no interval timer and no verdict.
  const four = balancer(ids.slice(0, 4), { consecutive5xx: 0, consecutiveGatewayErrors: 0, successRate: { enabled: true } }, 3);
  for (const id of ['a', 'b', 'c', 'd']) for (let i = 0; i < 100; i++) send(four.b, id, answer(id === 'd' && i % 2 ? 503 : 200));
  four.clock.advance(10_000);
  assert.equal(ejected(four.b, 'd'), false);
});

test('an endpoint that leaves ends its ejection (observer told), and close() ends the rest', () => {
  const { b, events } = balancer(['a', 'b', 'c', 'd']);
  send(b, 'a', failed('connect'));
  send(b, 'b', failed('connect'));
  b.update(['b', 'c', 'd'].map((id) => endpoint(id)), tuned(policy('round-robin')));
  assert.deepEqual(events, ['ejected connect-failure', 'ejected connect-failure', 'ended']);
  b.close();
  assert.deepEqual(events.slice(3), ['ended']);
  assert.equal(ejected(b, 'b'), false);
});

test('a stored policy without outlierDetection gets the defaults', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(4) });
  const { outlierDetection: _o, slowStart: _s, ...old } = policy('round-robin');
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], old);
  for (let i = 0; i < 5; i++) send(b, 'a', answer(503));
  assert.equal(stats(b, 'a').lastEjectionReason, 'consecutive-gateway-errors');
  assert.equal(stats(b, 'a').ejectedUntil! - clock.now(), 30_000);
});

test('an ejected endpoint the catalog marks critical and then passing again is readmitted at once', () => {
  const { b, events } = balancer(['a', 'b', 'c']);
  send(b, 'a', failed('connect'));
  const p = tuned(policy('round-robin'), { successRate: { enabled: false } });
  b.update([endpoint('a', { health: 'critical' }), endpoint('b'), endpoint('c')], p);
  assert.equal(ejected(b, 'a'), true, 'critical alone does not end the ejection');
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], p);
  assert.equal(ejected(b, 'a'), false);
  assert.equal(stats(b, 'a').ejectionCount, 1, 'the count stays, and decays as usual');
  assert.deepEqual(events, ['ejected connect-failure', 'ended']);
  assert.equal(countPicks(() => b.picker(), 30).get('a'), 10);
  // A passing endpoint that stays passing keeps its ejection across updates.
  send(b, 'b', failed('connect'));
  b.update([endpoint('a'), endpoint('b'), endpoint('c')], p);
  assert.equal(ejected(b, 'b'), true);
});

// peak-ewma: the estimate's decay and peak, the score's power-of-two choices, the error penalty and
// the neutral start, on an injected clock and a seeded random source.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { DEFAULT_BACKEND_POLICY, type BackendPolicySpec } from '../../../config/kinds/backend-policy.ts';
import { DEFAULT_OUTLIER_DETECTION } from '../../../config/kinds/backend-policy-outlier.ts';
import { createBalancer, type StatefulBalancer } from '../balancer.ts';
import type { PickOutcome } from '../picker.ts';
import { endpoint, pickedId, seededRandom } from '../fixtures.ts';
import { PeakEwma, type EwmaSettings } from './ewma.ts';

function settings(clock: ManualClock, decayMs = 10_000, penaltyMs = 1_000): EwmaSettings {
  return { clock, decayMs, penaltyMs };
}

const peak = (extra: Partial<BackendPolicySpec['loadBalancer']> = {}): BackendPolicySpec => ({
  ...DEFAULT_BACKEND_POLICY,
  loadBalancer: { algorithm: 'peak-ewma', choiceCount: 2, ...extra },
});

function score(b: StatefulBalancer, id: string): number {
  const s = b.endpointStats().find((x) => x.id === id);
  assert.ok(s, id);
  return s.peakEwmaScore;
}

/** Picks `n` times; each pick is answered with what `answer` says for its endpoint, `stepMs` later. */
function drive(b: StatefulBalancer, clock: ManualClock, n: number, answer: (id: string) => PickOutcome, stepMs = 5): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const pick = b.picker().pick();
    const id = pickedId(pick);
    counts.set(id, (counts.get(id) ?? 0) + 1);
    const outcome = answer(id);
    clock.advance(Math.max(stepMs, outcome.latencyMs));
    if (pick.kind === 'endpoint') pick.done(outcome);
  }
  return counts;
}

test('a higher latency is taken at once (the peak); a lower one moves the estimate over the decay window', () => {
  const clock = new ManualClock();
  const e = new PeakEwma(settings(clock), 10);
  e.add(100, clock.now());
  assert.equal(e.cost, 100, 'a peak replaces the estimate at once');
  clock.advance(10_000); // one time constant
  e.add(10, clock.now());
  // w = e^-1: 100·0.368 + 10·0.632 = 43.1
  assert.ok(Math.abs(e.cost - (100 * Math.exp(-1) + 10 * (1 - Math.exp(-1)))) < 1e-9, String(e.cost));
  const before = e.cost;
  clock.advance(100);
  e.add(10, clock.now());
  assert.ok(e.cost < before && e.cost > before - 1, `a sample 100 ms later moves it only a little: ${before} → ${e.cost}`);
});

test('read-time decay: an idle estimate falls by e^-(t/decay), so an endpoint that was slow is probed again', () => {
  const clock = new ManualClock();
  const e = new PeakEwma(settings(clock, 2_000), 50);
  assert.equal(e.at(clock.now()), 50);
  clock.advance(2_000);
  assert.ok(Math.abs(e.at(clock.now()) - 50 * Math.exp(-1)) < 1e-9);
  clock.advance(2_000);
  assert.ok(Math.abs(e.at(clock.now()) - 50 * Math.exp(-2)) < 1e-9);
  assert.equal(e.cost, 50, 'reading changes nothing');
});

test('failures count as a latency of at least penaltyMs: 5xx, 429, reset, timeout, connect; cancelled counts nothing', () => {
  const clock = new ManualClock();
  const s = settings(clock, 10_000, 700);
  const failures: PickOutcome[] = [
    { ok: false, latencyMs: 1, status: 500 },
    { ok: true, latencyMs: 1, status: 429 },
    { ok: false, latencyMs: 2, failure: 'reset' },
    { ok: false, latencyMs: 3, failure: 'timeout' },
    { ok: false, latencyMs: 1, connectFailure: true, failure: 'connect' },
  ];
  for (const f of failures) {
    const e = new PeakEwma(s, 5);
    e.observe(f);
    assert.equal(e.cost, 700, JSON.stringify(f));
  }
  const slow = new PeakEwma(s, 5);
  slow.observe({ ok: false, latencyMs: 2_000, status: 503 });
  assert.equal(slow.cost, 2_000, 'a failure slower than the penalty counts its own latency');
  const cancelled = new PeakEwma(s, 5);
  cancelled.observe({ ok: false, latencyMs: 10_000, failure: 'cancelled' });
  assert.equal(cancelled.cost, 5);
  const fine = new PeakEwma(s, 5);
  fine.observe({ ok: true, latencyMs: 4, status: 404 });
  assert.ok(fine.cost <= 5, 'a 4xx other than 429 is an answer, not a failure');
});

test('power of two choices prefers the low score: a 10× slower endpoint gets a small share', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(7) });
  b.update([endpoint('a'), endpoint('b'), endpoint('slow')], peak());
  const counts = drive(b, clock, 600, (id) => ({ ok: true, latencyMs: id === 'slow' ? 50 : 5, status: 200 }));
  const slow = counts.get('slow') ?? 0;
  assert.ok(slow < 600 * 0.05, `slow endpoint got ${slow} of 600`);
  assert.ok((counts.get('a') ?? 0) > 150 && (counts.get('b') ?? 0) > 150, JSON.stringify([...counts]));
});

test('with round robin the same workload spreads evenly (the test above can fail)', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(7) });
  b.update([endpoint('a'), endpoint('b'), endpoint('slow')], { ...peak(), loadBalancer: { algorithm: 'round-robin', choiceCount: 2 } });
  const counts = drive(b, clock, 600, (id) => ({ ok: true, latencyMs: id === 'slow' ? 50 : 5, status: 200 }));
  assert.equal(counts.get('slow'), 200);
});

test('an endpoint answering 500 fast gets a small share (the penalty), and is probed again as it decays', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(3) });
  // Outlier detection off (maxEjectionPercent 0): the penalty alone keeps the bad endpoint's share small.
  const p = peak({ peakEwma: { decayMs: 10_000, penaltyMs: 1_000, defaultRttMs: 30 } });
  b.update([endpoint('a'), endpoint('b'), endpoint('bad')], { ...p, outlierDetection: { ...DEFAULT_OUTLIER_DETECTION, maxEjectionPercent: 0 } });
  const counts = drive(b, clock, 600, (id) => (id === 'bad' ? { ok: false, latencyMs: 1, status: 500 } : { ok: true, latencyMs: 5, status: 200 }));
  const bad = counts.get('bad') ?? 0;
  assert.ok(bad >= 1 && bad < 600 * 0.03, `bad endpoint got ${bad} of 600`);
});

test('requests in flight raise the score: (active + 1) × latency', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(1) });
  b.update([endpoint('a'), endpoint('b')], peak());
  assert.equal(score(b, 'a'), 30, 'defaultRttMs × 1');
  const p1 = b.picker().pick();
  const p2 = b.picker().pick();
  // Two equal endpoints: the second pick avoids the one the first took.
  assert.notEqual(pickedId(p1), pickedId(p2));
  const p3 = b.picker().pick({ exclude: new Set([pickedId(p2)]) });
  assert.equal(score(b, pickedId(p3)), 90, '30 × (2 + 1)');
});

test('weights divide the score: a weight-3 endpoint takes most of the picks among equals', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(5) });
  b.update([endpoint('a', { weight: 3 }), endpoint('b'), endpoint('c', { weight: 0 })], peak());
  const counts = drive(b, clock, 300, () => ({ ok: true, latencyMs: 5, status: 200 }));
  assert.equal(counts.get('c'), undefined, 'weight 0 is never picked');
  assert.ok((counts.get('a') ?? 0) > 250, JSON.stringify([...counts]));
});

test('a new endpoint starts at the mean of the others, not at zero, and keeps its estimate across snapshots', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(9) });
  b.update([endpoint('a'), endpoint('b')], peak());
  for (const [id, other, latencyMs] of [['a', 'b', 100], ['b', 'a', 20]] as const) {
    const pick = b.picker().pick({ exclude: new Set([other]) });
    assert.equal(pickedId(pick), id);
    // The answer comes latencyMs after the pick: the estimate is stamped then.
    clock.advance(latencyMs);
    if (pick.kind === 'endpoint') pick.done({ ok: true, latencyMs, status: 200 });
  }
  clock.advance(1_000);
  const now = clock.now();
  const mean = (b.endpointStats().reduce((sum, s) => sum + s.peakEwmaScore, 0)) / 2;
  b.update([endpoint('a'), endpoint('b'), endpoint('new')], peak());
  assert.equal(clock.now(), now);
  assert.ok(Math.abs(score(b, 'new') - mean) < 1e-6, `new starts at ${score(b, 'new')}, mean ${mean}`);
  assert.ok(score(b, 'new') > 20, 'not zero: it would take every request');
  // a answered 100 ms after the start; 20 ms (b's answer) and 1 s have passed since: 1.02 s of 10.
  assert.ok(Math.abs(score(b, 'a') - 100 * Math.exp(-0.102)) < 1e-6, 'a kept its estimate across the snapshot (decayed 1.02 s of 10)');
});

test('peakEwma.defaultRttMs is where a first set of endpoints starts', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock });
  b.update([endpoint('a')], peak({ peakEwma: { decayMs: 10_000, penaltyMs: 1_000, defaultRttMs: 7 } }));
  assert.equal(score(b, 'a'), 7);
});

test('an answer counts its time to the response head: a long stream is not a slow endpoint', () => {
  const clock = new ManualClock();
  const s = settings(clock, 10_000, 1_000);
  const stream = new PeakEwma(s, 5);
  stream.observe({ ok: true, latencyMs: 60_000, headMs: 4, status: 200 });
  assert.ok(stream.cost <= 5, `a 60 s stream whose head came in 4 ms: ${stream.cost}`);
  const noHead = new PeakEwma(s, 5);
  noHead.observe({ ok: true, latencyMs: 40, status: 200 });
  assert.equal(noHead.cost, 40, 'without a head time (TCP, tests) the whole latency counts');
  const failedAfterHead = new PeakEwma(s, 5);
  failedAfterHead.observe({ ok: false, latencyMs: 3, headMs: 2, status: 503 });
  assert.equal(failedAfterHead.cost, 1_000, 'a failure still takes the penalty');
});

test('a gRPC RESOURCE_EXHAUSTED answer reaches the balancer as 429, a load signal that takes the penalty', async () => {
  const { balancerStatus } = await import('../../http/forward-h2.ts');
  assert.equal(balancerStatus(200, '8'), 429);
  assert.equal(balancerStatus(200, '0'), 200);
  assert.equal(balancerStatus(200, undefined), 200);
  assert.equal(balancerStatus(503, '8'), 503);
  const e = new PeakEwma(settings(new ManualClock(), 10_000, 800), 5);
  e.observe({ ok: true, latencyMs: 2, headMs: 1, status: balancerStatus(200, '8') });
  assert.equal(e.cost, 800);
});

test('an outcome is stamped at the pick\'s clock reading plus its latency (one clock read per request), and one endpoint needs none at the pick', () => {
  let reads = 0;
  const manual = new ManualClock();
  const clock = { now: () => (reads++, manual.now()), setTimeout: manual.setTimeout.bind(manual) };
  const b = createBalancer({ clock, random: seededRandom(3) });
  b.update([endpoint('a'), endpoint('b')], peak());
  reads = 0;
  const pick = b.picker().pick();
  assert.equal(reads, 1, 'the pick reads the clock once to decay both scores');
  manual.advance(500);
  if (pick.kind === 'endpoint') pick.done({ ok: true, latencyMs: 40, status: 200 });
  assert.equal(reads, 1, 'done reads no clock: pickedAt + latencyMs');
  const s = b.endpointStats().find((x) => x.id === pickedId(pick))!;
  assert.ok(s.peakEwmaScore > 0);
  b.update([endpoint('a')], peak());
  reads = 0;
  const one = b.picker().pick();
  assert.equal(reads, 0, 'one endpoint: nothing to compare, no clock read at the pick');
  if (one.kind === 'endpoint') one.done({ ok: true, latencyMs: 5, status: 200 });
  assert.equal(reads, 1, 'its outcome reads the clock once');
});

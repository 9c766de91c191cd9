import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slowStartFactor } from './ramp.ts';

const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≠ ${b}`);

test('linear ramp (aggression 1) from minWeightPercent to 1 over the window', () => {
  const c = { windowMs: 10_000, aggression: 1, minWeightPercent: 10 };
  near(slowStartFactor(0, c), 0.1);
  near(slowStartFactor(500, c), 0.1); // 0.05 is below the floor
  near(slowStartFactor(2_500, c), 0.25);
  near(slowStartFactor(5_000, c), 0.5);
  near(slowStartFactor(9_999, c), 0.9999);
  assert.equal(slowStartFactor(10_000, c), 1);
  assert.equal(slowStartFactor(1e9, c), 1);
});

test('aggression bends the curve as Envoy does: (t/window)^(1/aggression)', () => {
  const fast = { windowMs: 10_000, aggression: 2, minWeightPercent: 0 };
  near(slowStartFactor(2_500, fast), 0.5); // sqrt(0.25)
  const slow = { windowMs: 10_000, aggression: 0.5, minWeightPercent: 0 };
  near(slowStartFactor(5_000, slow), 0.25); // 0.5²
  // Never 0 even with no floor: t is at least 1 ms.
  assert.ok(slowStartFactor(0, slow) > 0);
});

test('window 0 is off', () => {
  assert.equal(slowStartFactor(0, { windowMs: 0, aggression: 1, minWeightPercent: 10 }), 1);
});

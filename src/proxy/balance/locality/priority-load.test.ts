// Envoy's priority load math, checked against the examples of Envoy's priority-levels page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { levelHealth, priorityLoad } from './priority-load.ts';

const level = (healthy: number, total: number) => ({ healthy, total });

test('a level is healthy up to the overprovisioning factor, capped at 100', () => {
  assert.equal(levelHealth(level(5, 5), 140), 100);
  assert.equal(levelHealth(level(3, 5), 140), 84);
  assert.equal(levelHealth(level(72, 100), 140), 100); // 100.8: still all of it
  assert.equal(levelHealth(level(71, 100), 140), 99);
  assert.equal(levelHealth(level(0, 5), 140), 0);
  assert.equal(levelHealth(level(0, 0), 140), 0);
  assert.equal(levelHealth(level(3, 5), 100), 60);
});

test('spillover: level 0 keeps its health, the next levels take the rest in order', () => {
  // 5 endpoints in the client's zone, 2 of them ejected: 3/5 × 140% = 84% stay.
  assert.deepEqual(priorityLoad([level(3, 5), level(4, 4)], 140), [84, 16]);
  // Envoy's table: P0 at 71% healthy gets 99%, P1 1%.
  assert.deepEqual(priorityLoad([level(71, 100), level(100, 100)], 140), [99, 1]);
  assert.deepEqual(priorityLoad([level(72, 100), level(100, 100)], 140), [100, 0]);
  // 50% healthy → 70; P1 fully healthy takes 30, P2 nothing.
  assert.deepEqual(priorityLoad([level(50, 100), level(100, 100), level(100, 100)], 140), [70, 30, 0]);
  // A level with nothing healthy passes everything on; an empty level is skipped.
  assert.deepEqual(priorityLoad([level(0, 2), level(0, 0), level(2, 2)], 140), [0, 0, 100]);
});

test('when the levels together are under 100% healthy, their shares are scaled up', () => {
  // Envoy: P0 and P1 each 25% healthy → 35% each, normalized to 50/50.
  assert.deepEqual(priorityLoad([level(25, 100), level(25, 100)], 140), [50, 50]);
  // 20% → 28 and 10% → 14 of a total 42: 66 and 33, the rounding leftover to the first healthy level.
  assert.deepEqual(priorityLoad([level(20, 100), level(10, 100)], 140), [67, 33]);
});

test('nothing healthy anywhere gives no level any share (the caller panics)', () => {
  assert.deepEqual(priorityLoad([level(0, 3), level(0, 2)], 140), [0, 0]);
  assert.deepEqual(priorityLoad([], 140), []);
});

test('shares always sum to 100 when anything is healthy', () => {
  for (let a = 0; a <= 7; a++) for (let b = 0; b <= 5; b++) for (let c = 0; c <= 3; c++) {
    if (a + b + c === 0) continue;
    const load = priorityLoad([level(a, 7), level(b, 5), level(c, 3)], 140);
    assert.equal(load.reduce((x, y) => x + y, 0), 100, JSON.stringify({ a, b, c, load }));
    assert.ok(load.every((l) => l >= 0));
  }
});

// Process metrics: the standard names, with values read at render time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from './metrics.ts';
import { registerProcessMetrics } from './process-metrics.ts';

function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is rendered`);
  return Number(line.slice(name.length + 1));
}

test('RSS, heap, CPU and start time are rendered under the names Prometheus clients use', () => {
  const registry = new Registry();
  const update = registerProcessMetrics(registry);
  update();
  const first = registry.render();
  assert.ok(sample(first, 'process_resident_memory_bytes') > 10 * 1024 * 1024);
  assert.ok(sample(first, 'nodejs_heap_size_used_bytes') > 0);
  assert.ok(sample(first, 'nodejs_heap_size_used_bytes') <= sample(first, 'nodejs_heap_size_total_bytes'));
  assert.ok(Math.abs(sample(first, 'process_start_time_seconds') - (Date.now() / 1000 - process.uptime())) < 2);
  assert.match(first, /# TYPE process_cpu_seconds_total counter/);
  const cpuBefore = sample(first, 'process_cpu_seconds_total');
  assert.ok(cpuBefore > 0);
  const until = performance.now() + 50;
  while (performance.now() < until); // spend some CPU
  update();
  assert.ok(sample(registry.render(), 'process_cpu_seconds_total') > cpuBefore, 'the CPU counter grows with the CPU spent');
});

// The process's own resource use in the names Prometheus client libraries give it (process_*,
// nodejs_*), so existing dashboards and alerts work on weft's sidecars and control plane unchanged.
// Read from the OS and V8 when /metrics is scraped, never on a timer.

import type { Registry } from './metrics.ts';

/** Registers the metrics in `registry`; call the returned function just before rendering. */
export function registerProcessMetrics(registry: Registry): () => void {
  const rss = registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  const cpu = registry.counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds (every thread of the process).');
  const start = registry.gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.');
  const heapUsed = registry.gauge('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes (this thread).');
  const heapTotal = registry.gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved, in bytes (this thread).');
  const external = registry.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects (buffers among them), in bytes.');
  start.set({}, Math.round(Date.now() / 1000 - process.uptime()));
  let cpuSeconds = 0;
  return () => {
    const memory = process.memoryUsage();
    rss.set({}, memory.rss);
    heapUsed.set({}, memory.heapUsed);
    heapTotal.set({}, memory.heapTotal);
    external.set({}, memory.external);
    const usage = process.cpuUsage();
    const now = (usage.user + usage.system) / 1e6;
    // A counter only goes up: add what was spent since the last scrape.
    if (now > cpuSeconds) cpu.inc({}, now - cpuSeconds);
    cpuSeconds = now;
  };
}

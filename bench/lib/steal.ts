// CPU steal from /proc/stat: the share of time the hypervisor ran something else while this VM's CPU
// wanted to run. On a shared VM it, not the proxy, can decide a p99; the report shows it per phase.

import { readFileSync } from 'node:fs';

interface CpuTimes {
  readonly total: number;
  readonly steal: number;
}

/** Cumulative times (in ticks) of each listed CPU ("1", "0-1", "0,1"), summed. */
function readCpus(cpus: string): CpuTimes {
  const wanted = new Set(expandCpuList(cpus).map((n) => `cpu${n}`));
  let total = 0;
  let steal = 0;
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const fields = line.split(/\s+/);
    if (!wanted.has(fields[0])) continue;
    // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
    const ticks = fields.slice(1, 9).map(Number);
    total += ticks.reduce((a, b) => a + b, 0);
    steal += ticks[7];
  }
  return { total, steal };
}

function expandCpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

/** Starts counting on `cpus`; the returned function gives the steal in percent since then. */
export function stealMeter(cpus: string): () => number {
  const start = readCpus(cpus);
  return () => {
    const end = readCpus(cpus);
    const total = end.total - start.total;
    return total > 0 ? Math.round(((end.steal - start.steal) / total) * 1000) / 10 : 0;
  };
}

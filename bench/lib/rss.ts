// Memory of a process under test, from /proc/PID/status: VmHWM (peak resident set) and VmRSS (now),
// in KiB. Multi-process contenders (nginx master + worker) are read per process and summed.

import { readFileSync } from 'node:fs';
import { childPids } from './processes.ts';

export interface Memory {
  readonly pid: number;
  readonly hwmKiB: number;
  readonly rssKiB: number;
}

export function readMemory(pid: number): Memory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { pid, hwmKiB: field('VmHWM'), rssKiB: field('VmRSS') };
  } catch {
    return undefined;
  }
}

/** A PID and its direct children (nginx: master first, then its worker). */
export function readTree(pid: number): Memory[] {
  return [pid, ...childPids(pid)].map(readMemory).filter((m): m is Memory => m !== undefined);
}

export const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

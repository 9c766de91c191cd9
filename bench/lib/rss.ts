// Memory of a process under test, from /proc/PID/status: VmHWM (peak resident set) and VmRSS (now),
// in KiB. Multi-process contenders (nginx master + worker) are read per process and summed.

import { readFileSync, writeFileSync } from 'node:fs';
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

/**
 * Restarts VmHWM from the current RSS (Linux ≥ 4.0: "5" to clear_refs), so a peak can be read per
 * phase. False when not allowed (not our process, no root for another user's process).
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** A PID and its direct children (nginx: master first, then its worker). */
export function readTree(pid: number): Memory[] {
  return [pid, ...childPids(pid)].map(readMemory).filter((m): m is Memory => m !== undefined);
}

export const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

// The sidecar's own V8 setting, made once at start (proxy.ts): the young generation keeps its
// initial size instead of growing to 16–64 MiB under load. Measured in docs/performance.md (entry 16).

import v8 from 'node:v8';

/**
 * Stops V8 from growing its new space (`--semi-space-growth-factor=1`; the one young-generation
 * flag V8 still reads after start: `--max-semi-space-size` is read only when the heap is made).
 * Under a steady request rate V8 doubles each semi-space up to 8–32 MiB, and those pages stay
 * resident; a sidecar's objects live for one request, so a small new space costs more frequent
 * but shorter scavenges. Left alone when the process was started with a young-generation flag of
 * its own (node flags or NODE_OPTIONS naming semi-space), or with WEFT_V8_YOUNG_GEN=default.
 * Returns whether it set the flag.
 */
export function capYoungGeneration(): boolean {
  if (process.env.WEFT_V8_YOUNG_GEN === 'default') return false;
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (/semi[-_]space/.test(given)) return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}

// The sidecar's own V8 setting, made once at start (proxy.ts): the young generation stops growing
// where start-up left it (8 MiB) instead of reaching 16–64 MiB under load. docs/performance.md entry 16.

import v8 from 'node:v8';

/**
 * Stops V8 from growing its new space past its size now (`--semi-space-growth-factor=1`; the one
 * young-generation flag V8 still reads after start: `--max-semi-space-size` is read only when the
 * heap is made). Called after the sidecar's modules loaded, which grew it to two 4 MiB semi-spaces;
 * called before (2 MiB), the fresh path's p50 rose in a measurement (performance.md entry 16).
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

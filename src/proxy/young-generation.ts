// The sidecar's own V8 setting, opt-in (WEFT_V8_YOUNG_GEN=capped), made once at start (proxy.ts):
// the young generation stops growing where start-up left it (8 MiB) instead of reaching 16–64 MiB
// under load. Off by default: it costs a fresh sidecar latency (docs/performance.md entry 18).

import v8 from 'node:v8';

/**
 * With WEFT_V8_YOUNG_GEN=capped, stops V8 from growing its new space past its size now
 * (`--semi-space-growth-factor=1`; the one young-generation flag V8 still reads after start:
 * `--max-semi-space-size` is read only when the heap is made). Called after the sidecar's modules
 * loaded, which grew it to two 4 MiB semi-spaces. Measured at 1,000 req/s through the mesh path:
 * −12 MiB of peak RSS per sidecar, −30 to −60 MiB after saturation, but a fresh process's p99 rose
 * (more scavenges while V8 still compiles the hot code). Left alone without the variable, or when
 * the process was started with a semi-space flag of its own (node flags or NODE_OPTIONS).
 * Returns whether it set the flag.
 */
export function capYoungGeneration(): boolean {
  if (process.env.WEFT_V8_YOUNG_GEN !== 'capped') return false;
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (/semi[-_]space/.test(given)) return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}

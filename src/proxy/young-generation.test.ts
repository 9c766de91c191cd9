// The sidecar's opt-in young-generation cap: with WEFT_V8_YOUNG_GEN=capped V8's new space stays at
// the size it had when capYoungGeneration ran, under allocation churn; without it, it grows as usual.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** New space size (KiB) in a fresh process that ran capYoungGeneration, then churned short-lived objects. */
function newSpaceKiB(env: Record<string, string>): { kib: number; capped: boolean } {
  const mod = fileURLToPath(new URL('./young-generation.ts', import.meta.url));
  const script = `const { capYoungGeneration } = await import(${JSON.stringify(mod)});
const capped = capYoungGeneration();
let keep = [];
for (let i = 0; i < 1e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
const v8 = await import('node:v8');
console.log(JSON.stringify({ capped, kib: v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1024 }));`;
  const { NODE_OPTIONS: _, WEFT_V8_YOUNG_GEN: __, ...rest } = process.env;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...rest, ...env } })) as { kib: number; capped: boolean };
}

test('WEFT_V8_YOUNG_GEN=capped keeps the new space at its size under churn; without it V8 is left alone', () => {
  const capped = newSpaceKiB({ WEFT_V8_YOUNG_GEN: 'capped' });
  assert.equal(capped.capped, true);
  assert.ok(capped.kib <= 4096, `new space ${capped.kib} KiB with the cap`);
  const free = newSpaceKiB({ WEFT_V8_YOUNG_GEN: '' });
  assert.equal(free.capped, false);
  assert.ok(free.kib > capped.kib, `new space ${free.kib} KiB without the cap (${capped.kib} with)`);
});

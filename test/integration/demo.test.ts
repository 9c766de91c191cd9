// Bar: `npm start` brings the demo mesh up. Runs the demo for a short while and checks that the load
// generator's requests all succeeded across both catalog instances and both reviews versions, and
// that every process stopped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { nodeBin, repoRoot, freePort } from '../support/processes.ts';

test('the demo shop serves through the mesh and stops cleanly', { timeout: 180_000 }, async () => {
  const basePort = await freePort();
  const child = spawn(nodeBin, [path.join(repoRoot, 'examples/demo/start.ts'), '--duration', '30', '--base-port', String(basePort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const summary = out.split('\n').find((l) => l.includes('demo summary')) ?? '';
  assert.equal(code, 0, out.slice(-3000));
  assert.match(summary, /all stopped cleanly, 0 unexpected exits/, out.slice(-3000));
  const total = /total \d+s: (\d+) requests \| status ([^|]+)\|/.exec(summary);
  assert.ok(total, summary);
  assert.ok(Number(total[1]) > 10, `load ran: ${summary}`);
  assert.match(total[2].trim(), /^200×\d+$/, `only 200s: ${summary}`);
  for (const seen of ['catalog-1', 'catalog-2', 'v1', 'v2']) assert.match(summary, new RegExp(`${seen}×\\d+`), `${seen} served: ${summary}`);
});

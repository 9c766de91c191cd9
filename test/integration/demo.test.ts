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
  // While the demo runs: no sidecar's metrics may hold local replies that the demo's own start-up
  // probes caused (503 upstream-connect-failure before an app listened).
  const metricsSeen = (async () => {
    while (!/\/metrics/.test(out) && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    const urls = [...out.matchAll(/http:\/\/127\.0\.0\.1:\d+\/metrics/g)].map((m) => m[0]);
    return Promise.all(urls.map(async (url) => ({ url, text: await fetch(url).then((r) => r.text(), () => '') })));
  })();
  // The banner prints the dashboard's address: the control plane serves the page there.
  const uiSeen = (async () => {
    while (!/\/ui\//.test(out) && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    const url = /http:\/\/127\.0\.0\.1:\d+\/ui\//.exec(out)?.[0];
    const res = url === undefined ? undefined : await fetch(url).catch(() => undefined);
    return { url, status: res?.status, type: res?.headers.get('content-type') };
  })();
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const summary = out.split('\n').find((l) => l.includes('demo summary')) ?? '';
  assert.equal(code, 0, out.slice(-3000));
  assert.match(summary, /all stopped cleanly, 0 unexpected exits/, out.slice(-3000));
  const total = /total \d+s: (\d+) requests \| status ([^|]+)\|/.exec(summary);
  assert.ok(total, summary);
  assert.ok(Number(total[1]) > 10, `load ran: ${summary}`);
  assert.match(total[2].trim(), /^200×\d+$/, `only 200s: ${summary}`);
  const metrics = await metricsSeen;
  assert.ok(metrics.length >= 5, `the demo printed each sidecar's /metrics: ${metrics.length}`);
  for (const { url, text } of metrics) {
    assert.ok(text.includes('weft_proxy_requests_total'), `${url} answered with metrics`);
    assert.ok(!text.includes('upstream-connect-failure'), `${url} holds no upstream-connect-failure from start-up probes`);
  }
  const ui = await uiSeen;
  assert.ok(ui.url, 'the banner prints the dashboard URL');
  assert.equal(ui.status, 200, `${ui.url} answered`);
  assert.match(ui.type ?? '', /^text\/html/);
  for (const seen of ['catalog-1', 'catalog-2', 'v1', 'v2']) assert.match(summary, new RegExp(`${seen}×\\d+`), `${seen} served: ${summary}`);
});

// Bar (issue 14, item 6): BackendPolicy `adaptiveConcurrency` in force in the target's own sidecar.
// A real app with a real capacity (4 requests at once, ~20 ms each; the rest wait in the app's own
// queue, so latency grows with load) is offered 40 concurrent clients through a client sidecar.
// Without the limit nothing is shed and latency grows; with it, some requests are shed with 503
// concurrency-limit-exceeded and the admitted ones stay near the unloaded latency. Outcomes are
// counted and medians compared with generous factors; no absolute time is asserted.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll, waitFor } from '../support/processes.ts';

const CAPACITY = 4;
const WORK_MS = 20;
const CLIENTS = 40;

let cp: ControlPlaneProcess;
let capped: SidecarProcess;
let web: SidecarProcess;
let app: { port: number; close(): Promise<void> };

/** An app that works on CAPACITY requests at once, WORK_MS each; the rest wait in its own FIFO queue. */
async function startCappedApp(): Promise<typeof app> {
  let active = 0;
  const queue: http.ServerResponse[] = [];
  const work = (res: http.ServerResponse): void => {
    active++;
    setTimeout(() => {
      active--;
      if (!res.destroyed) res.end('done');
      const next = queue.shift();
      if (next) work(next);
    }, WORK_MS);
  };
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/healthz') return void res.end('ok');
    if (active < CAPACITY) work(res);
    else queue.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

before(async () => {
  cp = await startControlPlane();
  app = await startCappedApp();
  [capped, web] = await Promise.all([startSidecar(cp.url, 'capped', ['--app-port', String(app.port)]), startSidecar(cp.url, 'web')]);
  await waitForPassing(cp, 'capped', 1);
  await waitForInSync(cp, 2);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await app?.close();
  await cp?.cleanup();
});

interface Outcome { status: number; reason: string | undefined; ms: number }

function call(agent: http.Agent): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: web.outboundPort, path: 'http://capped/work', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reason: res.headers['x-weft-reason'] as string | undefined, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * CLIENTS callers, each sending one request after another for `durationMs`. A shed request is
 * answered at once; a caller backs off SHED_BACKOFF_MS before its next one, as a client honouring a
 * 503 does. Without it, 40 callers would turn every shed into the next request in a tight loop, and
 * on a 2-core machine that storm of 503s (thousands a second through two sidecars) would take the
 * CPU the admitted requests need: their latency would measure the machine, not the limit.
 */
const SHED_BACKOFF_MS = 100;
async function load(durationMs: number): Promise<Outcome[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const out: Outcome[] = [];
  const end = performance.now() + durationMs;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < end) {
      const o = await call(agent);
      out.push(o);
      if (o.status === 503) await new Promise((r) => setTimeout(r, SHED_BACKOFF_MS));
    }
  }));
  agent.destroy();
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const shedOf = (xs: Outcome[]) => xs.filter((o) => o.status === 503 && o.reason === 'concurrency-limit-exceeded');
const okOf = (xs: Outcome[]) => xs.filter((o) => o.status === 200);

test('off: nothing is shed and latency grows; on: excess is shed with 503 and admitted latency stays near the unloaded one', { timeout: 120_000 }, async (t) => {
  // Unloaded: one caller at a time.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const unloaded: Outcome[] = [];
  for (let i = 0; i < 30; i++) unloaded.push(await call(agent));
  agent.destroy();
  assert.equal(okOf(unloaded).length, 30);
  const base = median(unloaded.map((o) => o.ms));

  const off = await load(2_000);
  assert.equal(shedOf(off).length, 0, 'no limit: nothing shed');
  assert.equal(okOf(off).length, off.length, `every request answered 200: ${JSON.stringify(off.find((o) => o.status !== 200))}`);
  const offMedian = median(off.map((o) => o.ms));
  // 40 callers on 4 slots: each waits for ~9 others' turns; ~10× in theory, 2× is the bar.
  assert.ok(offMedian > 2 * base, `latency grows without a limit: median ${offMedian.toFixed(1)} ms vs unloaded ${base.toFixed(1)} ms`);

  const r = await cp.api('POST', '/v1/apply', {
    items: [{
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'BackendPolicy',
      metadata: { name: 'capped-overload' },
      spec: { targetRefs: [{ kind: 'Service', name: 'capped' }], adaptiveConcurrency: { minRttCalcParams: { requestCount: 20 } } },
    }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 2);
  const limitSeries = 'weft_proxy_adaptive_concurrency_limit{service="capped.default"}';
  await waitFor('the limit in force in the capped sidecar', async () => metricSample(await adminMetrics(capped.adminPort), limitSeries) > 0);

  const on = await load(3_000);
  const shed = shedOf(on);
  const ok = okOf(on);
  assert.equal(shed.length + ok.length, on.length, `only 200s and sheds: ${JSON.stringify(on.find((o) => o.status !== 200 && o.reason !== 'concurrency-limit-exceeded'))}`);
  assert.ok(shed.length > 0, 'excess load is shed');
  assert.ok(ok.length > 0, 'and some is admitted');
  const onMedian = median(ok.map((o) => o.ms));
  assert.ok(onMedian < offMedian / 2, `admitted median ${onMedian.toFixed(1)} ms well below the unlimited ${offMedian.toFixed(1)} ms`);
  assert.ok(onMedian < 4 * base, `admitted median ${onMedian.toFixed(1)} ms near the unloaded ${base.toFixed(1)} ms`);

  const metrics = await adminMetrics(capped.adminPort);
  assert.equal(metricSample(metrics, 'weft_proxy_adaptive_concurrency_rejected_total{service="capped.default"}'), shed.length, 'every shed request counted');
  assert.ok(metricSample(metrics, 'weft_proxy_adaptive_concurrency_min_rtt_seconds{service="capped.default",worker="0"}') > 0, 'minRTT measured');
  const limit = metricSample(metrics, limitSeries);
  t.diagnostic(`unloaded median ${base.toFixed(1)} ms; off: ${off.length} requests, median ${offMedian.toFixed(1)} ms; on: ${ok.length} admitted (median ${onMedian.toFixed(1)} ms), ${shed.length} shed; limit ${limit}`);
  assert.ok(limit >= 3 && limit < CLIENTS, `limit ${limit} learned below the offered concurrency`);
});

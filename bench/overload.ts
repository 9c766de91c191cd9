// Overload bench (issue 14): an app with a real capacity (bench/lib/capped-app.ts) behind its weft
// sidecar, called through a client sidecar (mutual TLS) at a fixed open-loop rate of 3× its capacity,
// without and then with BackendPolicy `adaptiveConcurrency`. Reports p50/p99 of the admitted (2xx)
// requests, the share shed (503 concurrency-limit-exceeded) and the unloaded p99 (10 % of capacity).
// Bar: with the limit, admitted p99 within 2× the unloaded p99. Never run by CI.
// Alone: node bench/overload.ts [--capacity 8 --work-ms 50 --overload 3 --seconds 8 --warmup 3]

import { parseArgs } from 'node:util';
import path from 'node:path';
import { benchDir, nodeBin, sleep, spawnPinned, stopAll } from './lib/processes.ts';
import { runFixedRate, type FixedRateResult } from './lib/fixed-rate.ts';
import { startSidecar, startWeftControl, waitRoutes } from './lib/weft.ts';

const { values: v } = parseArgs({
  options: {
    capacity: { type: 'string', default: '8' },
    'work-ms': { type: 'string', default: '50' },
    overload: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '256' },
  },
});
const capacity = Number(v.capacity);
const workMs = Number(v['work-ms']);
/** Requests per second the app can finish: capacity at once, workMs each. */
const capacityRps = (capacity * 1000) / workMs;
const seconds = Number(v.seconds);
const warmup = Number(v.warmup);
const connections = Number(v.connections);
// The proxies and the app on one CPU, the load and the control plane on the other (as run.ts pins them).
const LOAD_CPU = '0';
const PROXY_CPU = '1';

const log = (m: string): void => console.log(`[overload] ${m}`);

interface Phase {
  readonly name: string;
  readonly rate: number;
  readonly r: FixedRateResult;
}

try {
  const cp = await startWeftControl('weft-overload-control', LOAD_CPU);
  const app = spawnPinned('overload-app', nodeBin, [path.join(benchDir, 'lib', 'capped-app.ts'), '--capacity', String(capacity), '--work-ms', String(workMs)], { cpu: PROXY_CPU });
  const appPort = Number(JSON.parse((await app.waitForOutput(/(\{"event":"listening".*\})/))[1]!).port);
  const server = await startSidecar(cp, 'overload-server', 'capped', PROXY_CPU, ['--app-port', String(appPort), '--ttl-seconds', '60']);
  const client = await startSidecar(cp, 'overload-client', 'overload-client', PROXY_CPU);
  await waitRoutes(client.outboundPort, 'capped');
  log(`app: ${capacity} at once × ${workMs} ms = ${capacityRps} req/s capacity; offered ${Number(v.overload)}× = ${capacityRps * Number(v.overload)} req/s`);

  const run = async (name: string, rate: number): Promise<Phase> => {
    const r = await runFixedRate({ port: client.outboundPort, hostHeader: 'capped', rate, seconds, connections, warmupSeconds: warmup }, LOAD_CPU, nodeBin);
    log(`${name}: ${rate} req/s → ${r.ok} ok, ${r.non2xx} non-2xx (${JSON.stringify(r.statusCounts)}), ${r.errors} errors, ${r.unfinished} unfinished; admitted p50 ${r.okP50Ms} ms p99 ${r.okP99Ms} ms`);
    // Let the app's queue empty before the next phase (its abandoned requests are skipped).
    await sleep(2_000);
    return { name, rate, r };
  };

  const offered = Math.round(capacityRps * Number(v.overload));
  const unloaded = await run('unloaded (10 % of capacity)', Math.round(capacityRps / 10));
  const off = await run('3× capacity, no limit', offered);
  const applied = await cp.api('POST', '/v1/apply', {
    items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name: 'capped', namespace: 'default' }, spec: { targetRefs: [{ kind: 'Service', name: 'capped' }], adaptiveConcurrency: {} } }],
  });
  if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body)}`);
  await sleep(1_000);
  const on = await run('3× capacity, adaptive concurrency', offered);
  // What the controller learned, from the server sidecar's own metrics.
  const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
  const sample = (name: string): string => metrics.split('\n').find((l) => l.startsWith(name))?.split(' ').pop() ?? '?';
  log(`server sidecar: limit ${sample('weft_proxy_adaptive_concurrency_limit{')}, minRTT ${sample('weft_proxy_adaptive_concurrency_min_rtt_seconds{')} s, shed ${sample('weft_proxy_adaptive_concurrency_rejected_total{')}`);

  const share = (p: Phase): string => `${((100 * (p.r.measured - p.r.ok)) / Math.max(1, p.r.measured)).toFixed(1)} %`;
  const rows = [unloaded, off, on].map((p) => `| ${p.name} | ${p.rate} | ${p.r.okP50Ms} ms | ${p.r.okP99Ms} ms | ${share(p)} | ${p.r.errors + p.r.unfinished} |`);
  console.log(['', '| phase | offered req/s | admitted p50 | admitted p99 | shed | errors + unfinished |', '|---|---|---|---|---|---|', ...rows].join('\n'));
  const ratio = on.r.okP99Ms / unloaded.r.okP99Ms;
  log(`bar: admitted p99 with adaptive concurrency ${on.r.okP99Ms} ms = ${ratio.toFixed(2)}× the unloaded p99 ${unloaded.r.okP99Ms} ms (bar ≤ 2×): ${ratio <= 2 ? 'met' : 'NOT met'}`);
} finally {
  await stopAll();
}

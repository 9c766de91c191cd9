// Slow-endpoint bench (issue 13): three endpoints of one service, one answering 10× slower than the
// others, called through a client sidecar at a fixed moderate rate; the client's p50/p99/p99.9 per
// load-balancing algorithm (round-robin, least-request, peak-ewma), a fresh sidecar each, beside the
// healthy endpoints' own p99. Run by `npm run bench` (after the route-change bench) or alone:
// node bench/slow-endpoint.ts [--seconds 20] [--rate 200] (prints JSON on stdout, progress on stderr).

import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchDir, nodeBin, sleep, spawnPinned, stopAll } from './lib/processes.ts';
import { runFixedRate, type FixedRateResult } from './lib/fixed-rate.ts';
import { registerInstance, startSidecar, startWeftControl, waitRoutes, type WeftControl } from './lib/weft.ts';
import type { DelayStats } from './lib/delay-upstream.ts';

export interface SlowEndpointOptions {
  readonly algorithms: readonly string[];
  /** Healthy endpoints' delay, ms; the slow one answers in `slowFactor` × this. */
  readonly delayMs: number;
  readonly slowFactor: number;
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  /** The client sidecar's CPU; the apps, the control plane and the load share the other. */
  readonly proxyCpu: string;
  readonly loadCpu: string;
}

export interface SlowEndpointRow {
  readonly algorithm: string;
  readonly client: FixedRateResult;
  /** Share of the measured requests the slow endpoint served. */
  readonly slowShare: number;
  /** Each endpoint's own timing over the measured window (arrival to response end, inside the app). */
  readonly endpoints: readonly DelayStats[];
  /** The healthy endpoints' own p99: the larger of the two. */
  readonly healthyP99Ms: number;
}

export interface SlowEndpointResult {
  readonly options: SlowEndpointOptions;
  readonly rows: readonly SlowEndpointRow[];
}

export const SLOW_ENDPOINT_DEFAULTS: SlowEndpointOptions = {
  algorithms: ['round-robin', 'least-request', 'peak-ewma'],
  delayMs: 10,
  slowFactor: 10,
  rate: 200,
  seconds: 20,
  warmupSeconds: 3,
  connections: 32,
  proxyCpu: '1',
  loadCpu: '0',
};

const SERVICE = 'bench-slow-endpoint';

async function appStats(port: number): Promise<DelayStats> {
  return (await (await fetch(`http://127.0.0.1:${port}/__stats`)).json()) as DelayStats;
}

async function applyAlgorithm(cp: WeftControl, algorithm: string): Promise<void> {
  const r = await cp.api('PUT', `/v1/resources/backendpolicies/default/${SERVICE}`, {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'BackendPolicy',
    metadata: { name: SERVICE, namespace: 'default' },
    spec: { targetRefs: [{ kind: 'Service', name: SERVICE }], loadBalancer: { algorithm } },
  });
  if (r.status !== 200 && r.status !== 201) throw new Error(`BackendPolicy ${algorithm}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Waits until the sidecar's snapshot balances the service with `algorithm`. */
async function waitAlgorithm(adminPort: number, algorithm: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const config = (await (await fetch(`http://127.0.0.1:${adminPort}/config`)).json()) as { snapshot?: { services: { name: string; policy: { loadBalancer: { algorithm: string } } }[] } };
    if (config.snapshot?.services.find((s) => s.name === SERVICE)?.policy.loadBalancer.algorithm === algorithm) return;
    if (Date.now() > deadline) throw new Error(`the sidecar never ran ${algorithm}`);
    await sleep(100);
  }
}

export async function runSlowEndpointBench(o: SlowEndpointOptions, log: (m: string) => void): Promise<SlowEndpointResult> {
  const delays = [o.delayMs, o.delayMs, o.delayMs * o.slowFactor];
  const apps = spawnPinned('slow-endpoint-apps', nodeBin, [fileURLToPath(new URL('./lib/delay-upstream.ts', import.meta.url)), '--delays', delays.join(',')], { cpu: o.loadCpu });
  const ports = (JSON.parse((await apps.waitForOutput(/(\{"ports".*\})/))[1]) as { ports: number[] }).ports;
  const cp = await startWeftControl('weft-control-slow-endpoint', o.loadCpu);
  for (const [i, port] of ports.entries()) await registerInstance(cp, SERVICE, i === 2 ? 'slow' : `fast-${i}`, port);
  const rows: SlowEndpointRow[] = [];
  try {
    for (const algorithm of o.algorithms) {
      await applyAlgorithm(cp, algorithm);
      // A fresh client sidecar per algorithm: no balancer state carried over from the one before.
      const sidecar = await startSidecar(cp, `weft-slow-endpoint-${algorithm}`, 'bench-slow-client', o.proxyCpu);
      try {
        await waitRoutes(sidecar.outboundPort, SERVICE);
        await waitAlgorithm(sidecar.adminPort, algorithm);
        // Warm-up (the sidecar compiles its hot code, the balancer learns), then the endpoints' own
        // timers start afresh for the measured window.
        await runFixedRate({ port: sidecar.outboundPort, hostHeader: SERVICE, rate: o.rate, seconds: o.warmupSeconds, connections: o.connections, warmupSeconds: 0 }, o.loadCpu, nodeBin);
        await Promise.all(ports.map((p) => fetch(`http://127.0.0.1:${p}/__reset`)));
        const client = await runFixedRate({ port: sidecar.outboundPort, hostHeader: SERVICE, rate: o.rate, seconds: o.seconds, connections: o.connections, warmupSeconds: 0 }, o.loadCpu, nodeBin);
        const endpoints = await Promise.all(ports.map(appStats));
        const served = endpoints.reduce((t, e) => t + e.count, 0);
        const row: SlowEndpointRow = { algorithm, client, slowShare: served ? Math.round((endpoints[2].count / served) * 10_000) / 10_000 : 0, endpoints, healthyP99Ms: Math.max(endpoints[0].p99Ms, endpoints[1].p99Ms) };
        rows.push(row);
        log(`${algorithm}: client p50 ${client.p50Ms} ms p99 ${client.p99Ms} ms p99.9 ${client.p999Ms} ms; slow endpoint served ${(row.slowShare * 100).toFixed(1)}%; healthy endpoints' own p99 ${row.healthyP99Ms} ms; ${client.errors} errors, ${client.non2xx} non-2xx`);
      } finally {
        await sidecar.proc.stop();
      }
    }
  } finally {
    await cp.proc.stop();
    await apps.stop();
  }
  return { options: o, rows };
}

/** The docs/performance.md table of a run. */
export function slowEndpointTable(r: SlowEndpointResult): string {
  const lines = [
    '| algorithm | client p50 ms | client p99 ms | client p99.9 ms | slow endpoint\'s share | healthy endpoints\' own p99 ms | client p99 ÷ healthy p99 |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of r.rows) {
    lines.push(`| ${row.algorithm} | ${row.client.p50Ms} | ${row.client.p99Ms} | ${row.client.p999Ms} | ${(row.slowShare * 100).toFixed(1)}% | ${row.healthyP99Ms} | ${(row.client.p99Ms / row.healthyP99Ms).toFixed(2)}× |`);
  }
  return lines.join('\n');
}

/**
 * An SVG of a run: per algorithm, the client's p50, p99 and p99.9 as bars (ms, one scale), with the
 * healthy endpoints' own p99 and twice it (the issue's bar for peak-ewma) as vertical lines.
 */
export function slowEndpointChart(r: SlowEndpointResult): string {
  const labelW = 130;
  const plotW = 520;
  const barH = 12;
  const groupH = 3 * barH + 18;
  const top = 60;
  const height = top + r.rows.length * groupH + 40;
  const healthy = Math.max(...r.rows.map((x) => x.healthyP99Ms));
  const max = Math.max(2 * healthy, ...r.rows.map((x) => x.client.p999Ms)) * 1.05;
  const x = (ms: number): number => labelW + (ms / max) * plotW;
  const colors = ['#9ecae1', '#3182bd', '#08519c'];
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 150}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14" font-weight="bold">Client latency through a sidecar, one of three endpoints 10× slower (${r.options.rate} req/s)</text>`,
    `<text x="10" y="40" fill="#555">bars: client p50 / p99 / p99.9, ms; lines: the healthy endpoints' own p99 (${healthy} ms) and 2× it</text>`,
  ];
  r.rows.forEach((row, i) => {
    const y0 = top + i * groupH;
    out.push(`<text x="10" y="${y0 + barH * 2}">${row.algorithm}</text>`);
    [row.client.p50Ms, row.client.p99Ms, row.client.p999Ms].forEach((v, j) => {
      const y = y0 + j * barH;
      out.push(`<rect x="${labelW}" y="${y}" width="${Math.max(1, x(v) - labelW).toFixed(1)}" height="${barH - 2}" fill="${colors[j]}"/>`);
      out.push(`<text x="${(x(v) + 4).toFixed(1)}" y="${y + barH - 3}" font-size="10">${['p50', 'p99', 'p99.9'][j]} ${v.toFixed(1)}</text>`);
    });
  });
  for (const [ms, label] of [[healthy, 'healthy p99'], [2 * healthy, '2×']] as const) {
    out.push(`<line x1="${x(ms).toFixed(1)}" x2="${x(ms).toFixed(1)}" y1="${top - 8}" y2="${height - 30}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${(x(ms) + 3).toFixed(1)}" y="${height - 18}" fill="#d62728" font-size="10">${label}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: v } = parseArgs({ options: { seconds: { type: 'string' }, rate: { type: 'string' }, algorithms: { type: 'string' }, write: { type: 'string' }, help: { type: 'boolean' } } });
  if (v.help) {
    console.log(`node bench/slow-endpoint.ts [--seconds ${SLOW_ENDPOINT_DEFAULTS.seconds}] [--rate ${SLOW_ENDPOINT_DEFAULTS.rate}] [--algorithms ${SLOW_ENDPOINT_DEFAULTS.algorithms.join(',')}] [--write NAME]\nPrints the result as JSON on stdout and the table on stderr; --write NAME also writes bench/results/NAME.json and NAME.svg.`);
    process.exit(0);
  }
  const o: SlowEndpointOptions = {
    ...SLOW_ENDPOINT_DEFAULTS,
    seconds: v.seconds ? Number(v.seconds) : SLOW_ENDPOINT_DEFAULTS.seconds,
    rate: v.rate ? Number(v.rate) : SLOW_ENDPOINT_DEFAULTS.rate,
    algorithms: v.algorithms ? v.algorithms.split(',') : SLOW_ENDPOINT_DEFAULTS.algorithms,
  };
  process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const result = await runSlowEndpointBench(o, (m) => console.error(`[slow-endpoint] ${m}`));
    console.error(slowEndpointTable(result));
    console.log(JSON.stringify(result, null, 2));
    if (v.write) {
      const base = path.join(benchDir, 'results', v.write);
      writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), loadAverage: os.loadavg(), ...result }, null, 2) + '\n');
      writeFileSync(`${base}.svg`, slowEndpointChart(result) + '\n');
      console.error(`wrote ${base}.json and ${base}.svg`);
    }
  } finally {
    await stopAll();
  }
}

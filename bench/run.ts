// `npm run bench` (never run by CI): sets itself up, runs the HTTP/1.1 proxy comparison (one hop and
// mesh path) in interleaved rounds (proxies on one CPU, upstream and load on the other), then the
// control-plane bench, prints the bars with PASS/FAIL, and writes bench/results/<date>.json,
// <date>.svg and the tables in docs/performance.md.

import os from 'node:os';
import { parseArgs } from 'node:util';
import { measureRouteChange, type RouteChangeResult } from './lib/route-change.ts';
import { CONTENDER_ALIASES, CONTENDERS, type BenchEnv } from './lib/contenders.ts';
import { computeBars, verdict } from './lib/bars.ts';
import { nodeBin, sleep, stopAll } from './lib/processes.ts';
import { ensureTools, machineInfo, weftSource } from './lib/setup.ts';
import { startUpstream, type UpstreamKind } from './lib/upstream.ts';
import { runWrk } from './lib/wrk.ts';
import { runFixedRate } from './lib/fixed-rate.ts';
import { resetPeak } from './lib/rss.ts';
import { REFERENCES, sampleStealPct, STEAL_LIMIT_PCT, summarize, type Sample } from './lib/stats.ts';
import { writeReport } from './lib/report.ts';
import { startWeftControl, type WeftControl } from './lib/weft.ts';
import { stealMeter } from './lib/steal.ts';
import { CONTROL_DEFAULTS, parseControlStores, runControlPlaneBench, type ControlPlaneResult } from './control-plane.ts';
import { SLOW_ENDPOINT_DEFAULTS, runSlowEndpointBench, slowEndpointTable, type SlowEndpointResult } from './slow-endpoint.ts';

const HELP = `Usage: npm run bench -- [options]

  --duration S          seconds of saturation load per contender per round (default 10)
  --latency-duration S  seconds measured at the fixed rate (default: --duration)
  --rounds N            interleaved rounds; medians are reported (default 3)
  --rate R              fixed rate for the latency measurement, requests/s (default 1000)
  --connections N       wrk connections (default 64)
  --warmup S            unmeasured wrk seconds before each measurement (default 2)
  --upstream nginx|node the shared upstream (default nginx)
  --only a,b            run only these contenders (${CONTENDERS.map((c) => c.id).join(', ')})
  --skip-control        skip the control-plane bench
  --skip-route-change   skip timing route changes until every sidecar serves them
  --route-changes N     route changes to time (default 15), through 6 client sidecars (the demo's count)
  --skip-slow-endpoint  skip the load-balancing bench (three endpoints, one 10× slower; node bench/slow-endpoint.ts alone)
  --cp-proxies 100,1000 simulated proxy counts for the control-plane bench
  --cp-scopes full,scoped  what each simulated proxy asks for (whole mesh, or svc-000 and its own)
  --control-store sqlite|etcd|both  the control plane measured: one process on SQLite, two replicas
                        on one etcd (1,000 proxies spread over them), or both (default both)
  --weft-node-flags=F   node flags for the weft sidecars only (e.g. --weft-node-flags="--cpu-prof --cpu-prof-dir=bench/work/prof")
  --control-node-flags=F  node flags for the weft control plane processes (e.g. --cpu-prof)
  --no-write            print results only; leave bench/results and docs alone`;

const { values: v } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    'latency-duration': { type: 'string' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '2' },
    upstream: { type: 'string', default: 'nginx' },
    only: { type: 'string' },
    'skip-route-change': { type: 'boolean' },
    'route-changes': { type: 'string', default: '15' },
    'skip-slow-endpoint': { type: 'boolean', default: false },
    'skip-control': { type: 'boolean', default: false },
    'cp-proxies': { type: 'string', default: CONTROL_DEFAULTS.proxies.join(',') },
    'cp-scopes': { type: 'string', default: CONTROL_DEFAULTS.scopes.join(',') },
    'control-store': { type: 'string', default: 'both' },
    'no-write': { type: 'boolean', default: false },
    'weft-node-flags': { type: 'string' },
    'control-node-flags': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (v.help) {
  console.log(HELP);
  process.exit(0);
}

if (v['weft-node-flags']) process.env.WEFT_BENCH_NODE_FLAGS = v['weft-node-flags'];
if (v['control-node-flags']) process.env.WEFT_BENCH_CONTROL_NODE_FLAGS = v['control-node-flags'];

const settings = {
  duration: Number(v.duration),
  latencyDuration: Number(v['latency-duration'] ?? v.duration),
  rounds: Number(v.rounds),
  rate: Number(v.rate),
  connections: Number(v.connections),
  latencyConnections: 16,
  warmup: Number(v.warmup),
  upstream: v.upstream as UpstreamKind,
  loadCpu: '0',
  proxyCpu: '1',
};
// Checked before anything runs: a typo must not cost a whole data-plane run first.
const controlStores = parseControlStores(v['control-store']);
const only = v.only?.split(',').map((id) => CONTENDER_ALIASES[id] ?? id);
const unknown = only?.filter((id) => !CONTENDERS.some((c) => c.id === id)) ?? [];
if (unknown.length) throw new Error(`--only names unknown contender(s) ${unknown.join(', ')}; choose from ${CONTENDERS.map((c) => c.id).join(', ')}`);
const contenders = only ? CONTENDERS.filter((c) => only.includes(c.id)) : CONTENDERS;
if (!contenders.length) throw new Error(`--only names no contender; choose from ${CONTENDERS.map((c) => c.id).join(', ')}`);

const t0 = Date.now();
const clock = (): string => { const s = Math.round((Date.now() - t0) / 1000); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`; };
const log = (msg: string): void => console.log(`[${clock()}] ${msg}`);
const fmtEta = (ms: number): string => (ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`);

process.on('SIGINT', () => {
  console.log('\ninterrupted: stopping everything this bench started');
  void stopAll().then(() => process.exit(130));
});

try {
  ensureTools(log);
  const machine = machineInfo();
  log(`machine: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.nginx}, ${machine.haproxy}, ${machine.wrk}`);
  if (machine.nproc < 2) throw new Error('the bench pins the proxy and the load to different CPUs: it needs at least 2');
  if (machine.loadAverageAtStart[0] > 0.5) log(`warning: load average is ${machine.loadAverageAtStart[0]} before starting; other work on this machine will add noise`);

  const upstream = await startUpstream(settings.upstream, settings.loadCpu);
  log(`upstream: ${upstream.description} on CPU ${settings.loadCpu}, port ${upstream.port}`);
  let control: Promise<WeftControl> | undefined;
  const env: BenchEnv = {
    upstreamPort: upstream.port,
    proxyCpu: settings.proxyCpu,
    loadCpu: settings.loadCpu,
    // The weft control plane shares the load CPU: it is idle while the data plane is measured.
    weft: () => (control ??= startWeftControl('weft-control', settings.loadCpu)),
  };

  const samples: Sample[] = [];
  const total = settings.rounds * contenders.length;
  const estimatePerRun = (3 * settings.warmup + settings.duration + 2 * settings.latencyDuration + 1 + 4) * 1000;
  const runTimes: number[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    for (const c of contenders) {
      const index = samples.length;
      const perRun = runTimes.length ? runTimes.reduce((a, b) => a + b, 0) / runTimes.length : estimatePerRun;
      log(`round ${round}/${settings.rounds} · ${c.label} (${index + 1}/${total}) · ETA data plane ${fmtEta(perRun * (total - index))}`);
      const started = Date.now();
      const sample = await measure(c, env, round);
      samples.push(sample);
      runTimes.push(Date.now() - started);
      if (sample.error) log(`  FAILED: ${sample.error.split('\n')[0]}`);
      else log(`  ${Math.round(sample.wrk!.requestsPerSec)} req/s${sample.wrk!.non2xx3xx ? ` (${sample.wrk!.non2xx3xx} non-2xx/3xx!)` : ''}; at ${settings.rate}/s p50 ${sample.latency!.p50Ms} ms p99 ${sample.latency!.p99Ms} ms p99.9 ${sample.latency!.p999Ms} ms (fresh process: p99 ${sample.coldLatency?.p99Ms} ms)${sample.latency!.errors + sample.latency!.non2xx ? ` (${sample.latency!.errors} errors, ${sample.latency!.non2xx} non-2xx!)` : ''}; peak RSS ${Math.round((sample.memory?.atRateHwmKiB ?? 0) / 1024)} MiB at the fixed rate, ${Math.round((sample.memory?.headlineHwmKiB ?? 0) / 1024)} MiB at saturation (idle ${Math.round((sample.memory?.idleRssKiB ?? 0) / 1024)}); CPU steal during the fixed rate ${sample.steal?.latencyProxyCpuPct}% on the proxy CPU, ${sample.steal?.latencyLoadCpuPct}% on the load CPU`);
      if (sample.selfReport) log(`  its own counters: ${JSON.stringify(sample.selfReport)}`);
    }
  }
  let routeChange: RouteChangeResult | { error: string } | undefined;
  if (!v['skip-route-change']) {
    log('route-change bench: weft apply of an HTTPRoute change until all 6 client sidecars serve it');
    try {
      routeChange = await measureRouteChange(await env.weft(), upstream.port, settings.proxyCpu, { proxies: 6, changes: Number(v['route-changes']) }, (m) => log(`  ${m}`));
      log(`  route change in force everywhere: median ${routeChange.medianMs} ms, p90 ${routeChange.p90Ms} ms, max ${routeChange.maxMs} ms over ${routeChange.changes} changes`);
    } catch (err) {
      routeChange = { error: String((err as Error).stack ?? err) };
      log(`  route-change bench FAILED: ${(err as Error).message}`);
    }
  }
  let slowEndpoint: SlowEndpointResult | { error: string } | undefined;
  if (!v['skip-slow-endpoint']) {
    log('slow-endpoint bench: round-robin, least-request and peak-ewma with one endpoint 10× slower');
    try {
      slowEndpoint = await runSlowEndpointBench({ ...SLOW_ENDPOINT_DEFAULTS, proxyCpu: settings.proxyCpu, loadCpu: settings.loadCpu }, (m) => log(`  ${m}`));
      log(`\n${slowEndpointTable(slowEndpoint)}`);
    } catch (err) {
      slowEndpoint = { error: String((err as Error).stack ?? err) };
      log(`  slow-endpoint bench FAILED: ${(err as Error).message}`);
    }
  }
  if (control) await (await control).proc.stop();
  await upstream.proc.stop();
  const summary = summarize(contenders, samples);
  // Per round and contender: req/s, warm p99, proxy-CPU steal; `*` marks a round over the steal limit.
  console.log(`\nper round (req/s · p99 ms · proxy-CPU steal %, * = steal > ${STEAL_LIMIT_PCT}%: kept but left out of the clean medians · load average):`);
  console.table(Object.fromEntries(contenders.map((c) => [c.id, Object.fromEntries(samples.filter((s) => s.contender === c.id).map((s) => [`round ${s.round}`, roundCell(s)]))])));
  const tableRows = (group: string) => summary.filter((s) => s.group === group || s.group === 'baseline');
  const both = (b: { all: number; clean: number }): string => `${b.all} (${b.clean})`;
  for (const [group, title] of [['one-hop', 'one hop'], ['mesh', 'mesh path']] as const) {
    if (!summary.some((s) => s.group === group)) continue;
    console.log(`\n${title}: medians over all rounds (over clean rounds)`);
    console.table(Object.fromEntries(tableRows(group).map((s) => [s.id, {
      'req/s': both(s.rpsBoth),
      ...Object.fromEntries((REFERENCES[group] ?? []).map((ref) => [`× ${ref}`, s.ratios[ref] ? both(s.ratios[ref]) : '—'])),
      'p99 ms': both(s.p99Both),
      '+p99 ms': both(s.addedP99Both),
      'clean': `${s.cleanRounds}/${s.rounds}`,
      'fresh p99': s.coldP99Ms,
      'RSS@rate MiB': s.peakRssAtRateMiB,
      'RSS − floor': s.rssOverFloorMiB,
      'non-2xx': s.wrkNon2xx + s.latencyNon2xx,
      errors: s.wrkSocketErrors + s.latencyErrors,
    }])));
  }
  const multi = summary.filter((s) => s.group === 'multi-core');
  if (multi.length) console.table(Object.fromEntries(multi.map((s) => [s.id, { 'req/s': s.rps, 'p99 ms': s.p99Ms, 'RSS@max MiB': s.peakRssMiB }])));
  const bars = computeBars(summary);
  log(`bars (medians of this run):\n${bars.map((b) => `  ${verdict(b).padEnd(4)}  ${b.text}: ${b.measured}`).join('\n')}`);


  let controlPlane: ControlPlaneResult | { error: string } | undefined;
  if (!v['skip-control']) {
    log('control-plane bench');
    try {
      controlPlane = await runControlPlaneBench({
        ...CONTROL_DEFAULTS,
        proxies: v['cp-proxies']!.split(',').map(Number),
        scopes: v['cp-scopes']!.split(',') as ('full' | 'scoped')[],
        stores: controlStores,
        controlCpu: settings.proxyCpu,
        clientCpu: settings.loadCpu,
      }, (m) => log(`  ${m}`));
    } catch (err) {
      controlPlane = { error: String((err as Error).stack ?? err) };
      log(`  control-plane bench FAILED: ${(err as Error).message}`);
    }
  }

  const result = {
    date: new Date().toISOString(),
    machine: { ...machine, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100), weftAtEnd: weftSource() },
    settings: { ...settings, upstreamDescription: upstream.description, wrk: `wrk -t1 -c${settings.connections} -d${settings.duration}s` },
    contenders: contenders.map((c) => ({ id: c.id, label: c.label, note: c.note })),
    summary,
    bars,
    samples,
    controlPlane,
    routeChange,
    slowEndpoint,
  };
  if (!v['no-write']) {
    const files = writeReport(result);
    log(`wrote ${files.join(', ')}`);
  }
  log('done');
} finally {
  await stopAll();
}

async function measure(c: (typeof CONTENDERS)[number], env: BenchEnv, round: number): Promise<Sample> {
  let running;
  try {
    // The multi-core contenders let the proxy and the load share every CPU (see Contender.cpus).
    const allCpus = `0-${os.availableParallelism() - 1}`;
    const loadCpu = c.cpus === 'all' ? allCpus : settings.loadCpu;
    const proxyCpu = c.cpus === 'all' ? allCpus : settings.proxyCpu;
    running = await c.start(c.cpus === 'all' ? { ...env, proxyCpu: allCpus } : env);
    const pick = (list: { role: string; rssKiB: number; hwmKiB: number }[]) => list.filter((m) => !running!.headlineRoles || running!.headlineRoles.includes(m.role));
    const headline = (): number => pick(running!.memory()).reduce((t, m) => t + m.hwmKiB, 0);
    const idleRssKiB = pick(running.memory()).reduce((t, m) => t + m.rssKiB, 0);
    const url = `http://127.0.0.1:${running.port}/`;
    const fixedRate = () => runFixedRate({ port: running!.port, hostHeader: running!.hostHeader, rate: settings.rate, seconds: settings.latencyDuration, connections: settings.latencyConnections, warmupSeconds: settings.warmup }, loadCpu, nodeBin);
    // First the fixed rate on the fresh process: its peak RSS is that of a proxy at a moderate rate
    // (the memory target), not what is left over from saturating it. Its latency is kept as
    // `coldLatency`: a process still compiling its hot code is slower than it will be for good.
    for (const m of running.memory()) resetPeak(m.pid);
    const coldLatency = await fixedRate();
    const atRateHwmKiB = headline();
    await sleep(500);
    const wrkBase = { url, host: running.hostHeader, threads: c.cpus === 'all' ? 2 : 1, connections: settings.connections, cpu: loadCpu };
    if (settings.warmup > 0) await runWrk({ ...wrkBase, seconds: settings.warmup });
    const loadAverage = Math.round(os.loadavg()[0] * 100) / 100;
    const wrkSteal = stealMeter(proxyCpu);
    const wrk = await runWrk({ ...wrkBase, seconds: settings.duration });
    const stealAtSaturation = wrkSteal();
    await sleep(500);
    // The headline latency: the same rate on the now warm process, as a sidecar runs for good.
    const [proxySteal, loadSteal] = [stealMeter(proxyCpu), stealMeter(loadCpu)];
    const latency = await fixedRate();
    const steal = { latencyProxyCpuPct: proxySteal(), latencyLoadCpuPct: loadSteal(), saturationProxyCpuPct: stealAtSaturation };
    const processes = running.memory();
    const memory = { headlineHwmKiB: pick(processes).reduce((t, m) => t + m.hwmKiB, 0), atRateHwmKiB, idleRssKiB, processes };
    const selfReport = await running.selfReport?.();
    return { contender: c.id, round, loadAverage, wrk, latency, coldLatency, memory, steal, selfReport };
  } catch (err) {
    return { contender: c.id, round, loadAverage: os.loadavg()[0], error: String((err as Error).stack ?? err) };
  } finally {
    await running?.stop();
  }
}

function roundCell(s: Sample): string {
  if (s.error) return 'failed';
  const steal = sampleStealPct(s);
  return `${Math.round(s.wrk!.requestsPerSec)} · ${s.latency!.p99Ms} · ${steal}${steal > STEAL_LIMIT_PCT ? '*' : ''} · ${s.loadAverage}`;
}

// Writes a run's results: bench/results/<date>.json (raw samples, medians, machine), <date>.svg (the
// chart) and the tables between the bench markers in docs/performance.md (created if missing).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchDir, repoRoot } from './processes.ts';
import { renderChart } from './chart.ts';
import type { Sample, Summary } from './stats.ts';
import type { MachineInfo } from './setup.ts';
import type { ControlPlaneResult } from '../control-plane.ts';

export interface BenchResult {
  readonly date: string;
  readonly machine: MachineInfo & { loadAverageAtEnd: number[]; weftAtEnd?: MachineInfo['weft'] };
  readonly settings: { duration: number; latencyDuration: number; rounds: number; rate: number; connections: number; latencyConnections: number; warmup: number; upstreamDescription: string; loadCpu: string; proxyCpu: string };
  readonly summary: Summary[];
  readonly samples: Sample[];
  readonly controlPlane?: ControlPlaneResult | { error: string };
}

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

const INTRO = `# Performance

How fast weft's data plane is next to the proxies people already run, and what its control plane
costs at scale. \`npm run bench\` measures it on the machine at hand (it is never run by CI); the
table below is the latest run that was committed.

## Method

- **One hop of HTTP/1.1 reverse proxying** to one upstream, which is nginx answering a static
  100-byte body (\`return 200\`): the fastest upstream available here, so the proxy under test is
  the bottleneck, not the upstream (\`--upstream node\` swaps in a bare \`node:http\` server).
- **Pinning.** The upstream and the load generator share CPU 0; the proxy under test runs alone
  on CPU 1 (\`taskset -c\`). nginx runs one worker, HAProxy one thread, the Node peers one process:
  a one-core comparison. weft's mesh path runs *both* sidecars on CPU 1.
- **Every contender starts fresh each round.** weft's one-hop sidecar is a client-only \`weft proxy\`
  whose outbound listener gets \`Host: bench-upstream\`, a service whose one instance (the upstream
  itself) is registered by hand with no TTL; the mesh path adds a server sidecar in front of the
  upstream, registered as sidecars register; the two sidecars talk mutual TLS (TLS 1.3, P-256
  certificates from the control plane's CA, pooled keep-alive connections), as a mesh runs by
  default. The plaintext mesh row is the same path with MeshConfig \`mtls.mode: DISABLE\`.
- **Throughput** is \`wrk -t1 -c64\` at saturation, after an unmeasured warm-up.
- **Latency** is measured at a fixed 1,000 requests/s by an open-loop generator
  (\`bench/lib/fixed-rate.ts\`, 16 keep-alive connections): every latency counts from the request's
  *scheduled* send time, so a proxy that stalls cannot hide it by slowing the load.
- **Order.** Each fresh contender first gets the fixed rate (after its own warm-up at that rate;
  this phase gives the peak RSS at that rate and a "fresh process" p99), then wrk's warm-up and
  measurement, then the fixed rate again: the latency columns come from this last phase, a warm
  process as a sidecar runs for good. A Node process still compiling its hot code answers
  slower: the fresh-process p99 is listed apart.
- **Memory** is the proxy's peak resident set (VmHWM from \`/proc\`, restarted from the current RSS
  before the fixed-rate phase through \`clear_refs\`): first its peak at the fixed 1,000 requests/s,
  then its peak by the end of saturation, and in brackets its resident set right after start; for
  nginx the worker's, for the mesh path both sidecars together. weft runs its compiled \`dist/\`
  (what \`bin/weft\` runs) and the Node peers are plain JavaScript. RSS counts the pages of the \`node\` binary a process touches
  (about 35 MiB for an idle \`node\`), which every Node process on a host shares.
- **Interleaving and medians.** Rounds run every contender in turn (A B C …, A B C …) so drift on
  the machine hits all of them alike; the tables show medians over rounds.
- **Comparisons.** Throughput is also given as a ratio to nginx; latency as p99 *added* over the
  direct path (load generator straight to the upstream).
- **The Node floor.** Two rows are not proxies but the least a Node process can do here:
  \`bench/peers/node-pipe.mjs\` pipes each client connection's bytes to its own upstream connection,
  with no HTTP at all; "two hops" chains two of them on the proxy CPU, like the mesh path. Their
  memory and added latency are what any proxy on this runtime pays before doing its work.
- **CPU steal** (\`/proc/stat\`): the share of time the hypervisor ran something else while this
  VM's proxy CPU wanted to run, measured during each headline fixed-rate phase. On a shared VM,
  steal of a few percent comes in pauses of milliseconds, which is what a p99 sees.
- Errors are part of the result: wrk's "Non-2xx or 3xx responses" and socket errors, and the
  fixed-rate generator's non-2xx answers and failed requests, are counted per contender.

The control-plane bench starts a real \`weft control\`, registers 10,000 endpoints (100 services ×
100 instances) through the API, connects simulated proxies that speak the stream protocol (hello,
then an ACK per snapshot), applies a BackendPolicy change with a PUT, and times how long it takes
from the PUT's response until every proxy has received and acknowledged the new version, and until
\`GET /v1/proxies\` lists them all in sync. The control plane runs on CPU 1, the simulated proxies
on CPU 0 (250 streams per process); every scenario starts a fresh control plane, so its first
sync is a cold start and its peak RSS is its own. Proxy *i* belongs to service \`svc-(i mod 100)\`:
"full" proxies ask for the whole mesh (no \`--upstreams\`, 10,000 endpoints each), "scoped" ones
for their own service and the changed one.

## Running it

    npm run bench                                   # 3 rounds of 10 s, then the control-plane bench
    npm run bench -- --duration 5 --rounds 1        # a quick look
    npm run bench -- --only nginx,weft-sidecar --skip-control
    npm run bench -- --only weft-sidecar --weft-node-flags="--cpu-prof --cpu-prof-dir=bench/work/prof"
    node bench/control-plane.ts --proxies 1000 --scopes full   # the control-plane part alone

It installs what it needs on first use (nginx, HAProxy, wrk with apt-get; http-proxy, fastify and
@fastify/reply-from with npm into \`bench/work/peers\`, apart from weft's own dependencies), needs
root for apt-get and at least 2 CPUs, and sends load only to 127.0.0.1. Generated configs and every
process's log are under \`bench/work/\`; \`--help\` lists the options. Run it on a quiet machine: the
load average at the start and end is recorded, and anything else running shows up as noise.

## Latest results

${START}
${END}

## Optimisation log

<!-- The lead records here what was changed in weft and what it did to the numbers above. -->
`;

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');

/** The multi-core contenders (proxy and load share every CPU) get their own table. */
const MULTI_CORE = /^weft-sidecar-(\d+)w$/;

function multiCoreTable(r: BenchResult): string[] {
  const rows = r.summary.filter((s) => MULTI_CORE.test(s.id));
  if (!rows.length) return [];
  const one = rows.find((s) => s.id === 'weft-sidecar-1w');
  return [
    '### Multi-core',
    '',
    `The sidecar with 1 and ${rows.length > 1 ? 'more' : 'one'} worker thread(s), the proxy and wrk (\`-t2\`) both allowed on every CPU, the upstream still on CPU ${r.settings.loadCpu}. On a 2-CPU machine the load generator and the upstream take a share of the same cores, so this shows whether throughput grows with workers, not how far it would on more cores.`,
    '',
    '| Contender | req/s (wrk) | × 1 worker | p99 ms at the fixed rate | peak RSS MiB at saturation (idle) |',
    '|---|--:|--:|--:|--:|',
    ...rows.map((s) => `| ${s.label} | ${fmt(s.rps)} | ${one && one.rps > 0 ? fmt(s.rps / one.rps, 2) : 'n/a'} | ${fmt(s.p99Ms, 2)} | ${fmt(s.peakRssMiB, 1)} (${fmt(s.idleRssMiB, 0)}) |`),
    '',
  ];
}

function dataPlaneTable(r: BenchResult): string {
  const rows = r.summary.filter((s) => !MULTI_CORE.test(s.id)).map((s) => {
    const failed = s.failedRounds ? ` (${s.failedRounds}/${s.rounds} rounds failed)` : '';
    return `| ${s.label}${failed} | ${fmt(s.rps)} | ${fmt(s.rpsRatioToNginx, 2)} | ${fmt(s.p50Ms, 2)} | ${fmt(s.p99Ms, 2)} | ${fmt(s.p999Ms, 2)} | ${s.id === 'direct' ? '—' : fmt(s.addedP99Ms, 2)} | ${fmt(s.stealPct, 1)} | ${fmt(s.coldP99Ms, 2)} | ${s.id === 'direct' ? '—' : `${fmt(s.peakRssAtRateMiB, 1)} / ${fmt(s.peakRssMiB, 1)} (${fmt(s.idleRssMiB, 0)})`} | ${fmt(s.wrkNon2xx)} / ${fmt(s.wrkSocketErrors)} | ${fmt(s.latencyNon2xx)} / ${fmt(s.latencyErrors)} |`;
  });
  return [
    '| Contender | req/s (wrk) | × nginx | p50 ms | p99 ms | p99.9 ms | added p99 ms | CPU steal % at the fixed rate | p99 ms, fresh process | peak RSS MiB at the fixed rate / at saturation (idle) | wrk non-2xx / socket errors | fixed-rate non-2xx / errors |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
  ].join('\n');
}

function weftNotes(r: BenchResult): string[] {
  const notes: string[] = [];
  for (const s of r.samples) {
    if (!s.contender.startsWith('weft')) continue;
    if (s.error) notes.push(`- ${s.contender}, round ${s.round}: failed: ${s.error.split('\n')[0]}`);
    const bad = Object.entries((s.selfReport ?? {}) as Record<string, Record<string, number>>)
      .flatMap(([who, counts]) => Object.entries(counts).filter(([k]) => !/ 200$/.test(k)).map(([k, n]) => `${who} ${k}: ${n}`));
    if (bad.length) notes.push(`- ${s.contender}, round ${s.round}, the sidecar's own counters: ${bad.join('; ')}`);
  }
  return notes;
}

/** What one change costs a proxy on the wire, and whether it came as a delta (older results lack it). */
function changeSize(s: ControlPlaneResult['scenarios'][number]): string {
  if (s.changeBytes === undefined) return 'n/a';
  const kind = s.changeDeltas === s.changeLines ? 'delta' : s.changeDeltas === 0 ? 'full' : `${fmt(s.changeDeltas)}/${fmt(s.changeLines)} delta`;
  return `${fmt(s.changeBytes / 1024, s.changeBytes < 10_240 ? 1 : 0)} KiB (${kind})`;
}

/** Two or more replicas on one etcd: the same columns, plus each replica's share and the bar. */
function etcdTable(e: NonNullable<ControlPlaneResult['etcd']>): string {
  if ('error' in e) return `The etcd replicas scenario failed: \`${e.error.split('\n')[0]}\``;
  const ms = (v: number | undefined): string => (v === undefined ? '—' : `${fmt(v)} ms`);
  const rows = e.scenarios.map((s) => {
    const reps = s.replicas ?? [];
    return `| ${s.scope} | ${fmt(s.proxies)} (${reps.map((r) => fmt(r.proxies)).join(' + ')}) | ${fmt(s.snapshotBytes / 1024, 0)} KiB | ${changeSize(s)} | ${fmt(s.initialSyncMs / 1000, 1)} s | ${fmt(s.propagationMedianMs)} ms (${s.propagationMs.join(', ')}) | ${reps.map((r) => `${ms(r.localMs)} / ${ms(r.remoteMs)}`).join('; ')} | ${fmt(s.controlPlaneSeesAllMs)} ms | ${reps.map((r) => `${fmt(r.rssMiB, 0)} / ${fmt(r.hwmMiB, 0)}`).join('; ')} MiB | ${fmt(s.etcdRssMiB ?? NaN, 0)} MiB | ${s.streamErrors ? `${s.streamErrors}: ${s.errors.slice(0, 2).join('; ')}` : 'none'} |`;
  });
  return [
    `${e.replicas} \`weft control\` replicas on one etcd ${e.etcdVersion} member (\`--store etcd://…\`, one operator CA and bootstrap token for all): ${fmt(e.endpoints)} endpoints registered through the replicas in turn in ${e.registerSeconds} s (${fmt(e.registerPerSecond)}/s, 64 concurrent); each replica's catalog then listed ${e.catalogPerReplica.map((c) => fmt(c)).join(' / ')} instances${e.catalogShared ? '' : ' — the replicas do not share the catalog: each knows only what was registered through it'}; replica RSS after that: ${e.rssAfterRegisterMiB.map((r) => fmt(r, 0)).join(' / ')} MiB. Proxy *i* streams from replica *i* mod ${e.replicas}; the changes are applied on each replica in turn.`,
    '',
    '| Scope | Proxies (per replica) | Snapshot per proxy | Change per proxy | All proxies' + "'" + ' first snapshot | PUT → all ACKed (median; each) | Per replica: PUT on it / on another → its proxies ACKed (median) | PUT → API lists all in sync (max) | Replica RSS / peak | etcd RSS | Streams dropped (reconnected) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    ...rows,
  ].join('\n');
}

function controlTable(cp: ControlPlaneResult): string {
  const sqlite = cp.scenarios.length ? controlTableSqlite(cp) : 'One control plane on SQLite: not run (`--control-store etcd`).';
  return cp.etcd === undefined ? sqlite : `${sqlite}\n\n${etcdTable(cp.etcd)}`;
}

function controlTableSqlite(cp: ControlPlaneResult): string {
  const rows = cp.scenarios.map((s) => `| ${s.scope} | ${fmt(s.proxies)} | ${fmt(s.snapshotBytes / 1024, 0)} KiB | ${changeSize(s)} | ${fmt(s.initialSyncMs / 1000, 1)} s | ${fmt(s.propagationMedianMs)} ms (${s.propagationMs.join(', ')}) | ${fmt(s.ackP50Ms)} ms | ${fmt(s.controlPlaneSeesAllMs)} ms | ${fmt(s.rssMiB, 0)} / ${fmt(s.hwmMiB, 0)} MiB | ${s.streamErrors ? `${s.streamErrors}: ${s.errors.slice(0, 2).join('; ')}` : 'none'} |`);
  return [
    `${fmt(cp.endpoints)} endpoints (${cp.services} services) registered through the API in ${cp.registerSeconds} s (${fmt(cp.registerPerSecond)}/s, 64 concurrent; median over the scenarios, each of which starts a fresh control plane); control plane RSS after that: ${cp.rssAfterRegisterMiB} MiB.`,
    '',
    '| Scope | Proxies | Snapshot per proxy | Change per proxy | All proxies' + "'" + ' first snapshot | PUT → all ACKed (median; each) | PUT → half ACKed | PUT → API lists all in sync (max) | Control plane RSS / peak | Streams dropped (reconnected) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    ...rows,
  ].join('\n');
}

export function renderSection(r: BenchResult, chartFile: string, jsonFile: string): string {
  const m = r.machine;
  const st = r.settings;
  const cp = r.controlPlane;
  const notes = weftNotes(r);
  return [
    `Run of ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${m.nproc} × ${m.cpuModel} (${m.memoryGiB} GiB), Linux ${m.kernel}; node ${m.node}, ${m.nginx}, ${m.haproxy}, ${m.wrk}; http-proxy ${m.peers['http-proxy']}, fastify ${m.peers.fastify}, @fastify/reply-from ${m.peers['@fastify/reply-from']}.`,
    `weft measured: src/ at sha256 ${m.weft.srcSha256} (${m.weft.files} files, newest change ${m.weft.newestChange.slice(0, 16).replace('T', ' ')} UTC${m.weft.srcSha256 !== m.weftAtEnd?.srcSha256 ? '; src/ changed during the run, so later contenders ran newer code' : ''}).`,
    `Settings: ${st.rounds} round(s); wrk -t1 -c${st.connections} for ${st.duration} s after ${st.warmup} s of warm-up; ${st.rate} req/s for ${st.latencyDuration} s over ${st.latencyConnections} connections; upstream: ${st.upstreamDescription}. Load average ${m.loadAverageAtStart[0]} at the start, ${m.loadAverageAtEnd[0]} at the end${m.loadAverageAtStart[0] > 0.5 ? ' — other work was running on this machine, so treat small differences as noise' : ''}.`,
    '',
    `![Throughput ratio to nginx and added p99](${chartFile})`,
    '',
    dataPlaneTable(r),
    '',
    ...multiCoreTable(r),
    ...(notes.length ? ["What weft's sidecars counted besides 200s (their `weft_proxy_requests_total`; 499 means the client closed the connection with the request in flight, which wrk does when it stops), and how the mesh server sidecar's inbound connections were secured (`weft_proxy_inbound_connections_total`):", '', ...notes, ''] : []),
    '### Control plane',
    '',
    cp ? ('error' in cp ? `The control-plane bench failed: \`${cp.error.split('\n')[0]}\`` : controlTable(cp)) : 'Not run (`--skip-control`).',
    '',
    `Raw samples, per-round numbers and machine details: [${path.basename(jsonFile)}](${jsonFile}).`,
  ].join('\n');
}

/** Writes the JSON, the SVG and docs/performance.md; returns the paths written. */
export function writeReport(r: BenchResult): string[] {
  const day = r.date.slice(0, 10);
  const resultsDir = path.join(benchDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const json = path.join(resultsDir, `${day}.json`);
  const svg = path.join(resultsDir, `${day}.svg`);
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(svg, renderChart(r.summary.filter((s) => !MULTI_CORE.test(s.id)), `weft bench ${day}: one hop of HTTP/1.1, proxy pinned to one CPU`));
  const doc = path.join(repoRoot, 'docs', 'performance.md');
  let text = existsSync(doc) ? readFileSync(doc, 'utf8') : INTRO;
  if (!text.includes(START) || !text.includes(END)) text = `${text.trimEnd()}\n\n## Latest results\n\n${START}\n${END}\n`;
  const section = renderSection(r, `../bench/results/${day}.svg`, `../bench/results/${day}.json`);
  text = text.slice(0, text.indexOf(START) + START.length) + '\n' + section + '\n' + text.slice(text.indexOf(END));
  writeFileSync(doc, text);
  return [json, svg, doc].map((f) => path.relative(repoRoot, f));
}

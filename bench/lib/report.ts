// Writes a run's results: bench/results/<date>.json (raw samples, medians, machine), <date>.svg (the
// chart) and the tables between the bench markers in docs/performance.md (created if missing).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchDir, repoRoot } from './processes.ts';
import { renderChart } from './chart.ts';
import { REFERENCES, sampleStealPct, STEAL_LIMIT_PCT, type Both, type Sample, type Summary } from './stats.ts';
import { verdict, type Bar } from './bars.ts';
import { HEADLINE_MESH } from './contenders.ts';
import type { MachineInfo } from './setup.ts';
import type { ControlPlaneResult } from '../control-plane.ts';

export interface BenchResult {
  readonly date: string;
  readonly machine: MachineInfo & { loadAverageAtEnd: number[]; weftAtEnd?: MachineInfo['weft'] };
  readonly settings: { duration: number; latencyDuration: number; rounds: number; rate: number; connections: number; latencyConnections: number; warmup: number; upstreamDescription: string; loadCpu: string; proxyCpu: string };
  readonly summary: Summary[];
  readonly bars?: Bar[];
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

- **HTTP/1.1 reverse proxying** to one upstream, which is nginx answering a static 100-byte body
  (\`return 200\`): the fastest upstream available here, so the proxies under test are the
  bottleneck, not the upstream (\`--upstream node\` swaps in a bare \`node:http\` server). Two shapes,
  in two tables: **one hop** (client → one proxy → upstream) and the **mesh path** (client →
  client-side proxy → server-side proxy → upstream), the path every call in a mesh takes.
- **Pinning.** The upstream and the load generator share CPU 0; the proxies under test run on
  CPU 1 (\`taskset -c\`), the mesh path's two proxies *both* on CPU 1. nginx runs one worker per
  process, HAProxy one thread, the Node peers one process: a one-core comparison.
- **One-hop rows.** \`weft-sidecar\`: a client-only \`weft proxy\` whose outbound listener gets
  \`Host: bench-upstream\`, a service whose one instance (the upstream itself) is registered by hand
  with no TTL. \`weft-sidecar-routes\`: the same with 50 HTTPRoutes × 5 rules on the Service called,
  every request matching only the last rule. \`weft-sidecar-observed\`: the same with MeshConfig
  \`accessLog\` (sampleRate 0.01, to a file under \`bench/work/\`) and \`tracing\` (sampleRate 0.01,
  OTLP/HTTP to \`bench/peers/otlp-sink.mjs\`, a sink on CPU 0 that counts and discards); its lines
  and the spans the sink took are listed under the tables. \`nginx\` (one worker, upstream
  keepalive), \`haproxy\` (nbthread 1, \`http-reuse always\`), \`node-http-proxy\`, \`fastify\` +
  \`@fastify/reply-from\`, and \`node-floor\` (below).
- **Mesh-path rows.** \`weft-mesh-features\` is **the headline**: the mesh as the demo
  (\`examples/demo\`) runs it — the sidecars talk mutual TLS (TLS 1.3, P-256 certificates from the
  control plane's CA, pooled keep-alive connections), metrics on (weft has no switch for them), an
  HTTPRoute on the Service called (a header-matched canary rule no request matches, then a
  weighted catch-all), an ALLOW AuthorizationPolicy naming the client's SPIFFE ID (checked before
  the row is measured: an unauthenticated caller gets \`403 authz-denied\`), and an inbound
  RateLimitPolicy with total and per-identity buckets too large ever to refuse. \`weft-mesh\`:
  mutual TLS, no route or policy. \`weft-mesh-bare\` (formerly \`weft-mesh-plaintext\`, still accepted
  by \`--only\`): everything optional off (MeshConfig \`mtls.mode: DISABLE\`, no route or policy);
  against the headline it shows what the features cost. \`nginx-mesh\`: two nginx
  (\`bench/peers/nginx-mesh-client.conf\` → \`nginx-mesh-server.conf\`), mutual TLS 1.3 with P-256
  certificates made by openssl under \`bench/work/mesh-certs/\` (server name verified,
  \`proxy_ssl_session_reuse on\`), keep-alive pools on both hops. \`haproxy-mesh\`: the same with two
  HAProxy (\`bench/peers/haproxy-mesh-*.cfg\`, \`http-reuse always\`). \`node-floor-2hops\` and
  \`node-floor-2hops-tls\` (below).
- **Every contender starts fresh each round**; each weft mesh row uses its own Service, so one row's
  route and policies never reach another's.
- **Throughput** is \`wrk -t1 -c64\` at saturation, after an unmeasured warm-up.
- **Latency** is measured at a fixed 1,000 requests/s by an open-loop generator
  (\`bench/lib/fixed-rate.ts\`, 16 keep-alive connections): every latency counts from the request's
  *scheduled* send time, so a proxy that stalls cannot hide it by slowing the load.
- **Order.** Each fresh contender first gets the fixed rate (after its own warm-up at that rate;
  this phase gives the peak RSS at that rate and a "fresh process" p99), then wrk's warm-up and
  measurement, then the fixed rate again: the latency columns come from this last phase, a warm
  process as a sidecar runs for good. The fresh-process p99 is listed apart, with its ratio to the
  warm p99 of the same round (median over rounds).
- **Memory** is the proxy's peak resident set (VmHWM from \`/proc\`, restarted from the current RSS
  before the fixed-rate phase through \`clear_refs\`): first its peak at the fixed 1,000 requests/s,
  then its peak by the end of saturation, and in brackets its resident set right after start; for
  nginx the worker's, for the mesh rows both proxies together. **RSS − floor** is the peak at the
  fixed rate minus the Node floor's of the same table (one hop: \`node-floor\`; mesh path:
  \`node-floor-2hops-tls\`, both processes) in the same round, median over rounds. weft runs its
  compiled \`dist/\` (what \`bin/weft\` runs) and the Node peers are plain JavaScript. RSS counts the
  pages of the \`node\` binary a process touches (about 35 MiB for an idle \`node\`), which every Node
  process on a host shares.
- **Interleaving and medians.** Rounds run every contender in turn (A B C …, A B C …) so drift on
  the machine hits all of them alike; the tables show medians over rounds.
- **Comparisons**, each table with its own: one hop × nginx and × the Node one-hop floor; mesh
  path × the nginx mTLS mesh and × the Node TLS floor; latency as p99 *added* over the direct path
  (load generator straight to the upstream), which heads both tables.
- **The Node floor.** Three rows are not proxies but the least a Node process can do here:
  \`bench/peers/node-pipe.mjs\` pipes each client connection's bytes to its own upstream connection,
  with no HTTP at all (\`node-floor\`); \`node-floor-2hops\` chains two of them on the proxy CPU,
  plaintext between; \`node-floor-2hops-tls\` chains two \`bench/peers/node-pipe-tls.mjs\`, the first
  opening a mutual TLS 1.3 connection (P-256, the same certificates as nginx-mesh) to the second
  for each client connection: the floor of a mutual-TLS mesh path on this runtime.
- **CPU steal** (\`/proc/stat\`): the share of time the hypervisor ran something else while this
  VM's proxy CPU wanted to run, recorded for the saturation phase and the headline fixed-rate
  phase of every round. On a shared VM, steal of a few percent comes in pauses of milliseconds,
  which is what a p99 sees. A round whose proxy-CPU steal exceeds 2% in either phase is kept but
  marked \`*\` in the per-round table, and every median is also given over the **clean rounds**
  alone (in brackets).
- **Bars**, computed and printed by the run with PASS/FAIL (console, results JSON, this page),
  from medians: one hop \`weft-sidecar\` ≥ 0.8× \`node-floor\` and ≥ 0.6× \`nginx\`; mesh path (the
  headline) ≥ 0.7× \`node-floor-2hops-tls\` and ≥ 0.5× \`nginx-mesh\`; the headline's added p99 ≤
  \`nginx-mesh\`'s + 1 ms over the clean rounds; its fresh-process p99 ≤ 2× its warm p99 in the same
  round; \`weft-sidecar\`'s peak RSS at the fixed rate ≤ \`node-floor\`'s + 10 MiB in the same round;
  \`weft-sidecar-observed\` ≥ 0.9× \`weft-sidecar\` (issue 15); \`weft-sidecar-routes\` ≥ 0.9×
  \`weft-sidecar\`. A bar whose rows were not run or failed says "not measured".
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

    npm run bench                                   # 3 rounds of 10 s (about 45 min in all), then the control-plane bench
    npm run bench -- --duration 5 --rounds 1        # a quick look
    npm run bench -- --only nginx,weft-sidecar --skip-control
    npm run bench -- --only direct,weft-mesh-features,weft-mesh-bare,nginx-mesh,node-floor-2hops-tls --skip-control --skip-route-change --skip-slow-endpoint   # the mesh table
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
const isMultiCore = (s: Summary): boolean => s.group === 'multi-core';

function multiCoreTable(r: BenchResult): string[] {
  const rows = r.summary.filter(isMultiCore);
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

/** "all (clean)": the median over every round, and in brackets over the clean rounds only. */
const both = (b: Both, digits = 0): string => `${fmt(b.all, digits)} (${fmt(b.clean, digits)})`;

const REF_NAMES: Record<string, string> = { nginx: '× nginx', 'node-floor': '× Node floor', 'nginx-mesh': '× nginx mesh', 'node-floor-2hops-tls': '× Node TLS floor' };

/**
 * One table per group (one hop, mesh path), `direct` first as both tables' baseline: throughput and
 * its ratios to the group's references, latency at the fixed rate, memory, errors.
 */
function groupTable(r: BenchResult, group: 'one-hop' | 'mesh'): string {
  const refs = REFERENCES[group]!;
  const floorName = group === 'mesh' ? 'Node TLS floor' : 'Node floor';
  const rows = r.summary.filter((s) => s.group === group || s.group === 'baseline').map((s) => {
    const failed = s.failedRounds ? ` (${s.failedRounds}/${s.rounds} rounds failed)` : '';
    const label = s.id === HEADLINE_MESH ? `**${s.label}**` : s.label;
    const isDirect = s.id === 'direct';
    const ratios = refs.map((ref) => (isDirect ? '—' : both(s.ratios[ref] ?? { all: NaN, clean: NaN }, 2)));
    return `| ${label}${failed} | ${both(s.rpsBoth)} | ${ratios.join(' | ')} | ${fmt(s.p50Ms, 2)} | ${both(s.p99Both, 2)} | ${fmt(s.p999Ms, 2)} | ${isDirect ? '—' : both(s.addedP99Both, 2)} | ${s.cleanRounds}/${s.rounds} | ${fmt(s.coldP99Ms, 2)} (${fmt(s.coldOverWarmP99, 1)}×) | ${isDirect ? '—' : `${fmt(s.peakRssAtRateMiB, 1)} / ${fmt(s.peakRssMiB, 1)} (${fmt(s.idleRssMiB, 0)})`} | ${isDirect || s.id === refs[1] ? '—' : fmt(s.rssOverFloorMiB, 1)} | ${fmt(s.wrkNon2xx)} / ${fmt(s.wrkSocketErrors)} · ${fmt(s.latencyNon2xx)} / ${fmt(s.latencyErrors)} |`;
  });
  return [
    `| Contender | req/s (wrk) | ${refs.map((ref) => REF_NAMES[ref]).join(' | ')} | p50 ms | p99 ms | p99.9 ms | added p99 ms | clean rounds | p99 ms, fresh process (× warm) | peak RSS MiB at the fixed rate / at saturation (idle) | RSS at the fixed rate − ${floorName}, MiB | errors: wrk non-2xx / socket · fixed-rate non-2xx / failed |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
  ].join('\n');
}

/**
 * Every round of every contender: req/s · warm p99 · proxy-CPU steal, `*` past the steal limit ·
 * the 1-minute load average before wrk (steal only sees the hypervisor; other work on this VM shows here).
 */
function perRoundTable(r: BenchResult): string {
  const rounds = [...new Set(r.samples.map((s) => s.round))].sort((a, b) => a - b);
  const cell = (s: Sample | undefined): string => {
    if (!s) return '';
    if (s.error) return 'failed';
    const steal = sampleStealPct(s);
    return `${fmt(s.wrk?.requestsPerSec ?? NaN)} · ${fmt(s.latency?.p99Ms ?? NaN, 2)} · ${fmt(steal, 1)}${steal > STEAL_LIMIT_PCT ? ' \\*' : ''} · ${fmt(s.loadAverage, 1)}`;
  };
  return [
    `| Contender | ${rounds.map((n) => `round ${n}`).join(' | ')} |`,
    `|---|${rounds.map(() => '--:').join('|')}|`,
    ...r.summary.map((s) => `| ${s.label} | ${rounds.map((n) => cell(r.samples.find((x) => x.contender === s.id && x.round === n))).join(' | ')} |`),
  ].join('\n');
}

function barsTable(bars: readonly Bar[]): string {
  return ['| Bar | Measured | |', '|---|---|---|', ...bars.map((b) => `| ${b.text} | ${b.measured} | **${verdict(b)}** |`)].join('\n');
}

function dataPlaneTables(r: BenchResult): string[] {
  const out: string[] = [];
  if (r.bars?.length) out.push('### Bars', '', 'From the medians of this run (latency bars over the clean rounds, as they say). The headline mesh row is `weft-mesh-features`: mutual TLS, metrics, an HTTPRoute, an AuthorizationPolicy and a RateLimitPolicy, as the demo runs a mesh.', '', barsTable(r.bars), '');
  const note = `Each cell: the median over all rounds, in brackets over the clean rounds only (proxy-CPU steal ≤ ${STEAL_LIMIT_PCT}% during both measured phases). Added p99 is over direct; RSS − floor is taken round by round against the floor row of the same table.`;
  if (r.summary.some((s) => s.group === 'one-hop')) out.push('### One hop', '', note, '', groupTable(r, 'one-hop'), '');
  if (r.summary.some((s) => s.group === 'mesh')) out.push('### Mesh path', '', `Client → client-side proxy → server-side proxy → upstream, both proxies on the proxy CPU. ${note}`, '', groupTable(r, 'mesh'), '');
  out.push('### Per round', '', `req/s · p99 ms at the fixed rate · proxy-CPU steal %, \\* when it exceeded ${STEAL_LIMIT_PCT}% (the round is kept, and left out of the clean medians) · load average before wrk (other work on this machine, which steal does not see).`, '', perRoundTable(r), '');
  return out;
}

function weftNotes(r: BenchResult): string[] {
  const notes: string[] = [];
  for (const s of r.samples) {
    if (!s.contender.startsWith('weft')) continue;
    if (s.error) notes.push(`- ${s.contender}, round ${s.round}: failed: ${s.error.split('\n')[0]}`);
    // `observed` (weft-sidecar-observed) is what its access log and the OTLP sink received: all of it is shown.
    const bad = Object.entries((s.selfReport ?? {}) as Record<string, Record<string, number>>)
      .flatMap(([who, counts]) => Object.entries(counts).filter(([k]) => who === 'observed' || !/ 200$/.test(k)).map(([k, n]) => `${who === 'observed' ? '' : `${who} `}${k}: ${n}`));
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
    ...dataPlaneTables(r),
    ...multiCoreTable(r),
    ...(notes.length ? ["What weft's sidecars counted besides 200s (their `weft_proxy_requests_total`; 499 means the client closed the connection with the request in flight, which wrk does when it stops), how the mesh server sidecar's inbound connections were secured (`weft_proxy_inbound_connections_total`), for the observed sidecar the access log lines it wrote and what the OTLP sink received, and for the headline mesh row one `inbound 403 authz-denied` on a plaintext connection per round: the bench's own check that its AuthorizationPolicy is in force:", '', ...notes, ''] : []),
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
  writeFileSync(svg, renderChart(r.summary.filter((s) => !isMultiCore(s)), `weft bench ${day}: HTTP/1.1, one hop and mesh path, proxies pinned to one CPU`));
  const doc = path.join(repoRoot, 'docs', 'performance.md');
  let text = existsSync(doc) ? readFileSync(doc, 'utf8') : INTRO;
  if (!text.includes(START) || !text.includes(END)) text = `${text.trimEnd()}\n\n## Latest results\n\n${START}\n${END}\n`;
  const section = renderSection(r, `../bench/results/${day}.svg`, `../bench/results/${day}.json`);
  text = text.slice(0, text.indexOf(START) + START.length) + '\n' + section + '\n' + text.slice(text.indexOf(END));
  writeFileSync(doc, text);
  return [json, svg, doc].map((f) => path.relative(repoRoot, f));
}

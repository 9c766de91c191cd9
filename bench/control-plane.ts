// Control-plane bench: real `weft control` processes — one on SQLite, or replicas on one real etcd —
// with 10,000 endpoints registered through their API, N simulated proxies on streams (spread over the
// replicas), and the time from a BackendPolicy PUT's response until every proxy has received and ACKed
// the new version. Alone: node bench/control-plane.ts [--proxies 100,1000] [--control-store sqlite|etcd|both]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchDir, nodeBin, sleep, stopAll } from './lib/processes.ts';
import { readMemory, mib } from './lib/rss.ts';
import { median } from './lib/stats.ts';
import { benchOperatorCa, newBenchToken, startWeftControl, type WeftControl } from './lib/weft.ts';
import { startBenchEtcd } from './lib/etcd.ts';
import type { ChildMessage, ParentMessage, SimulatedProxy } from './lib/stream-clients.ts';

export interface ControlPlaneBenchOptions {
  readonly proxies: readonly number[];
  /** full: every proxy sees the whole mesh (no --upstreams); scoped: its own service and svc-000. */
  readonly scopes: readonly ('full' | 'scoped')[];
  readonly services: number;
  readonly instancesPerService: number;
  readonly changes: number;
  readonly controlCpu: string;
  readonly clientCpu: string;
  readonly clientsPerProcess: number;
  /** Which control planes to measure: one process on SQLite, replicas on one etcd, or both in turn. */
  readonly stores: readonly ControlStore[];
  /** etcd: how many `weft control` replicas share the etcd (proxies and registrations spread evenly). */
  readonly replicas: number;
  /** etcd: simulated proxy counts (the bar: 1,000 over two replicas). */
  readonly etcdProxies: readonly number[];
  /** etcd: changes to time, applied in turn on each replica. */
  readonly etcdChanges: number;
  /** etcd's CPU (the replicas run on controlCpu, as the single control plane does). */
  readonly etcdCpu: string;
}

export type ControlStore = 'sqlite' | 'etcd';

/** One replica's share of an etcd scenario. */
export interface ReplicaResult {
  readonly proxies: number;
  /**
   * PUT answered → every proxy on this replica ACKed, median over the changes this replica itself
   * took (`local`) and over those another replica took, which reach it through etcd's watch (`remote`).
   */
  readonly localMs: number | undefined;
  readonly remoteMs: number | undefined;
  readonly rssMiB: number;
  readonly hwmMiB: number;
}

export interface ScenarioResult {
  readonly scope: 'full' | 'scoped';
  readonly proxies: number;
  /** The first (full) snapshot line a proxy gets, median over the fleet. */
  readonly snapshotBytes: number;
  /** The line a proxy gets for one BackendPolicy change, median over the fleet and the changes. */
  readonly changeBytes: number;
  /** How many of the change lines were deltas (the rest were full snapshots), over all proxies and changes. */
  readonly changeDeltas: number;
  readonly changeLines: number;
  readonly initialSyncMs: number;
  readonly propagationMs: number[];
  readonly propagationMedianMs: number;
  readonly ackP50Ms: number;
  readonly controlPlaneSeesAllMs: number;
  readonly rssMiB: number;
  readonly hwmMiB: number;
  /** Streams that failed or were dropped (each reconnected), and the first few reasons. */
  readonly streamErrors: number;
  readonly errors: string[];
  /** etcd scenarios: the replica each change was applied on (index into `replicas`), and each replica's share. */
  readonly appliedOn?: number[];
  readonly replicas?: ReplicaResult[];
  /** etcd scenarios: etcd's own resident set at the end (MiB). */
  readonly etcdRssMiB?: number;
}

/** Two or more `weft control` replicas on one etcd (`--store etcd://…`): the issue 16/17 bar. */
export interface EtcdControlPlaneResult {
  readonly replicas: number;
  readonly etcdVersion: string;
  readonly endpoints: number;
  readonly registerSeconds: number;
  readonly registerPerSecond: number;
  /**
   * How many instances each replica's own catalog listed after every registration was answered
   * (median over the scenarios): `endpoints` on each when replicas share the catalog through etcd;
   * only its own share when each replica knows only what was registered through it.
   */
  readonly catalogPerReplica: number[];
  readonly catalogShared: boolean;
  readonly rssAfterRegisterMiB: number[];
  readonly scenarios: ScenarioResult[];
}

export interface ControlPlaneResult {
  readonly endpoints: number;
  readonly services: number;
  readonly registerSeconds: number;
  readonly registerPerSecond: number;
  readonly rssAfterRegisterMiB: number;
  /** The SQLite control plane's scenarios (empty when only etcd was asked for). */
  readonly scenarios: ScenarioResult[];
  readonly etcd?: EtcdControlPlaneResult | { error: string };
}

const now = (): number => performance.timeOrigin + performance.now();
const svc = (i: number): string => `svc-${String(i).padStart(3, '0')}`;

/** Registers every endpoint through the API, instance i through replica i mod replicas (64 at a time). */
async function registerAll(cps: readonly WeftControl[], o: ControlPlaneBenchOptions, progress: (m: string) => void): Promise<number> {
  const total = o.services * o.instancesPerService;
  let next = 0;
  let done = 0;
  const started = now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const s = Math.floor(i / o.instancesPerService);
      // Loopback addresses only: no traffic ever goes to these endpoints, they are catalog data.
      const r = await cps[i % cps.length].api('POST', '/v1/catalog/instances', { service: svc(s), id: `${svc(s)}-i${i % o.instancesPerService}`, address: '127.0.0.1', port: 10_000 + i, ttlSeconds: 0 });
      if (r.status !== 201 && r.status !== 200) throw new Error(`register ${i}: ${r.status} ${JSON.stringify(r.body)}`);
      if (++done % 2000 === 0) progress(`registered ${done}/${total} endpoints`);
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return (now() - started) / 1000;
}

function policy(connectMs: number) {
  return {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'BackendPolicy',
    metadata: { name: 'bench-policy', namespace: 'default' },
    spec: { targetRefs: [{ kind: 'Service', name: svc(0) }], timeouts: { connectMs } },
  };
}

interface Acked {
  readonly version: string;
  readonly at: number;
  readonly bytes: number;
  readonly kind: 'snapshot' | 'delta';
  /** Index of the control plane (replica) the proxy streams from. */
  readonly replica: number;
}

/**
 * Simulated proxies spread over child processes, proxy i on control plane i mod cps.length, with the
 * newest version each one ACKed. Versions are compared for equality only: a replica may number
 * them per process or derive them from the store, so "has the change" means "ACKed a version other
 * than the one it held when the change was applied".
 */
class Fleet {
  readonly children: ChildProcess[] = [];
  readonly acked = new Map<string, Acked>();
  readonly errors: string[] = [];
  errorCount = 0;
  #waiters = new Set<() => void>();

  constructor(cps: readonly WeftControl[], proxies: SimulatedProxy[], perProcess: number, cpu: string) {
    cps.forEach((cp, r) => {
      const mine = proxies.filter((_, i) => i % cps.length === r);
      for (let i = 0; i < mine.length; i += perProcess) {
        const child = spawn('taskset', ['-c', cpu, nodeBin, path.join(benchDir, 'lib', 'stream-clients.ts')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        child.on('message', (m: ChildMessage) => this.#on(m, r));
        child.send({ cmd: 'start', controlUrl: cp.url, token: cp.token, proxies: mine.slice(i, i + perProcess) } satisfies ParentMessage);
        this.children.push(child);
      }
    });
  }

  #on(m: ChildMessage, replica: number): void {
    if (m.ev === 'snapshot') this.acked.set(m.id, { version: m.version, at: m.at, bytes: m.bytes, kind: m.kind, replica });
    else {
      this.errorCount++;
      if (this.errors.length < 20) this.errors.push(`${m.id}: ${m.message}`);
    }
    for (const w of this.#waiters) w();
  }

  /** What every proxy holds now: the mark a change is measured against. */
  mark(): Map<string, string> {
    return new Map([...this.acked].map(([id, a]) => [id, a.version]));
  }

  #fresh(since: ReadonlyMap<string, string> | undefined): Acked[] {
    const out: Acked[] = [];
    for (const [id, a] of this.acked) if (since === undefined || since.get(id) !== a.version) out.push(a);
    return out;
  }

  /**
   * Resolves when `count` proxies have ACKed a version other than the one `since` recorded for them
   * (any version when `since` is undefined), with those ACKs.
   */
  until(count: number, since: ReadonlyMap<string, string> | undefined, timeoutMs: number, progress?: (m: string) => void): Promise<Acked[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const got = this.#fresh(since);
        if (got.length < count) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        clearInterval(ticker);
        resolve(got);
      };
      const ticker = setInterval(() => progress?.(`  … ${this.#fresh(since).length}/${count} proxies have it, ${this.errorCount} stream errors so far`), 10_000);
      const timer = setTimeout(() => {
        clearInterval(ticker);
        this.#waiters.delete(check);
        reject(new Error(`only ${this.#fresh(since).length}/${count} proxies ACKed a new version within ${timeoutMs}ms; errors: ${this.errors.slice(0, 5).join('; ')}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.send({ cmd: 'stop' } satisfies ParentMessage);
      setTimeout(() => c.kill('SIGKILL'), 5_000).unref();
    })));
  }
}

/** Until every one of `ids` is listed connected and in sync by some replica's GET /v1/proxies (ms waited). */
async function untilListedInSync(cps: readonly WeftControl[], prefix: string, n: number, timeoutMs: number): Promise<void> {
  const started = now();
  for (;;) {
    const inSync = new Set<string>();
    for (const cp of cps) {
      const { body } = await cp.api<{ items: { id: string; connected: boolean; inSync: boolean }[] }>('GET', '/v1/proxies');
      for (const p of body.items) if (p.connected && p.inSync && p.id.startsWith(prefix)) inSync.add(p.id);
    }
    if (inSync.size === n) return;
    if (now() - started > timeoutMs) throw new Error(`the control plane(s) never listed all ${n} proxies in sync (${inSync.size} within ${timeoutMs} ms)`);
    await sleep(20);
  }
}

/** The slowest ACK of `acks` after `from` (ms), or undefined when there are none. */
const slowest = (acks: readonly Acked[], from: number): number | undefined => (acks.length ? Math.max(...acks.map((a) => a.at)) - from : undefined);

async function scenario(cps: readonly WeftControl[], o: ControlPlaneBenchOptions, scope: 'full' | 'scoped', n: number, changes: number, round: { k: number }, progress: (m: string) => void, label: string): Promise<ScenarioResult> {
  const prefix = `sim-${label}-${scope}-${n}-`;
  const proxies: SimulatedProxy[] = Array.from({ length: n }, (_, i) => {
    const service = svc(i % o.services);
    return { id: `${prefix}${i}`, service, upstreams: scope === 'full' ? [] : [svc(0)] };
  });
  const started = now();
  const fleet = new Fleet(cps, proxies, o.clientsPerProcess, o.clientCpu);
  try {
    // Generous: a cold start of many node keys is itself one of the things this measures.
    await fleet.until(n, undefined, 600_000, progress);
    const initialSyncMs = now() - started;
    const snapshotBytes = median([...fleet.acked.values()].map((a) => a.bytes));
    // No rebuild still on its way (the policy's creation reaching another replica through etcd, say):
    // the first change must be measured from a fleet at rest.
    await untilListedInSync(cps, prefix, n, 60_000);
    progress(`${label} ${scope}, ${n} proxies: all in sync after ${Math.round(initialSyncMs)} ms; applying ${changes} BackendPolicy changes${cps.length > 1 ? ` in turn on each of the ${cps.length} replicas` : ''}`);
    const propagation: number[] = [];
    const ackP50: number[] = [];
    const changeBytes: number[] = [];
    const appliedOn: number[] = [];
    const perReplica = cps.map(() => ({ local: [] as number[], remote: [] as number[] }));
    let changeDeltas = 0;
    let changeLines = 0;
    let seesAll = 0;
    for (let c = 0; c < changes; c++) {
      // Every proxy is in sync (the previous round waited for it): this is what each holds now.
      const before = fleet.mark();
      const on = c % cps.length;
      const put = await cps[on].api('PUT', '/v1/resources/backendpolicies/default/bench-policy', policy(1_000 + ++round.k));
      const answered = now();
      if (put.status !== 200) throw new Error(`PUT BackendPolicy: ${put.status} ${JSON.stringify(put.body)}`);
      const got = await fleet.until(n, before, 120_000, progress);
      appliedOn.push(on);
      propagation.push(slowest(got, answered)!);
      ackP50.push(median(got.map((a) => a.at)) - answered);
      for (let r = 0; r < cps.length; r++) {
        const t = slowest(got.filter((a) => a.replica === r), answered);
        if (t !== undefined) perReplica[r][r === on ? 'local' : 'remote'].push(t);
      }
      changeBytes.push(median(got.map((a) => a.bytes)));
      changeDeltas += got.filter((a) => a.kind === 'delta').length;
      changeLines += got.length;
      // The control plane's own view (GET /v1/proxies) must agree that every stream is in sync.
      await untilListedInSync(cps, prefix, n, 30_000);
      seesAll = Math.max(seesAll, now() - answered);
      if (cps.length > 1) progress(`  change ${c + 1}/${changes} on replica ${on}: all ${n} ACKed after ${Math.round(propagation[c])} ms (${perReplica.map((p, r) => `replica ${r}: ${Math.round(slowest(got.filter((a) => a.replica === r), answered) ?? NaN)} ms`).join(', ')})`);
      await sleep(300);
    }
    const mems = cps.map((cp) => readMemory(cp.proc.pid));
    const mem = mems[0];
    return {
      scope,
      proxies: n,
      snapshotBytes,
      changeBytes: median(changeBytes),
      changeDeltas,
      changeLines,
      initialSyncMs: Math.round(initialSyncMs),
      propagationMs: propagation.map((p) => Math.round(p)),
      propagationMedianMs: Math.round(median(propagation)),
      ackP50Ms: Math.round(median(ackP50)),
      controlPlaneSeesAllMs: Math.round(seesAll),
      rssMiB: mib(mem?.rssKiB ?? 0),
      hwmMiB: mib(mem?.hwmKiB ?? 0),
      streamErrors: fleet.errorCount,
      errors: fleet.errors,
      ...(cps.length > 1 && {
        appliedOn,
        replicas: cps.map((_, r) => ({
          proxies: proxies.filter((_, i) => i % cps.length === r).length,
          localMs: perReplica[r].local.length ? Math.round(median(perReplica[r].local)) : undefined,
          remoteMs: perReplica[r].remote.length ? Math.round(median(perReplica[r].remote)) : undefined,
          rssMiB: mib(mems[r]?.rssKiB ?? 0),
          hwmMiB: mib(mems[r]?.hwmKiB ?? 0),
        })),
      }),
    };
  } finally {
    await fleet.stop();
    await sleep(500);
  }
}

/** A fresh control plane with every endpoint registered and the policy the changes will edit. */
async function preparedControlPlane(o: ControlPlaneBenchOptions, progress: (m: string) => void) {
  const cp = await startWeftControl('control-plane-bench', o.controlCpu);
  progress(`registering ${o.services * o.instancesPerService} endpoints (${o.services} services × ${o.instancesPerService}) in a fresh control plane`);
  const registerSeconds = await registerAll([cp], o, progress);
  const put = await cp.api('PUT', '/v1/resources/backendpolicies/default/bench-policy', policy(1_000));
  if (put.status !== 201 && put.status !== 200) throw new Error(`creating BackendPolicy: ${put.status} ${JSON.stringify(put.body)}`);
  return { cp, registerSeconds, rssAfterRegisterMiB: mib(readMemory(cp.proc.pid)?.rssKiB ?? 0) };
}

/** How many instances each replica's catalog lists, once all reach `total` or after `timeoutMs`. */
async function catalogCounts(cps: readonly WeftControl[], total: number, timeoutMs: number): Promise<number[]> {
  const started = now();
  for (;;) {
    const counts: number[] = [];
    for (const cp of cps) counts.push((await cp.api<{ items: unknown[] }>('GET', '/v1/catalog/instances')).body.items.length);
    if (counts.every((c) => c >= total) || now() - started > timeoutMs) return counts;
    await sleep(500);
  }
}

/**
 * A fresh etcd, `o.replicas` fresh `weft control --store etcd://…` on it (one bootstrap token and
 * one operator CA for all, so the bench holds whether or not replicas share weft's own CA), every
 * endpoint registered through the replicas in turn, and the policy the changes will edit.
 */
async function preparedReplicas(o: ControlPlaneBenchOptions, progress: (m: string) => void) {
  const etcd = await startBenchEtcd('control-plane-bench-etcd', o.etcdCpu);
  const token = newBenchToken();
  const ca = benchOperatorCa('control-plane-bench-ca');
  const cps: WeftControl[] = [];
  try {
    for (let r = 0; r < o.replicas; r++) cps.push(await startWeftControl(`control-plane-bench-replica-${r}`, o.controlCpu, { token, args: ['--store', `etcd://${etcd.address}`, ...ca] }));
    const total = o.services * o.instancesPerService;
    progress(`registering ${total} endpoints (${o.services} services × ${o.instancesPerService}) through ${o.replicas} fresh replicas on etcd ${etcd.address}, in turn`);
    const registerSeconds = await registerAll(cps, o, progress);
    const catalog = await catalogCounts(cps, total, 20_000);
    progress(`each replica's catalog lists ${catalog.join(' / ')} of ${total} instances${catalog.every((c) => c >= total) ? '' : ' (replicas do not share the catalog: each knows what was registered through it)'}`);
    const put = await cps[0].api('PUT', '/v1/resources/backendpolicies/default/bench-policy', policy(1_000));
    if (put.status !== 201 && put.status !== 200) throw new Error(`creating BackendPolicy: ${put.status} ${JSON.stringify(put.body)}`);
    return { etcd, cps, registerSeconds, catalog, rssAfterRegisterMiB: cps.map((cp) => mib(readMemory(cp.proc.pid)?.rssKiB ?? 0)) };
  } catch (err) {
    await Promise.all(cps.map((cp) => cp.proc.stop()));
    await etcd.stop();
    throw err;
  }
}

async function runEtcdScenarios(o: ControlPlaneBenchOptions, round: { k: number }, progress: (m: string) => void): Promise<EtcdControlPlaneResult> {
  const endpoints = o.services * o.instancesPerService;
  const registered: { seconds: number; catalog: number[]; rss: number[] }[] = [];
  const scenarios: ScenarioResult[] = [];
  for (const scope of o.scopes) {
    for (const n of o.etcdProxies) {
      const { etcd, cps, registerSeconds, catalog, rssAfterRegisterMiB } = await preparedReplicas(o, progress);
      registered.push({ seconds: registerSeconds, catalog, rss: rssAfterRegisterMiB });
      try {
        progress(`etcd ${scope} scope: connecting ${n} simulated proxies over ${cps.length} replicas`);
        const s = { ...(await scenario(cps, o, scope, n, o.etcdChanges, round, progress, 'etcd')), etcdRssMiB: mib(readMemory(etcd.proc.pid)?.rssKiB ?? 0) };
        scenarios.push(s);
        progress(`etcd ${scope}, ${n} proxies over ${cps.length} replicas: change reached all in ${s.propagationMs.join(' / ')} ms (median ${s.propagationMedianMs}); replicas' RSS ${s.replicas!.map((r) => `${r.rssMiB} (peak ${r.hwmMiB})`).join(' / ')} MiB; etcd ${s.etcdRssMiB} MiB`);
      } finally {
        await Promise.all(cps.map((cp) => cp.proc.stop()));
        await etcd.stop();
      }
    }
  }
  const seconds = median(registered.map((r) => r.seconds));
  const catalogPerReplica = Array.from({ length: o.replicas }, (_, r) => median(registered.map((x) => x.catalog[r])));
  return {
    replicas: o.replicas,
    etcdVersion: etcdVersion(),
    endpoints,
    registerSeconds: Math.round(seconds * 10) / 10,
    registerPerSecond: Math.round(endpoints / seconds),
    catalogPerReplica,
    catalogShared: catalogPerReplica.every((c) => c >= endpoints),
    rssAfterRegisterMiB: Array.from({ length: o.replicas }, (_, r) => median(registered.map((x) => x.rss[r]))),
    scenarios,
  };
}

function etcdVersion(): string {
  const out = spawnSync(process.env.WEFT_ETCD_BIN ?? 'etcd', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /etcd Version: (\S+)/.exec(out)?.[1] ?? 'unknown';
}

export async function runControlPlaneBench(o: ControlPlaneBenchOptions, progress: (m: string) => void): Promise<ControlPlaneResult> {
  const endpoints = o.services * o.instancesPerService;
  const registered: { seconds: number; rss: number }[] = [];
  const scenarios: ScenarioResult[] = [];
  const round = { k: 0 };
  // Each scenario gets its own control plane: a cold start for every fleet, and a peak RSS of its own.
  if (o.stores.includes('sqlite')) {
    for (const scope of o.scopes) {
      for (const n of o.proxies) {
        const { cp, registerSeconds, rssAfterRegisterMiB } = await preparedControlPlane(o, progress);
        registered.push({ seconds: registerSeconds, rss: rssAfterRegisterMiB });
        try {
          progress(`${scope} scope: connecting ${n} simulated proxies`);
          const s = await scenario([cp], o, scope, n, o.changes, round, progress, 'sqlite');
          scenarios.push(s);
          progress(`${scope}, ${n} proxies: change reached all in ${s.propagationMs.join(' / ')} ms (${s.changeDeltas}/${s.changeLines} as deltas of ${s.changeBytes} bytes; first snapshot ${s.snapshotBytes} bytes); control plane RSS ${s.rssMiB} MiB (peak ${s.hwmMiB})`);
        } finally {
          await cp.proc.stop();
        }
      }
    }
  }
  let etcd: ControlPlaneResult['etcd'];
  if (o.stores.includes('etcd')) {
    try {
      etcd = await runEtcdScenarios(o, round, progress);
    } catch (err) {
      etcd = { error: String((err as Error).stack ?? err) };
      progress(`etcd scenario FAILED: ${(err as Error).message}`);
    }
  }
  const seconds = registered.length ? median(registered.map((r) => r.seconds)) : NaN;
  return {
    endpoints,
    services: o.services,
    registerSeconds: Math.round(seconds * 10) / 10,
    registerPerSecond: Math.round(endpoints / seconds),
    rssAfterRegisterMiB: registered.length ? median(registered.map((r) => r.rss)) : NaN,
    scenarios,
    ...(etcd !== undefined && { etcd }),
  };
}

export const CONTROL_DEFAULTS: ControlPlaneBenchOptions = {
  proxies: [100, 1000],
  scopes: ['full', 'scoped'],
  services: 100,
  instancesPerService: 100,
  changes: 3,
  controlCpu: '1',
  clientCpu: '0',
  clientsPerProcess: 250,
  stores: ['sqlite', 'etcd'],
  replicas: 2,
  etcdProxies: [1000],
  etcdChanges: 6,
  etcdCpu: '0',
};

/** `--control-store sqlite|etcd|both` (run.ts and this file alone). */
export function parseControlStores(value: string | undefined): ControlStore[] {
  if (value === undefined || value === 'both') return ['sqlite', 'etcd'];
  if (value === 'sqlite' || value === 'etcd') return [value];
  throw new Error(`--control-store must be sqlite, etcd or both, got ${JSON.stringify(value)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: v } = parseArgs({ options: { proxies: { type: 'string' }, scopes: { type: 'string' }, changes: { type: 'string' }, 'control-store': { type: 'string' }, 'etcd-proxies': { type: 'string' }, 'etcd-changes': { type: 'string' }, replicas: { type: 'string' }, write: { type: 'string' }, help: { type: 'boolean' } } });
  if (v.help) {
    console.log(`node bench/control-plane.ts [--control-store sqlite|etcd|both] [--proxies ${CONTROL_DEFAULTS.proxies.join(',')}] [--scopes ${CONTROL_DEFAULTS.scopes.join(',')}] [--changes ${CONTROL_DEFAULTS.changes}]
                            [--etcd-proxies ${CONTROL_DEFAULTS.etcdProxies.join(',')}] [--etcd-changes ${CONTROL_DEFAULTS.etcdChanges}] [--replicas ${CONTROL_DEFAULTS.replicas}] [--write NAME]
Prints the result as JSON on stdout, progress on stderr; --write NAME also writes bench/results/NAME.json.
sqlite: one control plane on its embedded store; etcd: --replicas control planes on one fresh etcd member,
endpoints registered and proxies connected through them in turn, changes applied on each in turn.`);
    process.exit(0);
  }
  const o: ControlPlaneBenchOptions = {
    ...CONTROL_DEFAULTS,
    proxies: v.proxies ? v.proxies.split(',').map(Number) : CONTROL_DEFAULTS.proxies,
    scopes: v.scopes ? (v.scopes.split(',') as ('full' | 'scoped')[]) : CONTROL_DEFAULTS.scopes,
    changes: v.changes ? Number(v.changes) : CONTROL_DEFAULTS.changes,
    stores: parseControlStores(v['control-store']),
    etcdProxies: v['etcd-proxies'] ? v['etcd-proxies'].split(',').map(Number) : CONTROL_DEFAULTS.etcdProxies,
    etcdChanges: v['etcd-changes'] ? Number(v['etcd-changes']) : CONTROL_DEFAULTS.etcdChanges,
    replicas: v.replicas ? Number(v.replicas) : CONTROL_DEFAULTS.replicas,
  };
  process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const loadAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
    const result = await runControlPlaneBench(o, (m) => console.error(`[control ${new Date().toISOString().slice(11, 19)} load ${os.loadavg()[0].toFixed(2)}] ${m}`));
    const out = { date: new Date().toISOString(), loadAverageAtStart: loadAtStart, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100), options: o, ...result };
    console.log(JSON.stringify(out, null, 2));
    if (v.write) writeFileSync(path.join(benchDir, 'results', `${v.write}.json`), JSON.stringify(out, null, 2) + '\n');
  } finally {
    await stopAll();
  }
}

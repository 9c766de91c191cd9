// Control-plane bench: a real `weft control` process with 10,000 endpoints registered through its API,
// N simulated proxies on streams, and the time from a BackendPolicy PUT's response until every proxy
// has received and ACKed the new version. Alone: node bench/control-plane.ts [--proxies 100,1000]

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchDir, nodeBin, sleep, stopAll } from './lib/processes.ts';
import { readMemory, mib } from './lib/rss.ts';
import { median } from './lib/stats.ts';
import { startWeftControl, type WeftControl } from './lib/weft.ts';
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
}

export interface ControlPlaneResult {
  readonly endpoints: number;
  readonly services: number;
  readonly registerSeconds: number;
  readonly registerPerSecond: number;
  readonly rssAfterRegisterMiB: number;
  readonly scenarios: ScenarioResult[];
}

const now = (): number => performance.timeOrigin + performance.now();
const svc = (i: number): string => `svc-${String(i).padStart(3, '0')}`;

async function registerAll(cp: WeftControl, o: ControlPlaneBenchOptions, progress: (m: string) => void): Promise<number> {
  const total = o.services * o.instancesPerService;
  let next = 0;
  let done = 0;
  const started = now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const s = Math.floor(i / o.instancesPerService);
      // Loopback addresses only: no traffic ever goes to these endpoints, they are catalog data.
      const r = await cp.api('POST', '/v1/catalog/instances', { service: svc(s), id: `${svc(s)}-i${i % o.instancesPerService}`, address: '127.0.0.1', port: 10_000 + i, ttlSeconds: 0 });
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

/** Simulated proxies spread over child processes, with the newest version each one ACKed. */
class Fleet {
  readonly children: ChildProcess[] = [];
  readonly acked = new Map<string, { version: string; at: number; bytes: number; kind: 'snapshot' | 'delta' }>();
  readonly errors: string[] = [];
  errorCount = 0;
  #waiters = new Set<() => void>();

  constructor(cp: WeftControl, proxies: SimulatedProxy[], perProcess: number, cpu: string) {
    for (let i = 0; i < proxies.length; i += perProcess) {
      const child = spawn('taskset', ['-c', cpu, nodeBin, path.join(benchDir, 'lib', 'stream-clients.ts')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (m: ChildMessage) => this.#on(m));
      child.send({ cmd: 'start', controlUrl: cp.url, token: cp.token, proxies: proxies.slice(i, i + perProcess) } satisfies ParentMessage);
      this.children.push(child);
    }
  }

  #on(m: ChildMessage): void {
    if (m.ev === 'snapshot') this.acked.set(m.id, { version: m.version, at: m.at, bytes: m.bytes, kind: m.kind });
    else {
      this.errorCount++;
      if (this.errors.length < 20) this.errors.push(`${m.id}: ${m.message}`);
    }
    for (const w of this.#waiters) w();
  }

  /** Resolves when every proxy has ACKed a version newer than `after` (numeric), with their ACK times. */
  until(count: number, after: number, timeoutMs: number, progress?: (m: string) => void): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const have = (): number => [...this.acked.values()].filter((a) => Number(a.version) > after).length;
      const check = (): void => {
        const times: number[] = [];
        for (const a of this.acked.values()) if (Number(a.version) > after) times.push(a.at);
        if (times.length < count) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        clearInterval(ticker);
        resolve(times);
      };
      const ticker = setInterval(() => progress?.(`  … ${have()}/${count} proxies have it, ${this.errorCount} stream errors so far`), 10_000);
      const timer = setTimeout(() => {
        clearInterval(ticker);
        this.#waiters.delete(check);
        reject(new Error(`only ${have()}/${count} proxies ACKed a version after ${after} within ${timeoutMs}ms; errors: ${this.errors.slice(0, 5).join('; ')}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  newest(): number {
    return Math.max(0, ...[...this.acked.values()].map((a) => Number(a.version)));
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

async function scenario(cp: WeftControl, o: ControlPlaneBenchOptions, scope: 'full' | 'scoped', n: number, round: { k: number }, progress: (m: string) => void): Promise<ScenarioResult> {
  const proxies: SimulatedProxy[] = Array.from({ length: n }, (_, i) => {
    const service = svc(i % o.services);
    return { id: `sim-${scope}-${n}-${i}`, service, upstreams: scope === 'full' ? [] : [svc(0)] };
  });
  const started = now();
  const fleet = new Fleet(cp, proxies, o.clientsPerProcess, o.clientCpu);
  try {
    // Generous: a cold start of many node keys is itself one of the things this measures.
    await fleet.until(n, 0, 600_000, progress);
    const initialSyncMs = now() - started;
    const snapshotBytes = median([...fleet.acked.values()].map((a) => a.bytes));
    progress(`${scope}, ${n} proxies: all in sync after ${Math.round(initialSyncMs)} ms; applying ${o.changes} BackendPolicy changes`);
    const propagation: number[] = [];
    const ackP50: number[] = [];
    const changeBytes: number[] = [];
    let changeDeltas = 0;
    let changeLines = 0;
    let seesAll = 0;
    for (let c = 0; c < o.changes; c++) {
      const before = fleet.newest();
      const put = await cp.api('PUT', '/v1/resources/backendpolicies/default/bench-policy', policy(1_000 + ++round.k));
      const answered = now();
      if (put.status !== 200) throw new Error(`PUT BackendPolicy: ${put.status} ${JSON.stringify(put.body)}`);
      const times = await fleet.until(n, before, 120_000, progress);
      propagation.push(Math.max(...times) - answered);
      ackP50.push(median(times) - answered);
      const got = [...fleet.acked.values()].filter((a) => Number(a.version) > before);
      changeBytes.push(median(got.map((a) => a.bytes)));
      changeDeltas += got.filter((a) => a.kind === 'delta').length;
      changeLines += got.length;
      // The control plane's own view (GET /v1/proxies) must agree that every stream is in sync.
      const seen = now();
      for (;;) {
        const { body } = await cp.api<{ items: { id: string; connected: boolean; inSync: boolean }[] }>('GET', '/v1/proxies');
        const mine = body.items.filter((p) => p.connected && p.id.startsWith(`sim-${scope}-${n}-`));
        if (mine.length === n && mine.every((p) => p.inSync)) break;
        if (now() - seen > 30_000) throw new Error(`control plane never listed all ${n} proxies in sync`);
        await sleep(20);
      }
      seesAll = Math.max(seesAll, now() - answered);
      await sleep(300);
    }
    const mem = readMemory(cp.proc.pid);
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
  const registerSeconds = await registerAll(cp, o, progress);
  const put = await cp.api('PUT', '/v1/resources/backendpolicies/default/bench-policy', policy(1_000));
  if (put.status !== 201 && put.status !== 200) throw new Error(`creating BackendPolicy: ${put.status} ${JSON.stringify(put.body)}`);
  return { cp, registerSeconds, rssAfterRegisterMiB: mib(readMemory(cp.proc.pid)?.rssKiB ?? 0) };
}

export async function runControlPlaneBench(o: ControlPlaneBenchOptions, progress: (m: string) => void): Promise<ControlPlaneResult> {
  const endpoints = o.services * o.instancesPerService;
  const registered: { seconds: number; rss: number }[] = [];
  const scenarios: ScenarioResult[] = [];
  const round = { k: 0 };
  // Each scenario gets its own control plane: a cold start for every fleet, and a peak RSS of its own.
  for (const scope of o.scopes) {
    for (const n of o.proxies) {
      const { cp, registerSeconds, rssAfterRegisterMiB } = await preparedControlPlane(o, progress);
      registered.push({ seconds: registerSeconds, rss: rssAfterRegisterMiB });
      try {
        progress(`${scope} scope: connecting ${n} simulated proxies`);
        const s = await scenario(cp, o, scope, n, round, progress);
        scenarios.push(s);
        progress(`${scope}, ${n} proxies: change reached all in ${s.propagationMs.join(' / ')} ms (${s.changeDeltas}/${s.changeLines} as deltas of ${s.changeBytes} bytes; first snapshot ${s.snapshotBytes} bytes); control plane RSS ${s.rssMiB} MiB (peak ${s.hwmMiB})`);
      } finally {
        await cp.proc.stop();
      }
    }
  }
  const seconds = median(registered.map((r) => r.seconds));
  return {
    endpoints,
    services: o.services,
    registerSeconds: Math.round(seconds * 10) / 10,
    registerPerSecond: Math.round(endpoints / seconds),
    rssAfterRegisterMiB: median(registered.map((r) => r.rss)),
    scenarios,
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
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: v } = parseArgs({ options: { proxies: { type: 'string' }, scopes: { type: 'string' }, changes: { type: 'string' }, help: { type: 'boolean' } } });
  if (v.help) {
    console.log(`node bench/control-plane.ts [--proxies ${CONTROL_DEFAULTS.proxies.join(',')}] [--scopes ${CONTROL_DEFAULTS.scopes.join(',')}] [--changes ${CONTROL_DEFAULTS.changes}]\nPrints the result as JSON on stdout, progress on stderr.`);
    process.exit(0);
  }
  const o: ControlPlaneBenchOptions = {
    ...CONTROL_DEFAULTS,
    proxies: v.proxies ? v.proxies.split(',').map(Number) : CONTROL_DEFAULTS.proxies,
    scopes: v.scopes ? (v.scopes.split(',') as ('full' | 'scoped')[]) : CONTROL_DEFAULTS.scopes,
    changes: v.changes ? Number(v.changes) : CONTROL_DEFAULTS.changes,
  };
  process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    console.log(JSON.stringify(await runControlPlaneBench(o, (m) => console.error(`[control] ${m}`)), null, 2));
  } finally {
    await stopAll();
  }
}

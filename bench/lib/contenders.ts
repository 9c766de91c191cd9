// The contenders of the one-hop HTTP/1.1 comparison. Each starts fresh every round on the proxy CPU
// in front of the shared upstream, says where the load goes (port, Host), which processes' memory
// counts, and how to stop it.

import path from 'node:path';
import { benchDir, freePort, nodeBin, spawnPinned, waitForPort, type BenchProcess } from './processes.ts';
import { haproxyConfig, nginxProxyConfig } from './configs.ts';
import { readMemory, readTree, type Memory } from './rss.ts';
import { registerInstance, scrapeRequests, settleInstances, startSidecar, waitRoutes, type WeftControl } from './weft.ts';

export interface BenchEnv {
  readonly upstreamPort: number;
  readonly proxyCpu: string;
  /** The control plane the weft contenders use (started once, idle during the load). */
  weft(): Promise<WeftControl>;
}

export interface RunningContender {
  readonly port: number;
  readonly hostHeader?: string;
  /** Memory of the processes under test, by role. */
  memory(): (Memory & { role: string })[];
  /** Roles summed into the table's figure (nginx: the worker only); absent: all of them. */
  readonly headlineRoles?: readonly string[];
  /** Anything the contender itself can tell after the load (weft: its request counters). */
  selfReport?(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface Contender {
  readonly id: string;
  readonly label: string;
  readonly note?: string;
  /**
   * 'all': the multi-core comparison. The proxy and the load generator may use every CPU (the
   * upstream stays on the load CPU), so the proxy can use more than one core if it can.
   */
  readonly cpus?: 'all';
  start(env: BenchEnv): Promise<RunningContender>;
}

function single(proc: BenchProcess, port: number, role: string): RunningContender {
  return {
    port,
    memory() {
      const m = readMemory(proc.pid);
      return m ? [{ ...m, role }] : [];
    },
    stop: () => proc.stop(),
  };
}

const direct: Contender = {
  id: 'direct',
  label: 'direct (no proxy)',
  note: 'load generator straight to the upstream',
  start: async (env) => ({ port: env.upstreamPort, memory: () => [], stop: async () => {} }),
};

/**
 * One client-only sidecar in front of the upstream, registered by hand as `service` (default
 * `bench-upstream`); `resources` are applied before the sidecar starts (the routed contender's routes).
 */
async function startOneHop(env: BenchEnv, name: string, extra: string[] = [], service = 'bench-upstream', resources: unknown[] = []): Promise<RunningContender> {
  const cp = await env.weft();
  await registerInstance(cp, service, `${service}-1`, env.upstreamPort);
  if (resources.length > 0) {
    const r = await cp.api('POST', '/v1/apply', { items: resources });
    if (r.status !== 200) throw new Error(`applying ${resources.length} resources for ${name}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
  }
  const sc = await startSidecar(cp, name, 'bench-client', env.proxyCpu, extra);
  await waitRoutes(sc.outboundPort, service);
  return {
    ...single(sc.proc, sc.outboundPort, 'sidecar'),
    hostHeader: service,
    selfReport: async () => ({ sidecar: await scrapeRequests(sc.adminPort) }),
  };
}

const weftSidecar: Contender = {
  id: 'weft-sidecar',
  label: 'weft sidecar (one hop)',
  note: 'client → weft outbound (Host: bench-upstream) → upstream registered by hand',
  start: (env) => startOneHop(env, 'weft-sidecar'),
};

/** The routed one-hop contender's table: 50 HTTPRoutes of 5 rules each, on the Service it calls. */
export const BENCH_ROUTES = 50;
export const BENCH_RULES = 5;

/**
 * HTTPRoutes attached to `service`: every rule but the very last matches a header no bench request
 * carries, half of them under the request's own path (`/`) and half under a path prefix of their
 * own, so a request to `/` must get past all of them before it matches the last route's last rule
 * (a catch-all). Header canaries under `/` are what a real route table holds most of.
 */
export function benchRoutes(service: string): unknown[] {
  return Array.from({ length: BENCH_ROUTES }, (_, i) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: `bench-route-${String(i).padStart(2, '0')}`, namespace: 'default' },
    spec: {
      parentRefs: [{ kind: 'Service', name: service }],
      rules: Array.from({ length: BENCH_RULES }, (_, j) =>
        i === BENCH_ROUTES - 1 && j === BENCH_RULES - 1
          ? { name: 'catch-all', backendRefs: [{ name: service, port: 80 }] }
          : { name: `rule-${j}`, matches: [{ path: { type: 'PathPrefix', value: i % 2 === 0 ? '/' : `/route-${i}/rule-${j}` }, headers: [{ name: `x-bench-route-${i % 5}`, value: `${i}-${j}` }] }], backendRefs: [{ name: service, port: 80 }] },
      ),
    },
  }));
}

const weftSidecarRoutes: Contender = {
  id: 'weft-sidecar-routes',
  label: `weft sidecar (one hop), ${BENCH_ROUTES} HTTPRoutes × ${BENCH_RULES} rules`,
  note: `as weft-sidecar, with ${BENCH_ROUTES} HTTPRoutes of ${BENCH_RULES} rules each attached to the Service called; every request matches only the last rule`,
  start: (env) => startOneHop(env, 'weft-sidecar-routes', [], 'bench-routed', benchRoutes('bench-routed')),
};

/** The one-hop sidecar with N worker threads, for the multi-core comparison. */
function weftSidecarWorkers(workers: number): Contender {
  return {
    id: `weft-sidecar-${workers}w`,
    label: `weft sidecar, --workers ${workers}, all CPUs`,
    note: `as weft-sidecar, with ${workers} thread(s) carrying traffic; proxy and wrk share every CPU`,
    cpus: 'all',
    start: (env) => startOneHop(env, `weft-sidecar-${workers}w`, ['--workers', String(workers)]),
  };
}

/** MeshConfig mtls.mode for the mesh contenders; the default (PERMISSIVE) means sidecars talk mutual TLS. */
async function setMtlsMode(cp: WeftControl, mode: 'PERMISSIVE' | 'DISABLE'): Promise<void> {
  const r = await cp.api('POST', '/v1/apply', { items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh', namespace: 'default' }, spec: { mtls: { mode } } }] });
  if (r.status !== 200) throw new Error(`could not set mtls.mode ${mode}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Client sidecar → server sidecar → upstream; `mode` DISABLE takes mutual TLS out, to show what it costs. */
async function startMesh(env: BenchEnv, mode: 'PERMISSIVE' | 'DISABLE'): Promise<RunningContender> {
  const cp = await env.weft();
  // Set before the sidecars start, so their first snapshot already says it.
  await setMtlsMode(cp, mode);
  const suffix = mode === 'DISABLE' ? '-plaintext' : '';
  const server = await startSidecar(cp, `weft-mesh${suffix}-server`, 'bench-mesh', env.proxyCpu, ['--app-port', String(env.upstreamPort), '--ttl-seconds', '60']);
  await settleInstances(cp, 'bench-mesh', [server.id]);
  const client = await startSidecar(cp, `weft-mesh${suffix}-client`, 'bench-client', env.proxyCpu);
  await waitRoutes(client.outboundPort, 'bench-mesh');
  return {
    port: client.outboundPort,
    hostHeader: 'bench-mesh',
    memory() {
      return [
        { ...readMemory(client.proc.pid)!, role: 'client sidecar' },
        { ...readMemory(server.proc.pid)!, role: 'server sidecar' },
      ].filter((m) => m.pid);
    },
    selfReport: async () => ({ client: await scrapeRequests(client.adminPort), server: await scrapeRequests(server.adminPort) }),
    async stop() {
      await client.proc.stop();
      await server.proc.stop();
      await setMtlsMode(cp, 'PERMISSIVE');
    },
  };
}

const weftMesh: Contender = {
  id: 'weft-mesh',
  label: 'weft mesh path, mutual TLS',
  note: 'client → client sidecar outbound → mutual TLS (certificates from the control plane\'s CA) → server sidecar inbound → upstream; both sidecars on the proxy CPU',
  start: (env) => startMesh(env, 'PERMISSIVE'),
};

const weftMeshPlaintext: Contender = {
  id: 'weft-mesh-plaintext',
  label: 'weft mesh path, plaintext (mtls.mode DISABLE)',
  note: 'as weft-mesh with MeshConfig mtls.mode DISABLE: what mutual TLS costs',
  start: (env) => startMesh(env, 'DISABLE'),
};

const nginx: Contender = {
  id: 'nginx',
  label: 'nginx (1 worker, upstream keepalive)',
  async start(env) {
    const port = await freePort();
    const proc = spawnPinned('nginx', 'nginx', ['-e', 'stderr', '-c', nginxProxyConfig(port, env.upstreamPort)], { cpu: env.proxyCpu });
    await waitForPort(port, 20_000, proc);
    return {
      port,
      // Master first, then its worker: the worker carries the traffic, so it is the headline.
      memory: () => readTree(proc.pid).map((m, i) => ({ ...m, role: i === 0 ? 'master' : 'worker' })),
      headlineRoles: ['worker'],
      stop: () => proc.stop(),
    };
  },
};

const haproxy: Contender = {
  id: 'haproxy',
  label: 'HAProxy (nbthread 1, http-reuse always)',
  async start(env) {
    const port = await freePort();
    const proc = spawnPinned('haproxy', 'haproxy', ['-db', '-f', haproxyConfig(port, env.upstreamPort)], { cpu: env.proxyCpu });
    await waitForPort(port, 20_000, proc);
    return single(proc, port, 'haproxy');
  },
};

function nodePeer(id: string, label: string, script: string): Contender {
  return {
    id,
    label,
    async start(env) {
      const port = await freePort();
      const proc = spawnPinned(id, nodeBin, [path.join(benchDir, 'peers', script), String(port), String(env.upstreamPort)], { cpu: env.proxyCpu });
      await waitForPort(port, 20_000, proc);
      return single(proc, port, id);
    },
  };
}

/**
 * The runtime's floor: `hops` processes on the proxy CPU, each piping TCP bytes to the next (the last
 * to the upstream) with no HTTP at all. No Node proxy can use less memory or add less latency per hop.
 */
function nodeFloor(hops: 1 | 2): Contender {
  const id = hops === 1 ? 'node-floor' : 'node-floor-2hops';
  return {
    id,
    label: hops === 1 ? 'Node floor: TCP bytes piped, no HTTP (one hop)' : 'Node floor, two hops (two piping processes)',
    note: hops === 1 ? 'bench/peers/node-pipe.mjs: what any Node proxy costs at least' : 'two node-pipe processes in a row: the floor of the mesh path on this runtime',
    async start(env) {
      const procs: BenchProcess[] = [];
      let next = env.upstreamPort;
      for (let i = hops; i >= 1; i--) {
        const port = await freePort();
        const proc = spawnPinned(`${id}-${i}`, nodeBin, [path.join(benchDir, 'peers', 'node-pipe.mjs'), String(port), String(next)], { cpu: env.proxyCpu });
        procs.unshift(proc);
        await waitForPort(port, 20_000, proc);
        next = port;
      }
      return {
        port: next,
        memory: () => procs.map((p, i) => ({ ...readMemory(p.pid)!, role: `pipe ${i + 1}` })).filter((m) => m.pid),
        async stop() {
          for (const p of procs) await p.stop();
        },
      };
    },
  };
}

export const CONTENDERS: readonly Contender[] = [
  direct,
  weftSidecar,
  weftSidecarRoutes,
  weftMesh,
  weftMeshPlaintext,
  nginx,
  haproxy,
  nodePeer('node-http-proxy', 'node-http-proxy (keep-alive agent)', 'node-http-proxy.mjs'),
  nodePeer('fastify', 'fastify + @fastify/reply-from', 'fastify.mjs'),
  nodeFloor(1),
  nodeFloor(2),
  weftSidecarWorkers(1),
  weftSidecarWorkers(2),
];

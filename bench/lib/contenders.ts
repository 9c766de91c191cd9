// The contenders of the HTTP/1.1 comparison, one hop and mesh path. Each starts fresh every round on
// the proxy CPU in front of the shared upstream, says where the load goes (port, Host), which
// processes' memory counts, which table it belongs to, and how to stop it.

import { readFileSync, rmSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { benchDir, freePort, nodeBin, spawnPinned, waitForPort, workDir, type BenchProcess } from './processes.ts';
import { haproxyConfig, meshPeerConfig, nginxProxyConfig } from './configs.ts';
import { MESH_SERVER_NAME, meshCerts } from './mesh-certs.ts';
import { readMemory, readTree, type Memory } from './rss.ts';
import { registerInstance, scrapeRequests, settleInstances, startSidecar, waitRoutes, type Sidecar, type WeftControl } from './weft.ts';

export interface BenchEnv {
  readonly upstreamPort: number;
  readonly proxyCpu: string;
  /** Where the upstream and the load run; helpers of a contender that are not under test go there too (the OTLP sink). */
  readonly loadCpu: string;
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

/**
 * Which table a contender's row goes to: one proxy between client and upstream, the mesh path's two
 * (client side → server side), or the multi-core comparison. `direct` is the baseline of both.
 */
export type ContenderGroup = 'baseline' | 'one-hop' | 'mesh' | 'multi-core';

export interface Contender {
  readonly id: string;
  readonly label: string;
  readonly note?: string;
  readonly group: ContenderGroup;
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
  group: 'baseline',
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
  group: 'one-hop',
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
  group: 'one-hop',
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
    group: 'multi-core',
    start: (env) => startOneHop(env, `weft-sidecar-${workers}w`, ['--workers', String(workers)]),
  };
}

/** The mesh's one MeshConfig as every contender but the observed and bare ones runs (all defaults: mutual TLS PERMISSIVE). */
const DEFAULT_MESH_CONFIG = { mtls: { mode: 'PERMISSIVE' } };

/** Replaces the mesh's MeshConfig `spec` (before a contender's sidecars start, so their first snapshot says it). */
async function setMeshConfig(cp: WeftControl, spec: Record<string, unknown>): Promise<void> {
  const r = await cp.api('POST', '/v1/apply', { items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh', namespace: 'default' }, spec }] });
  if (r.status !== 200) throw new Error(`could not apply MeshConfig ${JSON.stringify(spec)}: ${r.status} ${JSON.stringify(r.body)}`);
}

async function applyAll(cp: WeftControl, what: string, resources: readonly unknown[]): Promise<void> {
  if (!resources.length) return;
  const r = await cp.api('POST', '/v1/apply', { items: resources });
  if (r.status !== 200) throw new Error(`applying ${resources.length} resources for ${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
}

interface MeshOptions {
  /** Contender id: names the sidecars (and their logs). */
  readonly id: string;
  /** The server side's Service: each mesh row has its own, so one row's policies never reach another's. */
  readonly service: string;
  readonly mtls: 'PERMISSIVE' | 'DISABLE';
  /** Applied before the sidecars start (the features row's route and policies). */
  readonly resources?: readonly unknown[];
  /** Proves the row runs what it says before it is measured (throws if not). */
  readonly check?: (server: Sidecar) => Promise<void>;
}

/** Client sidecar → server sidecar → upstream; mtls DISABLE takes mutual TLS out, to show what it costs. */
async function startMesh(env: BenchEnv, o: MeshOptions): Promise<RunningContender> {
  const cp = await env.weft();
  await setMeshConfig(cp, { mtls: { mode: o.mtls } });
  await applyAll(cp, o.id, o.resources ?? []);
  const server = await startSidecar(cp, `${o.id}-server`, o.service, env.proxyCpu, ['--app-port', String(env.upstreamPort), '--ttl-seconds', '60']);
  await settleInstances(cp, o.service, [server.id]);
  const client = await startSidecar(cp, `${o.id}-client`, 'bench-client', env.proxyCpu);
  await waitRoutes(client.outboundPort, o.service);
  try {
    await o.check?.(server);
  } catch (err) {
    await client.proc.stop();
    await server.proc.stop();
    throw err;
  }
  return {
    port: client.outboundPort,
    hostHeader: o.service,
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
      await setMeshConfig(cp, DEFAULT_MESH_CONFIG);
    },
  };
}

/** The SPIFFE ID of the bench's client sidecars (service bench-client in namespace default). */
const CLIENT_IDENTITY = 'spiffe://weft.local/ns/default/svc/bench-client';
/** Far above any rate this bench reaches (RateLimitPolicy's largest allowed value): the buckets are checked, never empty. */
const NEVER_LIMITING = 1_000_000;

/**
 * The features the demo (examples/demo) runs, on the features row's own Service: an HTTPRoute
 * (a header-matched canary rule no bench request matches, then a weighted catch-all), an ALLOW
 * AuthorizationPolicy naming the client's SPIFFE ID (so every other caller would be refused), and an
 * inbound RateLimitPolicy with total and per-identity buckets too large ever to refuse a request.
 */
export function meshFeatureResources(service: string): unknown[] {
  const meta = (name: string) => ({ name, namespace: 'default' });
  const target = [{ kind: 'Service', name: service }];
  return [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: meta(`${service}-route`),
      spec: {
        parentRefs: [{ kind: 'Service', name: service, port: 80 }],
        rules: [
          { name: 'canary', matches: [{ headers: [{ name: 'x-canary', value: 'always' }] }], backendRefs: [{ name: service, port: 80 }] },
          { name: 'main', matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: service, port: 80, weight: 100 }] },
        ],
      },
    },
    {
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'AuthorizationPolicy',
      metadata: meta(`${service}-callers`),
      spec: { targetRefs: target, action: 'ALLOW', rules: [{ from: [{ principals: [CLIENT_IDENTITY] }], to: [{ methods: ['GET', 'HEAD'] }] }] },
    },
    {
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'RateLimitPolicy',
      metadata: meta(`${service}-limits`),
      spec: { targetRefs: target, direction: 'inbound', local: { total: { requestsPerSecond: NEVER_LIMITING, burst: NEVER_LIMITING }, identity: { requestsPerSecond: NEVER_LIMITING } } },
    },
  ];
}

/**
 * The AuthorizationPolicy is in force: a plaintext caller (no identity; PERMISSIVE lets it connect)
 * straight to the server sidecar's inbound listener is refused `403 authz-denied`.
 */
async function authorizationEnforced(server: Sidecar): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${server.inboundPort}/`);
  await res.arrayBuffer();
  const reason = res.headers.get('x-weft-reason');
  if (res.status !== 403 || reason !== 'authz-denied') throw new Error(`the features row's AuthorizationPolicy is not in force: an unauthenticated caller got ${res.status} ${reason ?? ''}, not 403 authz-denied`);
}

/** The mesh row the bars are computed from: the mesh as the demo runs it, features on. */
export const HEADLINE_MESH = 'weft-mesh-features';

const weftMeshFeatures: Contender = {
  id: HEADLINE_MESH,
  label: 'weft mesh path, mutual TLS + route, authorization, rate limit (headline)',
  note: 'as weft-mesh, with an HTTPRoute, an ALLOW AuthorizationPolicy naming the client and a never-limiting inbound RateLimitPolicy on the called Service, as the demo configures them; metrics on (as always)',
  group: 'mesh',
  start: (env) => startMesh(env, { id: HEADLINE_MESH, service: 'bench-mesh-features', mtls: 'PERMISSIVE', resources: meshFeatureResources('bench-mesh-features'), check: authorizationEnforced }),
};

const weftMesh: Contender = {
  id: 'weft-mesh',
  label: 'weft mesh path, mutual TLS only',
  note: 'client → client sidecar outbound → mutual TLS (certificates from the control plane\'s CA) → server sidecar inbound → upstream; both sidecars on the proxy CPU; no route or policy',
  group: 'mesh',
  start: (env) => startMesh(env, { id: 'weft-mesh', service: 'bench-mesh', mtls: 'PERMISSIVE' }),
};

const weftMeshBare: Contender = {
  id: 'weft-mesh-bare',
  label: 'weft mesh path, everything off (plaintext, no route or policy)',
  note: 'as weft-mesh with MeshConfig mtls.mode DISABLE: every optional feature off (metrics have no switch); against the headline it shows what the features cost',
  group: 'mesh',
  start: (env) => startMesh(env, { id: 'weft-mesh-bare', service: 'bench-mesh-bare', mtls: 'DISABLE' }),
};

/**
 * The one-hop sidecar with issue 15's observability on: access log lines for 1% of requests to a
 * file under bench/work, and traces sampled at 1% exported as OTLP/HTTP to a sink that discards
 * them (bench/peers/otlp-sink.mjs, on the load CPU). Reports the lines written and spans received.
 */
const weftSidecarObserved: Contender = {
  id: 'weft-sidecar-observed',
  label: 'weft sidecar (one hop), access log 1% + tracing 1%',
  note: 'as weft-sidecar, with MeshConfig accessLog (sampleRate 0.01, to a file) and tracing (sampleRate 0.01, OTLP/HTTP to a discarding sink)',
  group: 'one-hop',
  async start(env) {
    const cp = await env.weft();
    const dir = path.join(workDir, 'weft-sidecar-observed');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const accessLog = path.join(dir, 'access.log');
    const sinkPort = await freePort();
    const sink = spawnPinned('otlp-sink', nodeBin, [path.join(benchDir, 'peers', 'otlp-sink.mjs'), String(sinkPort)], { cpu: env.loadCpu });
    let hop: RunningContender | undefined;
    try {
      await waitForPort(sinkPort, 20_000, sink);
      await setMeshConfig(cp, {
        ...DEFAULT_MESH_CONFIG,
        accessLog: { enabled: true, sampleRate: 0.01, path: accessLog },
        tracing: { sampleRate: 0.01, otlpEndpoint: `http://127.0.0.1:${sinkPort}/v1/traces` },
      });
      hop = await startOneHop(env, 'weft-sidecar-observed');
    } catch (err) {
      await sink.stop();
      await setMeshConfig(cp, DEFAULT_MESH_CONFIG);
      throw err;
    }
    const started = hop;
    return {
      ...started,
      selfReport: async () => {
        // The batch exporter sends every second: give the last batch time to arrive.
        await new Promise((r) => setTimeout(r, 1_500));
        let lines = 0;
        try {
          lines = readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).length;
        } catch {
          /* no line written: reported as 0 */
        }
        const otlp = await fetch(`http://127.0.0.1:${sinkPort}/stats`).then((r) => r.json() as Promise<Record<string, number>>, (err: Error) => ({ [`sink unreachable: ${err.message}`]: 1 }));
        return { ...(await started.selfReport!()), observed: { 'access log lines': lines, ...Object.fromEntries(Object.entries(otlp).map(([k, n]) => [`otlp ${k}`, n])) } };
      },
      async stop() {
        await started.stop();
        await sink.stop();
        await setMeshConfig(cp, DEFAULT_MESH_CONFIG);
      },
    };
  },
};

const nginx: Contender = {
  id: 'nginx',
  label: 'nginx (1 worker, upstream keepalive)',
  group: 'one-hop',
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
  group: 'one-hop',
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
    group: 'one-hop',
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
    label: hops === 1 ? 'Node floor: TCP bytes piped, no HTTP (one hop)' : 'Node floor, two hops, plaintext (two piping processes)',
    note: hops === 1 ? 'bench/peers/node-pipe.mjs: what any Node proxy costs at least' : 'two node-pipe processes in a row, plaintext between them',
    group: hops === 1 ? 'one-hop' : 'mesh',
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

/** The Node floor of the mutual-TLS mesh path: the id the mesh bars compare with. */
export const NODE_TLS_FLOOR = 'node-floor-2hops-tls';

/**
 * The floor of the mutual-TLS mesh path on this runtime: two bench/peers/node-pipe-tls.mjs processes
 * on the proxy CPU, plaintext in → mutual TLS 1.3 (P-256, bench/work/mesh-certs) → plaintext to the
 * upstream, each client connection with its own TLS connection, no HTTP.
 */
const nodeFloorTls: Contender = {
  id: NODE_TLS_FLOOR,
  label: 'Node TLS floor: two piping processes, mutual TLS between them',
  note: 'bench/peers/node-pipe-tls.mjs client → mutual TLS 1.3, P-256 → node-pipe-tls.mjs server → upstream: what any Node mesh path costs at least',
  group: 'mesh',
  async start(env) {
    const certs = meshCerts();
    const serverPort = await freePort();
    const script = path.join(benchDir, 'peers', 'node-pipe-tls.mjs');
    const server = spawnPinned(`${NODE_TLS_FLOOR}-server`, nodeBin, [script, 'server', String(serverPort), String(env.upstreamPort), certs.dir, MESH_SERVER_NAME], { cpu: env.proxyCpu });
    const procs: BenchProcess[] = [server];
    const stop = async (): Promise<void> => {
      for (const p of procs) await p.stop();
    };
    try {
      await waitForPort(serverPort, 20_000, server);
      const port = await freePort();
      const client = spawnPinned(`${NODE_TLS_FLOOR}-client`, nodeBin, [script, 'client', String(port), String(serverPort), certs.dir, MESH_SERVER_NAME], { cpu: env.proxyCpu });
      procs.unshift(client);
      await waitForPort(port, 20_000, client);
      return {
        port,
        memory: () => procs.map((p, i) => ({ ...readMemory(p.pid)!, role: i === 0 ? 'client pipe' : 'server pipe' })).filter((m) => m.pid),
        stop,
      };
    } catch (err) {
      await stop();
      throw err;
    }
  },
};

/**
 * A C mesh path: two proxies (`bin`: nginx with one worker each, or HAProxy with one thread each) on
 * the proxy CPU, client side → mutual TLS 1.3 with P-256 certificates over pooled keep-alive
 * connections → server side → upstream, configured from the templates in bench/peers/.
 */
function cMesh(bin: 'nginx' | 'haproxy'): Contender {
  const id = `${bin}-mesh`;
  const ext = bin === 'nginx' ? 'conf' : 'cfg';
  return {
    id,
    label: bin === 'nginx' ? 'nginx mesh: two nginx, mutual TLS 1.3, keepalive + session reuse' : 'HAProxy mesh: two HAProxy, mutual TLS 1.3, http-reuse always',
    note: `bench/peers/${bin}-mesh-client.${ext} → mutual TLS 1.3 (P-256 certificates, bench/work/mesh-certs) → bench/peers/${bin}-mesh-server.${ext} → upstream; both on the proxy CPU`,
    group: 'mesh',
    async start(env) {
      const certs = meshCerts();
      const vars = { CERTS: certs.dir, SERVER_NAME: MESH_SERVER_NAME };
      const args = (file: string): string[] => (bin === 'nginx' ? ['-e', 'stderr', '-c', file] : ['-db', '-f', file]);
      const serverPort = await freePort();
      const serverFile = meshPeerConfig(`${bin}-mesh-server.${ext}`, `${id}-server`, { ...vars, PORT: serverPort, NEXT_PORT: env.upstreamPort });
      const server = spawnPinned(`${id}-server`, bin, args(serverFile), { cpu: env.proxyCpu });
      const procs: { side: string; proc: BenchProcess }[] = [{ side: 'server', proc: server }];
      const stop = async (): Promise<void> => {
        for (const p of procs) await p.proc.stop();
      };
      try {
        await waitForPort(serverPort, 20_000, server);
        const port = await freePort();
        const clientFile = meshPeerConfig(`${bin}-mesh-client.${ext}`, `${id}-client`, { ...vars, PORT: port, NEXT_PORT: serverPort });
        const client = spawnPinned(`${id}-client`, bin, args(clientFile), { cpu: env.proxyCpu });
        procs.unshift({ side: 'client', proc: client });
        await waitForPort(port, 20_000, client);
        return {
          port,
          // nginx: master then worker per side, the workers carry the traffic; HAProxy: one process per side.
          memory: () => procs.flatMap(({ side, proc }) => (bin === 'nginx' ? readTree(proc.pid).map((m, i) => ({ ...m, role: `${side} ${i === 0 ? 'master' : 'worker'}` })) : [{ ...readMemory(proc.pid)!, role: side }].filter((m) => m.pid))),
          headlineRoles: bin === 'nginx' ? ['client worker', 'server worker'] : undefined,
          stop,
        };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

/** Old ids still accepted by --only. */
export const CONTENDER_ALIASES: Readonly<Record<string, string>> = { 'weft-mesh-plaintext': 'weft-mesh-bare' };

export const CONTENDERS: readonly Contender[] = [
  direct,
  weftSidecar,
  weftSidecarRoutes,
  weftSidecarObserved,
  nginx,
  haproxy,
  nodePeer('node-http-proxy', 'node-http-proxy (keep-alive agent)', 'node-http-proxy.mjs'),
  nodePeer('fastify', 'fastify + @fastify/reply-from', 'fastify.mjs'),
  nodeFloor(1),
  weftMeshFeatures,
  weftMesh,
  weftMeshBare,
  cMesh('nginx'),
  cMesh('haproxy'),
  nodeFloor(2),
  nodeFloorTls,
  weftSidecarWorkers(1),
  weftSidecarWorkers(2),
];

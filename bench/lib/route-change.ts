// How long a route change takes to be in force everywhere: `weft apply` of an HTTPRoute change,
// then every client sidecar polled until its responses show the new route (a response header the
// route sets). Reported as the time until the last sidecar has it, per change, median and p90.

import http from 'node:http';
import { registerInstance, startSidecar, waitRoutes, type Sidecar, type WeftControl } from './weft.ts';
import { sleep } from './processes.ts';

export interface RouteChangeResult {
  readonly proxies: number;
  readonly changes: number;
  /** Per change: ms from the apply request to the last sidecar answering with the new route. */
  readonly samplesMs: readonly number[];
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly maxMs: number;
}

const SERVICE = 'bench-route-change';
const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

/** The value of the version header a GET through this sidecar gets back now. */
function versionVia(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host: SERVICE }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers['x-bench-route-version'] as string | undefined));
    });
    req.on('error', () => resolve(undefined));
  });
}

function route(version: number): unknown {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'bench-route-change', namespace: 'default' },
    spec: {
      parentRefs: [{ kind: 'Service', name: SERVICE }],
      rules: [{ filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'x-bench-route-version', value: String(version) }] } }], backendRefs: [{ name: SERVICE, port: 80 }] }],
    },
  };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Starts `proxies` client sidecars (as many as the demo runs) on `cpu`, then applies `changes`
 * route changes one after another through the API (what `weft apply` sends) and times each until
 * every sidecar serves it.
 */
export async function measureRouteChange(cp: WeftControl, upstreamPort: number, cpu: string, options: { proxies: number; changes: number }, log: (m: string) => void): Promise<RouteChangeResult> {
  await registerInstance(cp, SERVICE, 'upstream-route-change', upstreamPort);
  const sidecars: Sidecar[] = [];
  try {
    for (let i = 0; i < options.proxies; i++) sidecars.push(await startSidecar(cp, `weft-route-change-${i}`, `bench-rc-client-${i}`, cpu));
    await Promise.all(sidecars.map((s) => waitRoutes(s.outboundPort, SERVICE)));
    const samples: number[] = [];
    for (let version = 1; version <= options.changes; version++) {
      const started = performance.now();
      const applied = await cp.api('POST', '/v1/apply', { items: [route(version)] });
      if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body)}`);
      const want = String(version);
      const seen = await Promise.all(
        sidecars.map(async (s) => {
          const deadline = started + 10_000;
          while (performance.now() < deadline) {
            if ((await versionVia(s.outboundPort)) === want) return performance.now() - started;
            await sleep(1);
          }
          throw new Error(`sidecar ${s.id} did not serve route version ${want} within 10 s`);
        }),
      );
      samples.push(Math.round(Math.max(...seen) * 10) / 10);
      log(`route change ${version}/${options.changes}: in force in all ${sidecars.length} sidecars after ${samples[samples.length - 1]} ms`);
      await sleep(200);
    }
    const sorted = [...samples].sort((a, b) => a - b);
    return { proxies: sidecars.length, changes: samples.length, samplesMs: samples, medianMs: quantile(sorted, 0.5), p90Ms: quantile(sorted, 0.9), maxMs: sorted[sorted.length - 1] };
  } finally {
    await Promise.all(sidecars.map((s) => s.proc.stop()));
    await cp.api('DELETE', '/v1/resources/httproutes/default/bench-route-change');
  }
}

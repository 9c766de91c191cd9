// A mesh for integration tests: a real control plane process and real sidecar processes, with
// helpers to read the API and to wait for the state a scenario needs.

import { freePort, spawnWeft, tempDir, waitFor, type WeftProcess } from './processes.ts';

export interface ControlPlaneProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly process: WeftProcess;
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  restart(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number>;
  cleanup(): Promise<void>;
}

export async function startControlPlane(extraArgs: string[] = []): Promise<ControlPlaneProcess> {
  const dir = await tempDir('weft-cp-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let proc = spawnWeft(['control', '--listen', `127.0.0.1:${port}`, '--data-dir', dir.path, ...extraArgs]);
  await proc.waitForOutput(/listening on/);
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    url,
    port,
    dataDir: dir.path,
    get process() {
      return proc;
    },
    api,
    async restart() {
      proc = spawnWeft(['control', '--listen', `127.0.0.1:${port}`, '--data-dir', dir.path, ...extraArgs]);
      await proc.waitForOutput(/listening on/);
    },
    stop: (signal) => proc.stop(signal),
    async cleanup() {
      await proc.stop('SIGKILL');
      await dir.remove();
    },
  };
}

export interface SidecarProcess {
  readonly process: WeftProcess;
  readonly id: string;
  readonly outboundPort: number;
  readonly inboundPort: number | undefined;
  readonly adminPort: number;
}

/** Starts `weft proxy` on free ports and waits until it has its first snapshot. */
export async function startSidecar(controlUrl: string, service: string, extra: string[] = []): Promise<SidecarProcess> {
  const proc = spawnWeft(['proxy', '--control', controlUrl, '--service', service, '--outbound-port', '0', '--inbound-port', '0', '--admin-port', '0', '--drain-ms', '300', ...extra]);
  const m = await proc.waitForOutput(/(\{"event":"ready-to-serve".*\})/);
  const info = JSON.parse(m[1]) as { id: string; outboundPort: number; inboundPort?: number; adminPort: number };
  await waitFor(`sidecar ${info.id} ready`, async () => (await fetch(`http://127.0.0.1:${info.adminPort}/ready`)).ok);
  return { process: proc, id: info.id, outboundPort: info.outboundPort, inboundPort: info.inboundPort, adminPort: info.adminPort };
}

/** Waits until the catalog lists `count` passing instances of a service. */
export function waitForPassing(cp: ControlPlaneProcess, service: string, count: number, timeoutMs = 15_000): Promise<unknown> {
  return waitFor(`${count} passing instance(s) of ${service}`, async () => {
    const { body } = await cp.api('GET', `/v1/catalog/instances?service=${service}`);
    return body.items.filter((i: { health: string }) => i.health === 'passing').length === count;
  }, timeoutMs);
}

/** Waits until every connected proxy acknowledged the current version. */
export function waitForInSync(cp: ControlPlaneProcess, expectedProxies: number, timeoutMs = 15_000): Promise<unknown> {
  return waitFor(`${expectedProxies} proxies in sync`, async () => {
    const { body } = await cp.api('GET', '/v1/proxies');
    const connected = body.items.filter((p: { connected: boolean }) => p.connected);
    return connected.length === expectedProxies && connected.every((p: { inSync: boolean }) => p.inSync);
  }, timeoutMs);
}

/** A sidecar's Prometheus text from its admin listener. */
export async function adminMetrics(adminPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics on admin port ${adminPort}: ${res.status}`);
  return res.text();
}

/** The value of one series (name and labels exactly as rendered) in Prometheus text; 0 when absent. */
export function metricSample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

// A mesh for integration tests: a real control plane process and real sidecar processes, with
// helpers to read the API and to wait for the state a scenario needs. Authentication is on, as in
// production: the harness reads the bootstrap admin token the control plane writes, calls the API
// with it, and gives each sidecar a join token for its service.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, spawnWeft, tempDir, waitFor, type WeftProcess } from './processes.ts';

export interface ControlPlaneProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly process: WeftProcess;
  /** The admin token the API calls use (undefined with --insecure). */
  readonly adminToken: string | undefined;
  /** The API as an admin (or anonymously with --insecure). */
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** The API with another Authorization header (`null`: none). */
  apiAs<T = any>(authorization: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** A join token for a service (`weft token create --service`). */
  joinToken(service: string, namespace?: string, ttlSeconds?: number): Promise<string>;
  /** An admin token of a role. */
  createAdminToken(role: 'admin' | 'read-only'): Promise<string>;
  restart(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number>;
  cleanup(): Promise<void>;
}

const controlPlanes = new Map<string, ControlPlaneProcess>();

/** The harness's control plane at `url`, if it started one there. */
export function controlPlaneAt(url: string): ControlPlaneProcess | undefined {
  return controlPlanes.get(url);
}

export async function startControlPlane(extraArgs: string[] = []): Promise<ControlPlaneProcess> {
  const dir = await tempDir('weft-cp-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let proc = spawnWeft(['control', '--listen', `127.0.0.1:${port}`, '--data-dir', dir.path, ...extraArgs]);
  await proc.waitForOutput(/listening on/);
  const tokenFlag = extraArgs.indexOf('--token');
  const adminToken = extraArgs.includes('--insecure')
    ? undefined
    : tokenFlag !== -1
      ? extraArgs[tokenFlag + 1]
      : (await readFile(path.join(dir.path, 'admin-token'), 'utf8')).trim();
  const apiAs = async (authorization: string | null, method: string, p: string, body?: unknown) => {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    if (authorization !== null) headers.authorization = authorization;
    const res = await fetch(url + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const api = (method: string, p: string, body?: unknown) => apiAs(adminToken === undefined ? null : `Bearer ${adminToken}`, method, p, body);
  const createToken = async (body: unknown): Promise<string> => {
    const res = await api('POST', '/v1/tokens', body);
    if (res.status !== 201) throw new Error(`POST /v1/tokens answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.token as string;
  };
  const cp: ControlPlaneProcess = {
    url,
    port,
    dataDir: dir.path,
    adminToken,
    get process() {
      return proc;
    },
    api,
    apiAs,
    joinToken: (service, namespace, ttlSeconds) => createToken({ service, namespace, ttlSeconds }),
    createAdminToken: (role) => createToken({ role }),
    async restart() {
      proc = spawnWeft(['control', '--listen', `127.0.0.1:${port}`, '--data-dir', dir.path, ...extraArgs]);
      await proc.waitForOutput(/listening on/);
    },
    stop: (signal) => proc.stop(signal),
    async cleanup() {
      controlPlanes.delete(url);
      await proc.stop('SIGKILL');
      await dir.remove();
    },
  };
  controlPlanes.set(url, cp);
  return cp;
}

/**
 * The flags that authenticate a sidecar of `service` to the harness's control plane at `controlUrl`:
 * a fresh join token, unless `extra` already names a credential or the control plane is insecure.
 */
export async function sidecarAuthArgs(controlUrl: string, service: string, extra: readonly string[] = []): Promise<string[]> {
  const cp = controlPlanes.get(controlUrl);
  if (!cp || cp.adminToken === undefined || extra.includes('--join-token') || extra.includes('--token')) return [];
  const nsFlag = Math.max(extra.indexOf('--namespace'), extra.indexOf('-n'));
  return ['--join-token', await cp.joinToken(service, nsFlag === -1 ? undefined : extra[nsFlag + 1])];
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
  const auth = await sidecarAuthArgs(controlUrl, service, extra);
  const proc = spawnWeft(['proxy', '--control', controlUrl, '--service', service, '--outbound-port', '0', '--inbound-port', '0', '--admin-port', '0', '--drain-ms', '300', ...auth, ...extra]);
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

/**
 * Waits until every proxy connected to this control plane acknowledged the current version
 * (replicas on etcd also list the other replicas' proxies, with their `replica`: not counted).
 */
export function waitForInSync(cp: ControlPlaneProcess, expectedProxies: number, timeoutMs = 15_000): Promise<unknown> {
  return waitFor(`${expectedProxies} proxies in sync`, async () => {
    const { body } = await cp.api('GET', '/v1/proxies');
    const connected = body.items.filter((p: { connected: boolean; replica?: string }) => p.connected && (p.replica === undefined || p.replica === cp.url));
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

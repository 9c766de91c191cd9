// weft for the bench: `weft control` and `weft proxy` processes (run as bin/weft runs them), pinned,
// instances registered by hand through the API, sidecars waited on until they route, and scraped for
// their own count of what they answered (weft_proxy_requests_total by code and reason).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort, nodeBin, repoRoot, sleep, spawnPinned, waitForPort, workDir, type BenchProcess } from './processes.ts';

let builtEntry: string | undefined;

/** What bin/weft runs after `npm install`: the compiled dist/ (built here once per bench run, so it is never stale). */
function weftMain(): string {
  if (!builtEntry) {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: repoRoot, stdio: 'inherit' });
    builtEntry = path.join(repoRoot, 'dist', 'cli', 'main.js');
  }
  return builtEntry;
}

export interface WeftControl {
  readonly url: string;
  /** The bootstrap admin token the control plane was started with: the API and the sidecars' first certificates need it. */
  readonly token: string;
  readonly proc: BenchProcess;
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

export interface ControlOptions {
  /** More `weft control` flags (e.g. `--store etcd://…`, `--ca-cert`/`--ca-key` for replicas). */
  readonly args?: readonly string[];
  /** The bootstrap admin token; replicas share one (default: a fresh random one). */
  readonly token?: string;
}

/** A fresh `weft control` on `cpu` with its own data dir under bench/work/NAME, authenticated by a bootstrap token. */
export async function startWeftControl(name: string, cpu: string, options: ControlOptions = {}): Promise<WeftControl> {
  const dataDir = path.join(workDir, name, 'data');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  // What bin/weft runs, plus node flags when asked for (run.ts --control-node-flags, e.g. --cpu-prof).
  const flags = (process.env.WEFT_BENCH_CONTROL_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  // Authentication on, as a real mesh runs: a bootstrap admin token for the bench's own API calls,
  // which also gets each bench sidecar its first certificate.
  const token = options.token ?? newBenchToken();
  const proc = spawnPinned(name, nodeBin, [...flags, weftMain(), 'control', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--token', token, ...(options.args ?? [])], { cpu, env: { WEFT_LOG_LEVEL: 'warn' } });
  await proc.waitForOutput(/listening on/, 30_000);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    token,
    proc,
    async api(method, p, body) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}

/** A random bootstrap admin token, for one control plane or for replicas that share it. */
export function newBenchToken(): string {
  return `bench-${randomBytes(16).toString('hex')}`;
}

/**
 * An operator CA (P-256 root made with openssl, as docs/concepts/security.md describes) under
 * bench/work/NAME, for replicas that must sign with one CA whether or not they share weft's own
 * through the store. Returns the `weft control` flags that use it.
 */
export function benchOperatorCa(name: string): string[] {
  const dir = path.join(workDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const key = path.join(dir, 'ca.key');
  const cert = path.join(dir, 'ca.pem');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], { stdio: ['ignore', 'ignore', 'pipe'] });
  chmodSync(key, 0o600);
  execFileSync('openssl', ['req', '-x509', '-new', '-key', key, '-subj', '/O=weft bench operator CA', '-days', '2', '-out', cert,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return ['--ca-cert', cert, '--ca-key', key];
}

/** Registers an app by hand (no sidecar, no TTL): the control plane lists it as passing until removed. */
export async function registerInstance(cp: WeftControl, service: string, id: string, port: number): Promise<void> {
  const r = await cp.api('POST', '/v1/catalog/instances', { service, id, address: '127.0.0.1', port, ttlSeconds: 0 });
  if (r.status !== 200 && r.status !== 201) throw new Error(`registering ${service}/${id}: ${r.status} ${JSON.stringify(r.body)}`);
}

export interface Sidecar {
  readonly proc: BenchProcess;
  readonly id: string;
  readonly outboundPort: number;
  readonly inboundPort: number | undefined;
  readonly adminPort: number;
}

export async function startSidecar(cp: WeftControl, name: string, service: string, cpu: string, extra: string[] = []): Promise<Sidecar> {
  // What bin/weft runs, plus node flags for profiling when asked for
  // (run.ts --weft-node-flags, e.g. --cpu-prof or --trace-gc, which NODE_OPTIONS would refuse).
  const flags = (process.env.WEFT_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const args = [...flags, weftMain(), 'proxy', '--control', cp.url, '--token', cp.token, '--service', service, '--id', name, '--outbound-port', '0', '--inbound-port', '0', '--admin-port', '0', '--drain-ms', '0', ...extra];
  // Extra environment for the sidecar when asked for (WEFT_BENCH_ENV="K=V K2=V2", e.g. malloc tunables).
  const extraEnv = Object.fromEntries((process.env.WEFT_BENCH_ENV ?? '').split(' ').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const proc = spawnPinned(name, nodeBin, args, { cpu, env: { WEFT_LOG_LEVEL: 'warn', ...extraEnv } });
  const m = await proc.waitForOutput(/(\{"event":"ready-to-serve".*\})/, 30_000);
  const info = JSON.parse(m[1]) as { id: string; outboundPort: number; inboundPort?: number; adminPort: number };
  // Ready means it holds its first snapshot: probing before that would only count 503 no-snapshot.
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`http://127.0.0.1:${info.adminPort}/ready`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline || proc.exited()) throw new Error(`sidecar ${name} never became ready:\n${proc.output().slice(-2000)}`);
    await sleep(50);
  }
  return { proc, id: info.id, outboundPort: info.outboundPort, inboundPort: info.inboundPort, adminPort: info.adminPort };
}

/** One GET with a chosen Host header (fetch would not let us set it). */
function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** Waits until a GET with this Host through the sidecar's outbound listener answers 200. */
export async function waitRoutes(port: number, host: string, timeoutMs = 20_000): Promise<void> {
  await waitForPort(port, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const res = await get(port, host).catch((err: Error) => ({ status: 0, body: err.message }));
    last = `${res.status} ${res.body.slice(0, 200)}`;
    if (res.status === 200) return;
    await sleep(100);
  }
  throw new Error(`no 200 for Host ${host} through 127.0.0.1:${port} after ${timeoutMs}ms; last answer: ${last}`);
}

/** Waits until the catalog lists exactly `ids` (passing) for a service, removing any others. */
export async function settleInstances(cp: WeftControl, service: string, ids: readonly string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await cp.api<{ items: { id: string; namespace: string; health: string }[] }>('GET', `/v1/catalog/instances?service=${service}`);
    for (const stale of body.items.filter((i) => !ids.includes(i.id))) {
      await cp.api('DELETE', `/v1/catalog/instances/${stale.namespace}/${service}/${stale.id}`);
    }
    const passing = body.items.filter((i) => ids.includes(i.id) && i.health === 'passing').length;
    if (passing === ids.length && body.items.length === ids.length) return;
    if (Date.now() > deadline) throw new Error(`catalog for ${service} never settled on ${ids.join(', ')}: ${JSON.stringify(body.items)}`);
    await sleep(100);
  }
}

/**
 * The sidecar's own count of what it answered, by direction, code and reason, and of its inbound
 * connections by security (mtls, plaintext…) and of the snapshots it applied (a snapshot applied while
 * measuring costs the sidecar CPU): proof of what the mesh path really ran (from /metrics).
 */
export async function scrapeRequests(adminPort: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    for (const line of text.split('\n')) {
      const m = /^weft_proxy_(requests_total|upstream_retries_total|inbound_connections_total|config_updates_total)\{(.*)\} (\S+)$/.exec(line);
      if (!m) continue;
      const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      const key = m[1] === 'requests_total'
        ? `${labels.direction} ${labels.code}${labels.reason ? ` ${labels.reason}` : ''}`
        : m[1] === 'inbound_connections_total' ? `inbound connections ${labels.security}`
        : m[1] === 'config_updates_total' ? `snapshots ${labels.result}` : `retry ${labels.reason}`;
      out[key] = (out[key] ?? 0) + Number(m[3]);
    }
  } catch (err) {
    out[`scrape failed: ${String(err)}`] = 1;
  }
  return out;
}

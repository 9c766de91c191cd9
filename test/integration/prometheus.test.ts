// Bar (issue 15 item 4): Prometheus, for real. A real `prometheus` (Debian's package) finds the
// mesh's sidecars through the control plane's http_sd endpoint (with a read-only bearer token),
// scrapes them every second, and answers a request rate through its own HTTP API. The metric names
// it collected follow weft_<area>_<what>_<unit>, and their label sets stay bounded.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, steadyTraffic, type EchoServer } from '../support/upstreams.ts';
import { freePort, stopAll, tempDir, waitFor } from '../support/processes.ts';

const hasPrometheus = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

let cp: ControlPlaneProcess;
let echo: EchoServer;
let server: SidecarProcess;
let client: SidecarProcess;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let promUrl = '';
let dir: { path: string; remove(): Promise<void> } | undefined;

before(async () => {
  if (!hasPrometheus) return;
  cp = await startControlPlane();
  echo = await startEcho('catalog');
  server = await startSidecar(cp.url, 'catalog', ['--app-port', String(echo.port), '--zone', 'z1', '--region', 'r1']);
  client = await startSidecar(cp.url, 'frontend');
  await waitForPassing(cp, 'catalog', 1);
  await waitForInSync(cp, 2);

  dir = await tempDir('weft-prometheus-');
  const tokenFile = path.join(dir.path, 'token');
  await writeFile(tokenFile, await cp.createAdminToken('read-only'), { mode: 0o600 });
  const config = path.join(dir.path, 'prometheus.yml');
  await writeFile(config, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: weft',
    '    http_sd_configs:',
    `      - url: ${cp.url}/v1/prometheus/targets`,
    '        refresh_interval: 1s',
    '        authorization:',
    '          type: Bearer',
    `          credentials_file: ${tokenFile}`,
    '',
  ].join('\n'));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir.path, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stdout!.on('data', (c: Buffer) => (prometheusLog += c.toString()));
  prometheus.stderr!.on('data', (c: Buffer) => (prometheusLog = (prometheusLog + c.toString()).slice(-20_000)));
  await waitFor('prometheus ready', async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok, 60_000, 250).catch((err) => {
    throw new Error(`${(err as Error).message}\n${prometheusLog}`);
  });
});

after(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
  }
  await stopAll();
  await echo?.close();
  await cp?.cleanup();
  await dir?.remove();
});

async function promApi<T = any>(p: string): Promise<T> {
  const res = await fetch(`${promUrl}${p}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  assert.equal(body.status, 'success', `${p}: ${body.error}`);
  return body.data;
}

test('the control plane lists every sidecar for Prometheus, and only with a credential', { skip: !hasPrometheus && 'prometheus is not installed (apt-get install prometheus)' }, async () => {
  assert.equal((await cp.apiAs(null, 'GET', '/v1/prometheus/targets')).status, 401);
  const { status, body } = await cp.api('GET', '/v1/prometheus/targets');
  assert.equal(status, 200);
  const byService = new Map((body as { targets: string[]; labels: Record<string, string> }[]).map((g) => [g.labels.service, g]));
  assert.deepEqual(byService.get('catalog'), { targets: [`127.0.0.1:${server.adminPort}`], labels: { __metrics_path__: '/metrics', service: 'catalog', namespace: 'default', proxy_id: server.id, zone: 'z1', region: 'r1' } });
  assert.deepEqual(byService.get('frontend')?.targets, [`127.0.0.1:${client.adminPort}`]);
});

test('a real Prometheus discovers the sidecars, scrapes them and answers a request rate', { skip: !hasPrometheus && 'prometheus is not installed (apt-get install prometheus)' }, async () => {
  const up = await waitFor('prometheus to scrape both sidecars', async () => {
    const data = await promApi<{ activeTargets: { health: string; labels: Record<string, string>; lastError: string }[] }>('/api/v1/targets');
    const healthy = data.activeTargets.filter((t) => t.health === 'up');
    return healthy.length === 2 ? data.activeTargets : undefined;
  }, 60_000, 500).catch(async (err) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(await promApi('/api/v1/targets'))}\n${prometheusLog.slice(-3000)}`);
  });
  const catalogTarget = up.find((t) => t.labels.service === 'catalog')!;
  assert.equal(catalogTarget.labels.proxy_id, server.id);
  assert.equal(catalogTarget.labels.zone, 'z1');
  assert.equal(catalogTarget.labels.namespace, 'default');

  const traffic = steadyTraffic(client.outboundPort, 'http://catalog/', { workers: 2, pauseMs: 10 });
  try {
    const rate = await waitFor('a request rate through Prometheus', async () => {
      const data = await promApi<{ result: { value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent('sum(rate(weft_proxy_requests_total[15s]))')}`);
      const v = Number(data.result[0]?.value[1] ?? 0);
      return v > 0 ? v : undefined;
    }, 60_000, 500);
    assert.ok(rate > 0);
    // Per service, with the discovery labels attached to the sidecars' own.
    const per = await waitFor('the rate by direction and service', async () => {
      const data = await promApi<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent('sum by (service, direction) (rate(weft_proxy_requests_total[15s]))')}`);
      const keys = data.result.filter((r) => Number(r.value[1]) > 0).map((r) => `${r.metric.service}/${r.metric.direction}`).sort();
      return keys.includes('catalog/inbound') && keys.includes('frontend/outbound') ? keys : undefined;
    }, 60_000, 500);
    assert.ok(per.length >= 2);
  } finally {
    await traffic.stop();
  }
  assert.ok((traffic.statuses['200'] ?? 0) > 0, JSON.stringify(traffic.statuses));
});

test('metric names follow weft_<area>_<what>_<unit> and label sets stay bounded', { skip: !hasPrometheus && 'prometheus is not installed (apt-get install prometheus)' }, async () => {
  const metadata = await waitFor('metric metadata', async () => {
    const m = await promApi<Record<string, { type: string }[]>>('/api/v1/metadata');
    return Object.keys(m).some((n) => n.startsWith('weft_proxy_requests_total')) ? m : undefined;
  }, 30_000, 500);
  const weft = Object.entries(metadata).filter(([name]) => name.startsWith('weft_'));
  assert.ok(weft.length >= 10, `${weft.length} weft metrics`);
  for (const [name, [{ type }]] of weft) {
    assert.match(name, /^weft_(proxy|control)_[a-z0-9]+(_[a-z0-9]+)*$/, name);
    if (type === 'counter') assert.match(name, /_total$/, `${name}: a counter ends in _total`);
    if (type === 'histogram') assert.match(name, /_(seconds|bytes)$/, `${name}: a histogram names its unit`);
  }
  // Bounded: no label whose values grow with requests, and few series per metric in this small mesh.
  const labels = await promApi<string[]>('/api/v1/labels');
  // (`endpoint` is allowed: weft_proxy_peak_ewma_score's endpoint ids are bounded by the snapshot's
  // endpoints and dropped when they leave; the series count below still bounds it.)
  for (const unbounded of ['path', 'url', 'request_id', 'trace_id', 'span_id', 'authority', 'user_agent', 'remote', 'address']) assert.ok(!labels.includes(unbounded), `label ${unbounded}`);
  const counts = await promApi<{ result: { metric: { __name__: string }; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent('count by (__name__) ({__name__=~"weft_.+"})')}`);
  assert.ok(counts.result.length >= 10);
  for (const c of counts.result) assert.ok(Number(c.value[1]) <= 200, `${c.metric.__name__}: ${c.value[1]} series`);
});

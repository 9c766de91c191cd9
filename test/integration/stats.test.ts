// Bar (issue 15 item 5): golden signals without Prometheus. Two sidecars carry steady traffic; their
// reports go up the config stream, and `weft stat -o json` agrees with the sidecars' own counters
// (/metrics) within one reporting interval; `weft top --once` prints the services; /v1/stats is
// authenticated (a read-only token suffices) and checks its query.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminMetrics, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { getViaProxy, steadyTraffic } from '../support/upstreams.ts';
import { stopAll, waitFor } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';
import type { StatsSummary } from '../../src/config/stats-report.ts';

const INTERVAL_MS = 500;
let cp: ControlPlaneProcess;
let app: http.Server;
let catalog: SidecarProcess;
let frontend: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  // The app: 500 on /fail, a little slow on /slow, 200 otherwise.
  app = http.createServer((req, res) => {
    if (req.url?.startsWith('/fail')) res.writeHead(500).end('failed');
    else if (req.url?.startsWith('/slow')) setTimeout(() => res.writeHead(200).end('slow'), 60);
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"catalog"}');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appPort = (app.address() as AddressInfo).port;
  catalog = await startSidecar(cp.url, 'catalog', ['--app-port', String(appPort), '--stats-interval-ms', String(INTERVAL_MS)]);
  // Two threads on the client: the report sums both threads' counters.
  frontend = await startSidecar(cp.url, 'frontend', ['--stats-interval-ms', String(INTERVAL_MS), '--workers', '2']);
  await waitForPassing(cp, 'catalog', 1);
  await waitForInSync(cp, 2);
});

after(async () => {
  await stopAll();
  await new Promise((r) => app?.close(r));
  await cp?.cleanup();
});

/** Requests and successes (below 500, no failure reason) a sidecar counted, from its /metrics. */
async function counted(adminPort: number, direction: 'inbound' | 'outbound', destination: string): Promise<{ requests: number; successes: number }> {
  let requests = 0;
  let successes = 0;
  for (const line of (await adminMetrics(adminPort)).split('\n')) {
    const m = /^weft_proxy_requests_total\{direction="(\w+)",source="[^"]*",destination_service="([^"]*)",code="(\d+)",reason="([^"]*)"\} (\d+)$/.exec(line);
    if (!m || m[1] !== direction || m[2] !== destination) continue;
    requests += Number(m[5]);
    if (Number(m[3]) < 500 && (m[4] === '' || m[4] === 'route-redirect')) successes += Number(m[5]);
  }
  return { requests, successes };
}

async function stat(args: string[] = []): Promise<StatsSummary> {
  const r = await runWeft(['stat', '--window', '600', '-o', 'json', ...args], { control: cp.url });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatsSummary;
}

test('weft stat agrees with the sidecars\' own counters within one reporting interval', async () => {
  const traffic = steadyTraffic(frontend.outboundPort, 'http://catalog/ok', { workers: 2, pauseMs: 5 });
  try {
    for (let i = 0; i < 10; i++) {
      assert.equal((await getViaProxy(frontend.outboundPort, `http://catalog/fail/${i}`)).status, 500);
      assert.equal((await getViaProxy(frontend.outboundPort, `http://catalog/slow/${i}`)).status, 200);
    }
    // While traffic flows: what the sidecars had counted is in the stats soon after (a few intervals on a busy machine).
    const before = await counted(frontend.adminPort, 'outbound', 'catalog.default');
    assert.ok(before.requests >= 20, JSON.stringify(before));
    const during = await waitFor('stats to catch up with the counters', async () => {
      const s = await stat();
      const edge = s.edges.find((e) => e.source === 'frontend.default' && e.destination === 'catalog.default');
      return edge !== undefined && edge.requests >= before.requests ? s : undefined;
    }, 20_000, 200);
    // ... and never ahead of them.
    const afterwards = await counted(frontend.adminPort, 'outbound', 'catalog.default');
    assert.ok(during.edges[0].requests <= afterwards.requests, `stats ${during.edges[0].requests} > counters ${afterwards.requests}`);
  } finally {
    await traffic.stop();
  }
  assert.ok(Object.keys(traffic.statuses).every((k) => k === '200'), JSON.stringify(traffic.statuses));

  // Traffic stopped: once the last report is in, the numbers are the counters, exactly.
  const server = await counted(catalog.adminPort, 'inbound', 'catalog.default');
  const client = await counted(frontend.adminPort, 'outbound', 'catalog.default');
  assert.equal(server.requests - server.successes, 10, 'the ten /fail requests');
  const s = await waitFor('stats equal to the counters', async () => {
    const x = await stat();
    const svc = x.services.find((v) => v.service === 'catalog.default');
    const edge = x.edges.find((e) => e.source === 'frontend.default' && e.destination === 'catalog.default');
    return svc?.requests === server.requests && edge?.requests === client.requests ? x : undefined;
  }, 20_000, 200);
  const svc = s.services.find((v) => v.service === 'catalog.default')!;
  const edge = s.edges.find((e) => e.destination === 'catalog.default')!;
  assert.equal(svc.successes, server.successes);
  assert.equal(edge.successes, client.successes);
  assert.equal(svc.proxies, 1);
  assert.ok(svc.successRate! < 1 && svc.successRate! > 0.5, String(svc.successRate));
  assert.equal(svc.successRate, Math.round((server.successes / server.requests) * 1e4) / 1e4);
  assert.ok(svc.rps > 0 && edge.rps > 0);
  for (const l of [svc.latencyMs, edge.latencyMs]) assert.ok(l.p50! > 0 && l.p50! <= l.p95! && l.p95! <= l.p99!, JSON.stringify(l));
  assert.equal(s.windowSeconds, 600);

  // SERVICE: the service and the calls it makes; --edges: edges only.
  const one = await stat(['frontend']);
  assert.deepEqual(one.services, [], 'frontend has no inbound listener: no service row');
  assert.deepEqual(one.edges.map((e) => e.destination), ['catalog.default']);
  const edgesOnly = await stat(['--edges']);
  assert.deepEqual(edgesOnly.services, []);
  assert.ok(edgesOnly.edges.length >= 1);
  const table = await runWeft(['stat'], { control: cp.url });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^SERVICE\s+SUCCESS\s+RPS\s+P50\s+P95\s+P99/m);
  assert.match(table.stdout, /^catalog\.default\s+\d+\.\d\d%/m);
});

test('weft top --once prints the busiest services and edges', async () => {
  // A short window: make sure there is traffic in it.
  for (let i = 0; i < 20; i++) await getViaProxy(frontend.outboundPort, `http://catalog/ok/${i}`);
  const r = await waitFor('top to show catalog', async () => {
    const x = await runWeft(['top', '--once', '--window', '600'], { control: cp.url });
    return x.code === 0 && /catalog\.default/.test(x.stdout) ? x : undefined;
  }, 20_000, 300);
  assert.match(r.stdout, /^weft top — last 600s/m);
  assert.match(r.stdout, /^catalog\.default\s/m);
  assert.match(r.stdout, /^frontend\.default\s+catalog\.default\s/m);
  assert.doesNotMatch(r.stdout, /\x1b\[/, '--once does not clear the screen');
});

test('/v1/stats needs a credential, a read-only token suffices, and a bad query is a 400 naming it', async () => {
  assert.equal((await cp.apiAs(null, 'GET', '/v1/stats')).status, 401);
  const readOnly = await cp.createAdminToken('read-only');
  const ok = await cp.apiAs(`Bearer ${readOnly}`, 'GET', '/v1/stats?service=catalog.default');
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.windowSeconds, 60);
  assert.ok(ok.body.services.every((s: { service: string }) => s.service === 'catalog.default'));
  const bad = await cp.api('GET', '/v1/stats?window=100000');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'WEFT_ERR_API_BAD_REQUEST');
  assert.equal(bad.body.error.details[0].path, 'window');
  const cli = await runWeft(['stat', 'Not_A_Service'], { control: cp.url });
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /WEFT_ERR_CLI_USAGE/);
  // The control plane counts the reports it took.
  const metrics = await (await fetch(`${cp.url}/metrics`)).text();
  assert.match(metrics, /^weft_control_stats_reports_total\{result="accepted"\} [1-9]/m);
});

test('a malformed stats report is dropped and counted; the stream stays up and a good one still counts', async () => {
  const req = http.request(`${cp.url}/v1/stream`, { method: 'POST', headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/x-ndjson' } });
  req.on('error', () => {});
  let lines = '';
  req.on('response', (res) => res.on('data', (c: Buffer) => (lines += c.toString())));
  try {
    req.write(JSON.stringify({ type: 'hello', node: { id: 'fake-reviews', service: 'reviews', namespace: 'default', labels: {}, upstreams: [], weftVersion: 'test' } }) + '\n');
    await waitFor('the snapshot', () => lines.includes('"type":"snapshot"'));
    const latency = Array.from({ length: 15 }, (_, i) => (i === 4 ? 7 : 0));
    req.write(JSON.stringify({ type: 'stats', intervalMs: 1000, edges: [{ direction: 'inbound', source: 'frontend.default', destination: 'reviews.default', requests: 7, successes: 9, latency }] }) + '\n');
    req.write(JSON.stringify({ type: 'stats', intervalMs: 1000, edges: [{ direction: 'inbound', source: 'frontend.default', destination: 'reviews.default', requests: 7, successes: 6, latency }] }) + '\n');
    const reviews = await waitFor('the good report in /v1/stats', async () => (await cp.api('GET', '/v1/stats?service=reviews.default')).body.services[0], 10_000, 200);
    assert.deepEqual([reviews.requests, reviews.successes, reviews.proxies], [7, 6, 1], 'only the good report counted');
    const metrics = await (await fetch(`${cp.url}/metrics`)).text();
    assert.match(metrics, /^weft_control_stats_reports_total\{result="rejected"\} 1$/m);
    const proxies = (await cp.api('GET', '/v1/proxies')).body.items as { id: string; connected: boolean }[];
    assert.equal(proxies.find((p) => p.id === 'fake-reviews')?.connected, true, 'the stream stays up');
    assert.doesNotMatch(lines, /"type":"error"/);
  } finally {
    req.destroy();
  }
});

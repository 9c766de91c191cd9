// Observability (issue 15 items 1–3, 6): a request through frontend → catalog → reviews (three
// apps behind sidecars, each copying x-request-id and traceparent onto its outbound call, as
// instrumented apps do) yields one trace of correctly linked spans from every sidecar, received
// over OTLP/HTTP; the access-log lines share its request and trace ids; `weft why` on a request
// that got a 503 names the reason and the endpoint tried.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll, waitFor } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';

interface App {
  port: number;
  /** The x-request-id and traceparent of the last request this app received. */
  seen: { requestId?: string; traceparent?: string }[];
  close(): Promise<void>;
}

/** GET `url` (absolute-form) through an outbound sidecar with `headers`. */
function viaSidecar(outboundPort: number, url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: outboundPort, path: url, headers: { host: new URL(url).host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * An app that records the ids it got and, when `next` is set, calls it through its own sidecar
 * (the port is set once that sidecar runs) with the same x-request-id and traceparent.
 */
async function startApp(name: string, next?: { url: string; sidecar: () => number }): Promise<App> {
  const app: App = { port: 0, seen: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    const requestId = req.headers['x-request-id'] as string | undefined;
    const traceparent = req.headers.traceparent as string | undefined;
    app.seen.push({ requestId, traceparent });
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (next === undefined) return answer(200, { name, requestId, traceparent });
    const headers: Record<string, string> = {};
    if (requestId) headers['x-request-id'] = requestId;
    if (traceparent) headers.traceparent = traceparent;
    viaSidecar(next.sidecar(), next.url, headers).then(
      (r) => answer(r.status, { name, requestId, next: JSON.parse(r.body) }),
      (err: Error) => answer(500, { name, error: err.message }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  app.port = (server.address() as AddressInfo).port;
  app.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return app;
}

/** A listening port, and a way to stop listening (the sidecar registers its app once the port accepts). */
async function briefApp(): Promise<{ port: number; stop(): Promise<void> }> {
  const s = net.createServer((socket) => socket.destroy());
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { port: (s.address() as AddressInfo).port, stop: () => new Promise<void>((r) => s.close(() => r())) };
}

let cp: ControlPlaneProcess;
let otlp: OtlpReceiver;
const apps: App[] = [];
let client: SidecarProcess;
let frontend: SidecarProcess;
let catalog: SidecarProcess;
let reviews: SidecarProcess;
let ghost: SidecarProcess;
/** Stops ghost's app; done just before the request, since its sidecar's heartbeats stop with it (then the TTL marks it critical). */
let stopGhost: () => Promise<void> = async () => {};

before(async () => {
  otlp = await startOtlpReceiver();
  cp = await startControlPlane();
  const reviewsApp = await startApp('reviews');
  const catalogApp = await startApp('catalog', { url: 'http://reviews/stars', sidecar: () => catalog.outboundPort });
  const frontendApp = await startApp('frontend', { url: 'http://catalog/items', sidecar: () => frontend.outboundPort });
  apps.push(reviewsApp, catalogApp, frontendApp);
  // `ghost`'s app is stopped once registered (no health check): its sidecar answers 503 upstream-connect-failure.
  const ghostApp = await briefApp();
  [client, frontend, catalog] = await Promise.all([
    startSidecar(cp.url, 'client'),
    startSidecar(cp.url, 'frontend', ['--app-port', String(frontendApp.port)]),
    startSidecar(cp.url, 'catalog', ['--app-port', String(catalogApp.port)]),
  ]);
  [reviews, ghost] = await Promise.all([
    startSidecar(cp.url, 'reviews', ['--app-port', String(reviewsApp.port)]),
    startSidecar(cp.url, 'ghost', ['--app-port', String(ghostApp.port)]),
  ]);
  await Promise.all([waitForPassing(cp, 'frontend', 1), waitForPassing(cp, 'catalog', 1), waitForPassing(cp, 'reviews', 1), waitForPassing(cp, 'ghost', 1)]);
  stopGhost = ghostApp.stop;
  const r = await cp.api('POST', '/v1/apply', {
    items: [{
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'MeshConfig',
      metadata: { name: 'mesh' },
      spec: { accessLog: { enabled: true, sampleRate: 1 }, tracing: { sampleRate: 1, otlpEndpoint: otlp.url } },
    }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 5);
}, { timeout: 180_000 });

after(async () => {
  await stopAll();
  await Promise.all(apps.map((a) => a.close()));
  await otlp?.close();
  await cp?.cleanup();
});

const sidecarsOf = (spans: readonly ReceivedSpan[]): string[] => [...new Set(spans.map((s) => s.service))].sort();

test('a request through three sidecared apps makes one trace of linked spans, and log lines with its ids', { timeout: 120_000 }, async () => {
  // The exporter loads lazily after the snapshot: send until a complete trace arrives.
  let n = 0;
  let requestId = '';
  const trace = await waitFor('a complete trace of 6 spans', async () => {
    requestId = `obs-test-${++n}`;
    const res = await viaSidecar(client.outboundPort, 'http://frontend/', { 'x-request-id': requestId });
    assert.equal(res.status, 200, res.body);
    await new Promise((r) => setTimeout(r, 1_500)); // the batch processors send every second
    const spans = otlp.spans.filter((s) => s.attributes['weft.request_id'] === requestId);
    return spans.length >= 6 ? spans : undefined;
  }, 60_000, 10);
  assert.deepEqual(otlp.errors, []);
  assert.equal(trace.length, 6, JSON.stringify(trace, null, 1));
  assert.equal(new Set(trace.map((s) => s.traceId)).size, 1, 'every span in one trace');
  assert.deepEqual(sidecarsOf(trace), ['catalog', 'client', 'frontend', 'reviews']);
  // The chain: client CLIENT → frontend SERVER → frontend CLIENT → catalog SERVER → catalog CLIENT → reviews SERVER.
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const root = trace.filter((s) => s.parentSpanId === undefined || !byId.has(s.parentSpanId));
  assert.equal(root.length, 1);
  const chain: ReceivedSpan[] = [root[0]];
  while (chain.length < 6) {
    const child = trace.find((s) => s.parentSpanId === chain[chain.length - 1].spanId);
    assert.ok(child, `a child of ${JSON.stringify(chain[chain.length - 1])}`);
    chain.push(child);
  }
  assert.deepEqual(chain.map((s) => `${s.service}:${s.kind === 3 ? 'client' : s.kind === 2 ? 'server' : s.kind}`), ['client:client', 'frontend:server', 'frontend:client', 'catalog:server', 'catalog:client', 'reviews:server']);
  for (const s of trace) {
    assert.equal(s.attributes['http.request.method'], 'GET');
    assert.equal(s.attributes['http.response.status_code'], 200);
    assert.equal(typeof s.attributes['url.path'], 'string');
    assert.equal(typeof s.attributes['server.address'], 'string');
  }
  assert.equal(chain[5].attributes['weft.source.service'], 'catalog.default');
  assert.equal(chain[5].attributes['weft.destination.service'], 'reviews.default');
  // The reviews app got the request id and a traceparent naming the reviews sidecar's server span.
  const seen = apps[0].seen.find((x) => x.requestId === requestId);
  assert.ok(seen);
  assert.equal(seen.traceparent, `00-${chain[5].traceId}-${chain[5].spanId}-01`);

  // Access logs: each of the four sidecars wrote lines with this request id and trace id.
  const traceId = trace[0].traceId;
  for (const sidecar of [client, frontend, catalog, reviews]) {
    const lines = sidecar.process.output().split('\n').filter((l) => l.includes(`"requestId":"${requestId}"`)).map((l) => JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>);
    assert.ok(lines.length >= 1, `access log of ${sidecar.id}`);
    for (const line of lines) {
      assert.equal(line.traceId, traceId);
      assert.equal(line.status, 200);
      assert.equal(typeof line.durationMs, 'number');
      assert.equal(typeof line.time, 'string');
    }
  }
});

test('a request without an id gets one at its first sidecar, carried to every app', { timeout: 30_000 }, async () => {
  const res = await viaSidecar(client.outboundPort, 'http://frontend/', {});
  assert.equal(res.status, 200, res.body);
  const body = JSON.parse(res.body) as { requestId: string; next: { requestId: string; next: { requestId: string } } };
  assert.match(body.requestId, /^[0-9a-f-]{36}$/);
  assert.equal(body.next.requestId, body.requestId);
  assert.equal(body.next.next.requestId, body.requestId);
  // An oversized or malformed id is replaced.
  const bad = await viaSidecar(client.outboundPort, 'http://frontend/', { 'x-request-id': 'x'.repeat(300) });
  assert.match((JSON.parse(bad.body) as { requestId: string }).requestId, /^[0-9a-f-]{36}$/);
  // A malformed traceparent is ignored: a new trace, no error.
  const badTrace = await viaSidecar(client.outboundPort, 'http://frontend/', { traceparent: '00-zz-not-a-trace' });
  assert.equal(badTrace.status, 200);
});

test('a B3 header on input is joined: the spans continue its trace', { timeout: 60_000 }, async () => {
  const traceId = '80f198ee56343ba864fe8b2a57d3eff7';
  const parent = 'e457b5a2e4d86bd1';
  const res = await viaSidecar(client.outboundPort, 'http://frontend/', { 'x-request-id': 'b3-test', b3: `${traceId}-${parent}-1` });
  assert.equal(res.status, 200, res.body);
  const spans = await waitFor('6 spans of the B3 request', () => {
    const s = otlp.spans.filter((x) => x.attributes['weft.request_id'] === 'b3-test');
    return s.length >= 6 ? s : undefined;
  }, 30_000);
  assert.ok(spans.every((s) => s.traceId === traceId));
  const root = spans.find((s) => s.service === 'client');
  assert.equal(root?.parentSpanId, parent);
});

test('weft why names the reason and the endpoint tried for a request that got a 503', { timeout: 60_000 }, async () => {
  const requestId = 'why-503-test';
  await stopGhost();
  const res = await viaSidecar(client.outboundPort, 'http://ghost/', { 'x-request-id': requestId });
  assert.equal(res.status, 503, res.body);
  assert.equal(res.headers['x-weft-reason'], 'upstream-connect-failure');
  const r = await runWeft(['why', requestId, '-o', 'json'], { control: cp.url });
  assert.equal(r.code, 0, r.stderr);
  const answer = JSON.parse(r.stdout) as { items: { proxy: string; direction: string; status: number; reason?: string; attempts: { endpoint: string; failure?: string }[] }[] };
  const out = answer.items.find((f) => f.proxy === client.id && f.direction === 'outbound');
  assert.ok(out, r.stdout);
  assert.equal(out.status, 503);
  assert.equal(out.reason, 'upstream-connect-failure');
  assert.ok(out.attempts.length >= 1);
  assert.equal(out.attempts[0].endpoint, `127.0.0.1:${ghost.inboundPort}`);
  assert.equal(out.attempts[0].failure, 'peer-app-unreachable');
  const inbound = answer.items.find((f) => f.proxy === ghost.id && f.direction === 'inbound');
  assert.ok(inbound, r.stdout);
  assert.equal(inbound.attempts[0].failure, 'connect');
  // The table says it in words.
  const table = await runWeft(['why', requestId], { control: cp.url });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /local reply: 503 upstream-connect-failure/);
  assert.match(table.stdout, new RegExp(`attempt 1: 127\\.0\\.0\\.1:${ghost.inboundPort}.*peer-app-unreachable`));
  // An unknown id says so.
  const unknown = await runWeft(['why', 'no-such-request'], { control: cp.url });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no sidecar holds a fate for request no-such-request/);
});

test('with --workers, the admin listener finds the fates of requests every thread carried', { timeout: 90_000 }, async () => {
  const multi = await startSidecar(cp.url, 'multi', ['--workers', '2']);
  await waitForInSync(cp, 6);
  const ids = Array.from({ length: 30 }, (_, i) => `multi-${i}`);
  // New connections each: the kernel spreads them over both threads' listeners (SO_REUSEPORT).
  for (const id of ids) assert.equal((await viaSidecar(multi.outboundPort, 'http://reviews/', { 'x-request-id': id })).status, 200);
  // The worker thread carried some of them (else this test would not reach the workers' rings).
  assert.ok(metricSample(await adminMetrics(multi.adminPort), 'weft_proxy_accepted_connections_total{listener="outbound",worker="1"}') > 0);
  for (const id of ids) {
    const res = await fetch(`http://127.0.0.1:${multi.adminPort}/fates?id=${id}`);
    assert.equal(res.status, 200, id);
    const body = await res.json() as { items: { requestId: string; direction: string; status: number }[] };
    assert.deepEqual(body.items.map((f) => [f.requestId, f.direction, f.status]), [[id, 'outbound', 200]]);
  }
  const recent = await (await fetch(`http://127.0.0.1:${multi.adminPort}/fates/recent?limit=30`)).json() as { items: { requestId: string }[] };
  assert.deepEqual(recent.items.map((f) => f.requestId).sort(), [...ids].sort());
});

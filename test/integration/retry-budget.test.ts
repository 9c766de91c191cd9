// Bar (issue 14 item 2): BackendPolicy `retries` in force in a client sidecar. Real control plane,
// real sidecars, real apps: (a) with every endpoint answering 503 under steady load, retries stay
// within the budget (read from the client sidecar's metrics), and without a budget they do not;
// (b) a hung instance is routed around once per-try timeouts fire; (c) a POST is retried only when
// opted in; (d) a gRPC trailers-only UNAVAILABLE is retried on the other instance (real HTTP/2).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { adminMetrics, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll } from '../support/processes.ts';
import { grpcFrame, h2Connect, h2Request } from '../support/h2.ts';

interface App {
  readonly port: number;
  /** Requests that reached this instance (health checks aside). */
  hits: number;
  close(): Promise<void>;
}

/** What the flaky instances have seen, by x-test-id (shared, so "the first arrival" holds across instances). */
const arrivals = new Map<string, number>();

/**
 * One HTTP/1.1 instance of `web`; what it does depends on the path. /down/*: 503 always.
 * /hang/*: the `hung` instance accepts and reads but never answers, the others answer 200.
 * /flaky/*: the first arrival of an x-test-id (on any instance) gets 503, later ones 200 with the
 * body's length. Anything else: 200.
 */
async function startApp(name: string, hung = false): Promise<App> {
  const app: App = { port: 0, hits: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      app.hits++;
      if (url.startsWith('/hang') && hung) return; // held until the caller gives up and its connection closes
      if (url.startsWith('/down')) {
        res.writeHead(503, { 'content-type': 'text/plain', 'x-served-by': name });
        res.end('down');
        return;
      }
      if (url.startsWith('/flaky')) {
        const id = String(req.headers['x-test-id'] ?? '');
        const n = (arrivals.get(id) ?? 0) + 1;
        arrivals.set(id, n);
        if (n === 1) {
          res.writeHead(503, { 'content-type': 'text/plain', 'x-served-by': name });
          res.end('unavailable');
          return;
        }
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name });
      res.end(JSON.stringify({ name, bodyLength: Buffer.concat(chunks).length }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return Object.assign(app, {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  });
}

/**
 * An h2c fake-gRPC app: `unavailable` answers every call with a trailers-only response (one HEADERS
 * frame with END_STREAM: :status 200, grpc-status 14); `ok` echoes the message with grpc-status 0.
 */
async function startGrpcApp(name: string, mode: 'unavailable' | 'ok'): Promise<App> {
  const app: App = { port: 0, hits: 0, close: async () => {} };
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      app.hits++;
      if (mode === 'unavailable') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'shutting down', 'x-served-by': name }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-served-by': name }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat(chunks));
    });
  });
  server.on('sessionError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return Object.assign(app, { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) });
}

let cp: ControlPlaneProcess;
let client: SidecarProcess;
const apps: App[] = [];
let hung: App;
let unavailable: App;

const BUDGET = { ratio: 0.2, minRetriesPerSecond: 2, ttlMs: 10_000 };
const service = (name: string, tier: string) => ({ apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name }, spec: { selector: { tier }, ports: [{ port: 80 }] } });
const policy = (name: string, retries: unknown) => ({ apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name: `${name}-policy` }, spec: { targetRefs: [{ kind: 'Service', name }], retries } });

before(async () => {
  cp = await startControlPlane();
  const [a, b, h, u, g] = await Promise.all([startApp('a'), startApp('b'), startApp('hung', true), startGrpcApp('unavailable', 'unavailable'), startGrpcApp('good', 'ok')]);
  apps.push(a, b, h, u, g);
  hung = h;
  unavailable = u;
  const sidecar = (svc: string, app: App) => startSidecar(cp.url, svc, ['--labels', `tier=${svc}`, '--app-port', String(app.port)]);
  // A few at a time: the machine is shared, and a sidecar has 15 s to start.
  await Promise.all([sidecar('web', a), sidecar('web', b), sidecar('web', h)]);
  [client] = await Promise.all([startSidecar(cp.url, 'client'), sidecar('grpcsvc', u), sidecar('grpcsvc', g)]);
  await Promise.all([waitForPassing(cp, 'web', 3), waitForPassing(cp, 'grpcsvc', 2)]);
  const r = await cp.api('POST', '/v1/apply', {
    items: [
      // Services over the same three instances of `web`, each with its own BackendPolicy: one under a
      // budget, one practically without (the same failing endpoints), …
      service('budgeted', 'web'),
      service('unbudgeted', 'web'),
      policy('budgeted', { attempts: 2, retryOn: ['5xx'], backoff: { baseIntervalMs: 1, maxIntervalMs: 5 }, budget: BUDGET }),
      policy('unbudgeted', { attempts: 2, retryOn: ['5xx'], backoff: { baseIntervalMs: 1, maxIntervalMs: 5 }, budget: { ratio: 1, minRetriesPerSecond: 10_000 } }),
      service('hangy', 'web'),
      policy('hangy', { attempts: 2, retryOn: ['reset'], perTryTimeoutMs: 200 }),
      // … without and with the non-idempotent opt-in.
      service('flaky', 'web'),
      service('flaky-optin', 'web'),
      policy('flaky', { attempts: 1, retryOn: ['5xx'], backoff: { baseIntervalMs: 5 } }),
      policy('flaky-optin', { attempts: 1, retryOn: ['5xx'], backoff: { baseIntervalMs: 5 }, retryNonIdempotent: true }),
      policy('grpcsvc', { attempts: 1, retryOn: ['unavailable'] }),
    ],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 6);
}, { timeout: 180_000 });

after(async () => {
  await stopAll();
  await Promise.all(apps.map((a) => a.close()));
  await cp?.cleanup();
});

interface Reply { status: number; headers: http.IncomingHttpHeaders; text: string }
const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
/** One request through the client sidecar's outbound listener (absolute-form). */
function call(host: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: client.outboundPort, method, path: `http://${host}${path}`, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `total` requests, `concurrency` at a time; returns the replies. */
async function load(total: number, concurrency: number, one: (i: number) => Promise<Reply>): Promise<Reply[]> {
  const out: Reply[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) out.push(await one(next++));
  }));
  return out;
}

/** Sum of every series of `name` whose labels include all of `labels` in the client sidecar's metrics. */
async function clientMetric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await adminMetrics(client.adminPort);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('(a) every endpoint answers 503 under steady load: retries stay within the budget; without one they multiply', async (t) => {
  const REQUESTS = 500;
  const started = performance.now();
  const replies = await load(REQUESTS, 10, () => call('budgeted', '/down/x'));
  const seconds = (performance.now() - started) / 1000;
  assert.ok(replies.every((r) => r.status === 503 && r.text === 'down'), 'the app\'s own 503 comes back');
  const retries = await clientMetric('weft_proxy_upstream_retries_total', { destination_service: 'budgeted.default' });
  const exhausted = await clientMetric('weft_proxy_retry_budget_exhausted_total', { destination_service: 'budgeted.default' });
  // The window is 10 s: a run shorter than that still gets a whole window's minimum.
  const bound = BUDGET.ratio * REQUESTS + BUDGET.minRetriesPerSecond * Math.max(seconds + 1, BUDGET.ttlMs / 1000) + 5;
  t.diagnostic(`budgeted: ${REQUESTS} requests in ${seconds.toFixed(1)} s, ${retries} retries (bound ${bound.toFixed(0)}), ${exhausted} budget-exhausted`);
  assert.ok(retries <= bound, `${retries} retries for ${REQUESTS} requests in ${seconds.toFixed(1)} s; budget bound ${bound}`);
  assert.ok(retries >= BUDGET.ratio * REQUESTS * 0.9, `the budget's share is used: ${retries}`);
  const marked = replies.filter((r) => r.headers['x-weft-retry-budget-exhausted'] === 'true').length;
  assert.ok(marked > REQUESTS / 2, `most answers say the budget was exhausted: ${marked}`);
  assert.equal(exhausted, marked, 'each marked answer is counted once');

  const control = await load(REQUESTS, 10, () => call('unbudgeted', '/down/x'));
  assert.ok(control.every((r) => r.status === 503 && r.headers['x-weft-attempts'] === '3'), 'without a budget every request is tried 3 times');
  const unbudgeted = await clientMetric('weft_proxy_upstream_retries_total', { destination_service: 'unbudgeted.default' });
  t.diagnostic(`unbudgeted: ${REQUESTS} requests, ${unbudgeted} retries`);
  assert.equal(unbudgeted, 2 * REQUESTS);
  assert.ok(unbudgeted > 2 * bound, `without a budget: ${unbudgeted} retries, against at most ${bound} with it`);
});

test('(b) one hung instance of three: per-try timeouts of 200 ms and retries route every request around it', async () => {
  const before = hung.hits;
  const replies = await load(30, 5, () => call('hangy', '/hang/y'));
  for (const r of replies) assert.equal(r.status, 200, `${r.status} ${r.headers['x-weft-reason'] ?? ''} ${r.text}`);
  assert.ok(replies.every((r) => r.headers['x-served-by'] === 'a' || r.headers['x-served-by'] === 'b'));
  const retried = replies.filter((r) => r.headers['x-weft-attempts'] === '2').length;
  assert.ok(hung.hits - before > 0 && retried > 0, `the hung instance was tried (${hung.hits - before} times) and those requests were retried (${retried})`);
  assert.ok(await clientMetric('weft_proxy_upstream_retries_total', { destination_service: 'hangy.default', reason: 'per-try-timeout' }) >= retried);
});

test('(c) a POST is not retried unless the policy opts in; a GET is', async () => {
  const post = await call('flaky', '/flaky/p', { 'x-test-id': 'post-1', 'content-type': 'text/plain' }, 'POST', Buffer.from('hello'));
  assert.equal(post.status, 503, 'not retried: the app\'s 503 comes back');
  assert.equal(post.headers['x-weft-attempts'], undefined);
  assert.equal(arrivals.get('post-1'), 1);

  const get = await call('flaky', '/flaky/g', { 'x-test-id': 'get-1' });
  assert.equal(get.status, 200, get.text);
  assert.equal(get.headers['x-weft-attempts'], '2');

  const opted = await call('flaky-optin', '/flaky/p', { 'x-test-id': 'post-2', 'content-type': 'text/plain' }, 'POST', Buffer.from('hello'));
  assert.equal(opted.status, 200, opted.text);
  assert.equal(opted.headers['x-weft-attempts'], '2');
  assert.equal(JSON.parse(opted.text).bodyLength, 5, 'the kept body was replayed in full');
  assert.equal(arrivals.get('post-2'), 2);
});

test('(d) gRPC: a trailers-only grpc-status 14 from one instance is retried on the other', async () => {
  const session = await h2Connect(client.outboundPort);
  try {
    const before = unavailable.hits;
    let retried = 0;
    for (let i = 0; i < 10; i++) {
      const res = await h2Request(session, { ':method': 'POST', ':path': '/shop.Svc/Get', ':authority': 'grpcsvc', 'content-type': 'application/grpc', te: 'trailers' }, grpcFrame(Buffer.from(`m${i}`)));
      assert.equal(res.headers[':status'], 200);
      assert.equal(res.headers['x-served-by'], 'good');
      assert.equal(res.trailers?.['grpc-status'], '0');
      if (res.headers['x-weft-attempts'] === '2') retried++;
    }
    assert.ok(unavailable.hits - before > 0, 'the UNAVAILABLE instance was picked');
    assert.equal(retried, unavailable.hits - before, 'each UNAVAILABLE answer was retried once');
    assert.equal(await clientMetric('weft_proxy_upstream_retries_total', { destination_service: 'grpcsvc.default', reason: 'retriable-grpc-status' }), retried);
  } finally {
    session.close();
  }
});

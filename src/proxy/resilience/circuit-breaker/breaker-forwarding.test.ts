// The breaker and the deadline inside forward.ts, over real loopback sockets: each limit refuses at
// once with its name, and every way a request ends (answer, connect failure, retry, reset, request
// timeout, deadline, client abort) gives back what it held: leaks are the classic breaker bug.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { forwardRequest } from '../../http/forward.ts';
import { UpstreamPool } from '../../transport/upstream-pool.ts';
import { DEFAULT_BACKEND_POLICY, type BackendPolicySpec } from '../../../config/kinds/backend-policy.ts';
import type { CircuitBreakerSpec } from '../../../config/kinds/backend-policy-circuit-breaker.ts';
import type { EndpointSnapshot } from '../../../config/snapshot-types.ts';
import type { Pick, Picker } from '../../balance/picker.ts';
import { CircuitBreaker, type CircuitLimit } from './circuit-breaker.ts';

const noop = (): void => {};
const endpoint = (port: number): EndpointSnapshot => ({ id: `127.0.0.1:${port}`, address: '127.0.0.1', port, weight: 1, health: 'passing', labels: {} });
/** Tries the endpoints in order, skipping those already tried. */
function listPicker(eps: EndpointSnapshot[]): Picker {
  return {
    pick: (ctx): Pick => {
      const ep = eps.find((e) => !ctx?.exclude?.has(e.id));
      return ep ? { kind: 'endpoint', endpoint: ep, done: noop } : { kind: 'fail', reason: 'all-endpoints-tried', message: 'all tried' };
    },
  };
}

async function listen(server: http.Server | http2.Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Polls (event-driven work settles on close events) until `cond` holds, or fails after `ms`. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// The app: /ok answers, /hold waits until released, /reset closes the connection, /deadline echoes the fields it got.
const held: http.ServerResponse[] = [];
let appRequests = 0;
const app = http.createServer((req, res) => {
  appRequests++;
  if (req.url === '/hold') return void held.push(res);
  if (req.url === '/reset') return void req.socket.destroy();
  res.end(JSON.stringify({ deadline: req.headers['x-weft-deadline'] ?? null, grpc: req.headers['grpc-timeout'] ?? null }));
});
const releaseHeld = (): void => {
  for (const res of held.splice(0)) res.end('released');
};
const appPort = await listen(app);
const dead = http.createServer();
const deadPort = await listen(dead);
await new Promise((r) => dead.close(r)); // nothing listens here: connection refused

const pool = new UpstreamPool();
const pools = [pool];
const fronts: http.Server[] = [];
after(async () => {
  releaseHeld();
  for (const p of pools) p.close();
  for (const f of fronts) f.closeAllConnections();
  await Promise.all([...fronts, app].map((s) => new Promise((r) => s.close(r))));
});

interface Front {
  port: number;
  breaker: CircuitBreaker;
  rejected: CircuitLimit[];
}
async function front(limits: Partial<CircuitBreakerSpec>, eps = [endpoint(appPort)], policy: Partial<BackendPolicySpec> = {}): Promise<Front> {
  const breaker = new CircuitBreaker();
  breaker.update(limits, eps);
  const rejected: CircuitLimit[] = [];
  const picker = listPicker(eps);
  const full = { ...DEFAULT_BACKEND_POLICY, ...policy };
  // A pool of its own: connections pooled by another test do not count here.
  const own = new UpstreamPool();
  pools.push(own);
  const server = http.createServer((req, res) => {
    forwardRequest(req, res, { picker, policy: full, authority: 'app', path: req.url ?? '/', breaker }, { pool: own, proxyId: 'test', onComplete: noop, onCircuitOpen: (l) => rejected.push(l) });
  });
  fronts.push(server);
  return { port: await listen(server), breaker, rejected };
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

const idle = (b: CircuitBreaker): boolean => b.requests === 0 && b.pending === 0 && b.retries === 0;

test('every way a request ends gives back its counts', async () => {
  const f = await front({}, [endpoint(deadPort), endpoint(appPort)], { timeouts: { ...DEFAULT_BACKEND_POLICY.timeouts, requestMs: 0 } });
  // An answer after a retry (the first endpoint refuses the connection).
  assert.equal((await get(f.port, '/ok')).status, 200);
  await until(() => idle(f.breaker), 'release after a retried answer');
  // The app closes the connection without an answer: 502 once no endpoint is left to try.
  assert.equal((await get(f.port, '/reset')).status, 502);
  await until(() => idle(f.breaker), 'release after a reset');
  // The deadline passes while the app holds the request.
  const late = await get(f.port, '/hold', { 'x-weft-deadline': '50' });
  assert.equal(late.status, 504);
  assert.equal(late.headers['x-weft-reason'], 'deadline-exceeded');
  await until(() => idle(f.breaker), 'release after a deadline');
  releaseHeld();
  // The client goes away while the app holds the request.
  const before = appRequests;
  const req = http.get({ host: '127.0.0.1', port: f.port, path: '/hold', agent: false });
  req.on('error', noop);
  await until(() => appRequests > before && f.breaker.requests === 1, 'the held request');
  req.destroy();
  await until(() => idle(f.breaker), 'release after a client abort');
  releaseHeld();

  const timed = await front({}, [endpoint(appPort)], { timeouts: { ...DEFAULT_BACKEND_POLICY.timeouts, requestMs: 60 } });
  const t = await get(timed.port, '/hold');
  assert.equal(t.status, 504);
  assert.equal(t.headers['x-weft-reason'], 'request-timeout');
  await until(() => idle(timed.breaker), 'release after a request timeout');
  releaseHeld();

  const nowhere = await front({}, [endpoint(deadPort)]);
  assert.equal((await get(nowhere.port, '/ok')).headers['x-weft-reason'], 'upstream-connect-failure');
  await until(() => idle(nowhere.breaker), 'release after a connect failure');
});

test('maxRequests: the request over the limit gets 503 circuit-open at once; after the held ones end, requests pass again', async () => {
  const f = await front({ maxRequests: 2 });
  const before = appRequests;
  const first = [get(f.port, '/hold'), get(f.port, '/hold')];
  await until(() => appRequests === before + 2, 'two held requests');
  const refused = await get(f.port, '/ok');
  assert.equal(refused.status, 503);
  assert.equal(refused.headers['x-weft-reason'], 'circuit-open');
  assert.equal(refused.headers['x-weft-circuit-limit'], 'max-requests');
  assert.match(JSON.parse(refused.body).error.message, /maxRequests \(2\)/);
  assert.equal(appRequests, before + 2, 'the refused request never reached the app');
  assert.deepEqual(f.rejected, ['max-requests']);
  releaseHeld();
  assert.deepEqual((await Promise.all(first)).map((r) => r.status), [200, 200]);
  await until(() => idle(f.breaker), 'release');
  assert.equal((await get(f.port, '/ok')).status, 200);
});

test('maxConnections: a request that needs a new connection while the limit is open is refused; one that finds an idle connection passes', async () => {
  const f = await front({ maxConnections: 1 });
  const before = appRequests;
  const holding = get(f.port, '/hold');
  await until(() => appRequests === before + 1, 'the held request');
  const refused = await get(f.port, '/ok');
  assert.equal(refused.status, 503);
  assert.equal(refused.headers['x-weft-circuit-limit'], 'max-connections');
  releaseHeld();
  assert.equal((await holding).status, 200);
  // The connection went back to the pool idle: reused, so nothing new is needed.
  assert.equal((await get(f.port, '/ok')).status, 200);
  await until(() => idle(f.breaker), 'release');
});

test('maxPendingRequests: refused while that many wait for a connection; a pooled connection needs no wait', async () => {
  const f = await front({ maxPendingRequests: 1 });
  assert.equal((await get(f.port, '/ok')).status, 200); // leaves one idle connection
  f.breaker.pending = 1; // as if another request were waiting for a connection
  assert.equal((await get(f.port, '/ok')).status, 200, 'reuses the idle connection');
  const before = appRequests;
  const holding = get(f.port, '/hold'); // takes the idle connection
  await until(() => appRequests === before + 1, 'the held request');
  const refused = await get(f.port, '/ok');
  assert.equal(refused.headers['x-weft-circuit-limit'], 'max-pending-requests');
  f.breaker.pending = 0;
  releaseHeld();
  await holding;
  await until(() => idle(f.breaker), 'release');
});

test('maxRetries: with the retries in flight at the limit a retry is not made and the failure stands', async () => {
  // Two endpoints (the same app under two ids); /reset closes the connection unanswered: the app saw
  // the GET, so its retry may repeat work and takes a slot.
  const f = await front({ maxRetries: 1 }, [endpoint(appPort), endpoint(appPort)].map((e, i) => ({ ...e, id: `ep${i}` })));
  f.breaker.retries = 1; // another request's retry in flight
  const r = await get(f.port, '/reset');
  assert.equal(r.status, 502);
  assert.equal(r.headers['x-weft-reason'], 'upstream-reset');
  assert.deepEqual(f.rejected, ['max-retries']);
  f.breaker.retries = 0;
  const before = appRequests;
  assert.equal((await get(f.port, '/reset')).status, 502);
  assert.equal(appRequests, before + 2, 'a free slot: the reset GET was retried once on the other endpoint');
  assert.deepEqual(f.rejected, ['max-retries']);
  await until(() => idle(f.breaker), 'release');
});

test('maxRetries: retries of attempts that reached no app take no slot', async () => {
  const f = await front({ maxRetries: 1 }, [endpoint(deadPort), endpoint(appPort)]);
  f.breaker.retries = 1; // the limit is reached
  assert.equal((await get(f.port, '/ok')).status, 200, 'the refused connection is retried on the other endpoint');
  assert.deepEqual(f.rejected, []);
  f.breaker.retries = 0;
  await until(() => idle(f.breaker), 'release');
});

test('deadline: the remaining time goes upstream decremented; 0 is refused before sending; a malformed one is a 400', async () => {
  const f = await front({}, [endpoint(appPort)], { timeouts: { ...DEFAULT_BACKEND_POLICY.timeouts, requestMs: 2000 } });
  const sent = JSON.parse((await get(f.port, '/ok', { 'x-weft-deadline': '5000' })).body);
  assert.ok(Number(sent.deadline) <= 2000 && Number(sent.deadline) > 1000, `this hop's request timeout shortens it: ${sent.deadline}`);
  assert.equal(sent.grpc, null, 'grpc-timeout only for gRPC calls');
  const short = JSON.parse((await get(f.port, '/ok', { 'x-weft-deadline': '900' })).body);
  assert.ok(Number(short.deadline) <= 900 && Number(short.deadline) > 500, short.deadline);
  assert.equal(JSON.parse((await get(f.port, '/ok')).body).deadline, null, 'no deadline: none is started');
  const before = appRequests;
  const zero = await get(f.port, '/ok', { 'x-weft-deadline': '0' });
  assert.equal(zero.status, 504);
  assert.equal(zero.headers['x-weft-reason'], 'deadline-exceeded');
  const bad = await get(f.port, '/ok', { 'x-weft-deadline': '2s' });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).error.message, /x-weft-deadline/);
  assert.equal(appRequests, before, 'neither reached the app');
  await until(() => idle(f.breaker), 'release');
});

test('gRPC: grpc-timeout goes upstream decremented, and an expired call ends as grpc-status 4 in a trailers-only response', async () => {
  const heldStreams: http2.ServerHttp2Stream[] = [];
  const seen: (string | undefined)[] = [];
  const h2app = http2.createServer();
  h2app.on('stream', (stream, headers) => {
    seen.push(headers['grpc-timeout'] as string | undefined);
    heldStreams.push(stream);
  });
  const h2port = await listen(h2app);
  const breaker = new CircuitBreaker();
  breaker.update({}, [endpoint(h2port)]);
  const picker = listPicker([endpoint(h2port)]);
  const server = http2.createServer((req, res) => {
    forwardRequest(req, res, { picker, policy: DEFAULT_BACKEND_POLICY, authority: 'app', path: req.url, breaker }, { pool, proxyId: 'test', onComplete: noop });
  });
  const port = await listen(server);
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const started = performance.now();
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const s = client.request({ ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc', 'grpc-timeout': '150m', te: 'trailers' }, { endStream: true });
      s.on('response', resolve);
      s.on('error', reject);
      s.resume();
    });
    const took = performance.now() - started;
    assert.equal(headers[':status'], 200);
    assert.equal(headers['grpc-status'], '4');
    assert.equal(headers['x-weft-reason'], 'deadline-exceeded');
    assert.ok(took >= 140 && took < 2000, `ended by its deadline: ${took.toFixed(0)} ms`);
    assert.match(seen[0] ?? '', /^1[0-4][0-9]m$/, `the app was told the time left: ${seen[0]}`);
    await until(() => idle(breaker), 'release');
  } finally {
    for (const s of heldStreams) s.close();
    client.close();
    server.close();
    h2app.close();
  }
});

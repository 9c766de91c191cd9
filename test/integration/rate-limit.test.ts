// Bar: a RateLimitPolicy applied through the API holds a Service's traffic to its rate. Local
// (inbound): the orders sidecar admits 50 rps of 150 offered within ±5%, and gives each caller
// identity its own bucket; a refusal is 429 `rate-limited` with Retry-After and the IETF RateLimit
// fields. Global (outbound, real redis-server): three client sidecars share one limit within ±10%;
// Redis killed, `open` lets traffic through and `closed` refuses it; Redis back, the limit holds again.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, type EchoServer } from '../support/upstreams.ts';
import { freePort, stopAll, waitFor } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';

let cp: ControlPlaneProcess;
let app: EchoServer;
let orders: SidecarProcess;
let web: SidecarProcess;
let batch: SidecarProcess;
let ops: SidecarProcess;
let redisPort: number;
let redis: ChildProcess | undefined;
const PROXIES = 4;

/** A real redis-server on `redisPort`, no persistence; resolves when it answers PING. */
async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(`redis-server on ${redisPort}`, () => new Promise<boolean>((resolve) => {
    const s = net.connect(redisPort, '127.0.0.1');
    s.once('error', () => resolve(false));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString() === '+PONG\r\n');
    });
    s.write('PING\r\n');
  }));
}

async function killRedis(): Promise<void> {
  const child = redis;
  redis = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

before(async () => {
  redisPort = await freePort();
  await startRedis();
  cp = await startControlPlane();
  app = await startEcho('orders');
  orders = await startSidecar(cp.url, 'orders', ['--app-port', String(app.port)]);
  [web, batch, ops] = await Promise.all([startSidecar(cp.url, 'web'), startSidecar(cp.url, 'batch'), startSidecar(cp.url, 'ops')]);
  await waitForPassing(cp, 'orders', 1);
  await waitForInSync(cp, PROXIES);
});

after(async () => {
  for (const line of measured) process.stdout.write(`# measured ${line}\n`);
  await stopAll();
  await app?.close();
  await cp?.cleanup();
  await killRedis();
});

const policy = (name: string, spec: unknown) => ({ apiVersion: 'weft.dev/v1alpha1', kind: 'RateLimitPolicy', metadata: { name, namespace: 'default' }, spec: { targetRefs: [{ kind: 'Service', name: 'orders' }], ...(spec as object) } });

async function apply(items: unknown[]): Promise<void> {
  const r = await cp.api('POST', '/v1/apply', { items });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, PROXIES);
}

async function remove(name: string): Promise<void> {
  assert.equal((await cp.api('DELETE', `/v1/resources/ratelimitpolicies/default/${name}`)).status, 200);
  await waitForInSync(cp, PROXIES);
}

/** Opens the callers' pooled (mTLS) connections to orders before a measurement: handshakes would bunch arrivals. */
async function warm(...callers: SidecarProcess[]): Promise<void> {
  for (const t of await Promise.all(callers.map((c) => offer(c, 100, 0.5)))) assert.deepEqual(t.counts, { 200: 50 });
}

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
}

function call(from: SidecarProcess, agent: http.Agent, headers: Record<string, string> = {}, path = '/rl'): Promise<Reply> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: from.outboundPort, path: `http://orders${path}`, headers: { host: 'orders', ...headers }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', () => resolve({ status: 0, headers: {} }));
    req.end();
  });
}

interface Tally {
  readonly counts: Record<number, number>;
  /** From the first request sent to the last, in seconds. */
  readonly seconds: number;
  /** performance.now() at the first request sent, and when the last answer came. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly limited: Reply | undefined;
  readonly reasons: Set<string>;
}

/**
 * Offers `rps` requests a second through `from` for `seconds`, on a schedule (not waiting for
 * answers), and counts the answers by status.
 */
async function offer(from: SidecarProcess, rps: number, seconds: number, headers: Record<string, string> = {}): Promise<Tally> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const counts: Record<number, number> = {};
  const reasons = new Set<string>();
  let limited: Reply | undefined;
  const total = Math.round(rps * seconds);
  const start = performance.now();
  let last = start;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rps;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    last = performance.now();
    pending.push(call(from, agent, headers).then((r) => {
      counts[r.status] = (counts[r.status] ?? 0) + 1;
      if (typeof r.headers['x-weft-reason'] === 'string') reasons.add(r.headers['x-weft-reason']);
      if (r.status === 429) limited ??= r;
    }));
  }
  await Promise.all(pending);
  agent.destroy();
  return { counts, seconds: (last - start) / 1000, startedAt: start, endedAt: performance.now(), limited, reasons };
}

/** What assertRate measured, printed at the end (the report's numbers). */
const measured: string[] = [];

/** Whether `admitted` is burst + rate × seconds within `share` (0.05: ±5%) of rate × seconds; records the numbers. */
function rateHolds(what: string, admitted: number, rate: number, burst: number, seconds: number, share: number): string | undefined {
  const expected = burst + rate * seconds;
  const slack = share * rate * seconds;
  measured.push(`${what}: ${admitted} admitted in ${seconds.toFixed(2)} s, expected ${expected.toFixed(1)} (${(((admitted - expected) / (rate * seconds)) * 100).toFixed(1)}%)`);
  return Math.abs(admitted - expected) <= slack ? undefined : `${what}: admitted ${admitted} in ${seconds.toFixed(2)} s, expected ${expected.toFixed(1)} ± ${slack.toFixed(1)}`;
}

function assertRate(what: string, admitted: number, rate: number, burst: number, seconds: number, share: number): void {
  const problem = rateHolds(what, admitted, rate, burst, seconds, share);
  assert.ok(problem === undefined, problem);
}

/**
 * Offers load with `run` up to three times until the admitted count holds (rateHolds). On this
 * shared 2-core machine a starved sidecar can hold requests back and release them at once, which
 * skews one window either way (a wrong limiter misses in every window). Between attempts it waits
 * `refillMs` for the buckets to be full again. Returns the runs' results.
 */
async function measureRate<T extends { admitted: number; seconds: number; burst: number }>(what: string, rate: number, share: number, refillMs: number, run: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  const problems: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, refillMs));
    const r = await run();
    results.push(r);
    const problem = rateHolds(`${what} (attempt ${attempt})`, r.admitted, rate, r.burst, r.seconds, share);
    if (problem === undefined) return results;
    problems.push(problem);
  }
  assert.fail(problems.join('; '));
}

// Bursts of half a second or more: a stall of the loaded machine longer than the burst lasts would
// waste tokens (the bucket is full and nothing arrives), and the measured rate would come out low.
test('local inbound limit: 50 rps of 150 offered, within ±5%; the 429 says why and when to come back', async (t) => {
  await warm(web);
  await apply([policy('orders-total', { direction: 'inbound', local: { total: { requestsPerSecond: 50, burst: 25 } } })]);
  t.after(() => remove('orders-total').catch(() => undefined));
  const before = app.hits();
  const runs = await measureRate('orders-total', 50, 0.05, 1_000, async () => {
    const run = await offer(web, 150, 4);
    assert.equal((run.counts[200] ?? 0) + (run.counts[429] ?? 0), Math.round(150 * 4), JSON.stringify(run.counts));
    return { ...run, admitted: run.counts[200] ?? 0, burst: 25 };
  });
  const sum = (status: number): number => runs.reduce((n, r) => n + (r.counts[status] ?? 0), 0);
  assert.equal(app.hits() - before, sum(200), 'a refused request never reaches the app');
  const r = runs[0]!.limited!;
  assert.equal(r.headers['x-weft-reason'], 'rate-limited');
  assert.equal(r.headers['retry-after'], '1');
  assert.equal(r.headers['ratelimit-policy'], '"default/orders-total/total";q=50;w=1;weft-burst=25');
  assert.equal(r.headers.ratelimit, '"default/orders-total/total";r=0;t=1');
  const text = await adminMetrics(orders.adminPort);
  assert.equal(metricSample(text, 'weft_proxy_rate_limited_total{policy="default/orders-total",direction="inbound",scope="local"}'), sum(429));
  await remove('orders-total');
  assert.equal((await offer(web, 100, 1)).counts[200], 100, 'deleting the policy lifts the limit');
});

test('per identity: two callers get separate buckets, each held to its own rate', async (t) => {
  await warm(web, batch);
  await apply([policy('orders-identity', { direction: 'inbound', local: { identity: { requestsPerSecond: 20, burst: 10 } } })]);
  t.after(() => remove('orders-identity').catch(() => undefined));
  // Each caller has its own bucket: together they get 2 × (10 + 20 × seconds); a shared bucket
  // would give them half of that.
  const runs = await measureRate('web + batch', 40, 0.1, 1_000, async () => {
    const [w, b] = await Promise.all([offer(web, 60, 3), offer(batch, 60, 3)]);
    measured.push(`  web ${w.counts[200] ?? 0}, batch ${b.counts[200] ?? 0}`);
    return { w, b, admitted: (w.counts[200] ?? 0) + (b.counts[200] ?? 0), seconds: Math.max(w.seconds, b.seconds), burst: 20 };
  });
  const { w, b, seconds } = runs.at(-1)!;
  for (const [who, t] of [['web', w], ['batch', b]] as const) {
    const own = 10 + 20 * seconds;
    assert.ok(Math.abs((t.counts[200] ?? 0) - own) <= 0.2 * own, `${who}: ${t.counts[200]} admitted, its own bucket gives ${own.toFixed(1)}`);
  }
  assert.equal(w.limited?.headers['ratelimit-policy'], '"default/orders-identity/identity";q=20;w=1;weft-burst=10');
});

const globalPolicy = (extra: Record<string, unknown> = {}) =>
  policy('orders-global', { direction: 'outbound', global: { redis: { address: `127.0.0.1:${redisPort}` }, requestsPerSecond: 60, burst: 60, ...extra } });

test('global limit (Redis, GCRA): three client sidecars share 60 rps within ±10%', async () => {
  await warm(web, batch, ops);
  await apply([globalPolicy()]);
  const listed = await runWeft(['get', 'ratelimitpolicies'], { control: cp.url });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /default\s+orders-global/);
  // Redis's own clock counts: a check Redis did not answer in time is admitted (failureMode open).
  const redisErrors = async (): Promise<number> => (await Promise.all([web, batch, ops].map(async (s) => metricSample(await adminMetrics(s.adminPort), 'weft_proxy_rate_limit_redis_errors_total{policy="default/orders-global"}')))).reduce((a, b) => a + b, 0);
  let web429 = 0;
  let limited: Reply | undefined;
  await measureRate('orders-global across 3 proxies', 60, 0.1, 1_200, async () => {
    const runs = await Promise.all([web, batch, ops].map((s) => offer(s, 50, 4)));
    for (const t of runs) assert.ok((t.counts[200] ?? 0) > 0 && (t.counts[429] ?? 0) > 0, JSON.stringify(t.counts));
    web429 += runs[0]!.counts[429] ?? 0;
    limited ??= runs.find((t) => t.limited)?.limited;
    measured.push(`  Redis errors so far: ${await redisErrors()}`);
    return { admitted: runs.reduce((n, t) => n + (t.counts[200] ?? 0), 0), seconds: Math.max(...runs.map((t) => t.seconds)), burst: 60 };
  });
  assert.ok(limited);
  assert.equal(limited.headers['x-weft-reason'], 'rate-limited');
  assert.equal(limited.headers['ratelimit-policy'], '"default/orders-global/global";q=60;w=1;weft-burst=60');
  const text = await adminMetrics(web.adminPort);
  assert.equal(metricSample(text, 'weft_proxy_rate_limited_total{policy="default/orders-global",direction="outbound",scope="global"}'), web429);
  assert.ok(metricSample(text, 'weft_proxy_rate_limit_check_duration_seconds_count') + metricSample(text, 'weft_proxy_rate_limit_redis_errors_total{policy="default/orders-global"}') >= 200, 'every request of web was checked in Redis');
});

test('Redis killed: open admits, closed refuses (503), the fallback bucket limits; Redis back, the limit holds again', async (t) => {
  await apply([globalPolicy()]);
  t.after(() => remove('orders-global').catch(() => undefined));
  await killRedis();
  // failureMode open (the default): no limit while Redis is away.
  const open = await offer(web, 100, 1);
  assert.deepEqual(open.counts, { 200: 100 });
  assert.ok(metricSample(await adminMetrics(web.adminPort), 'weft_proxy_rate_limit_redis_errors_total{policy="default/orders-global"}') >= 100);

  await apply([globalPolicy({ failureMode: 'closed' })]);
  const closed = await offer(web, 50, 1);
  assert.deepEqual(closed.counts, { 503: 50 });
  assert.deepEqual([...closed.reasons], ['rate-limit-unavailable']);

  // With a fallback, each proxy holds its own local bucket while Redis is away (10 rps, burst 10).
  await apply([globalPolicy({ failureMode: 'closed', fallbackLocalRequestsPerSecond: 10 })]);
  const fallback = await offer(web, 60, 2);
  assert.deepEqual(Object.keys(fallback.counts).sort(), ['200', '429']);
  assertRate('fallback', fallback.counts[200]!, 10, 10, fallback.seconds, 0.2);

  await startRedis();
  // ioredis reconnects on its own: traffic is held to the global limit again (60 rps of 150).
  let drainedAt = 0;
  await waitFor('the global limit in force again', async () => {
    const t = await offer(web, 150, 1);
    drainedAt = t.endedAt;
    return (t.counts[429] ?? 0) > 30 && (t.counts[200] ?? 0) > 0 && t.counts[503] === undefined;
  }, 20_000, 200);
  await measureRate('after Redis returned', 60, 0.1, 0, async () => {
    const back = await offer(web, 150, 3);
    assert.deepEqual([...back.reasons], ['rate-limited']);
    // The previous run left the bucket empty; it refilled for the moment between the two.
    const burst = Math.min(60, (60 * (back.startedAt - drainedAt)) / 1000);
    drainedAt = back.endedAt;
    return { admitted: back.counts[200] ?? 0, seconds: back.seconds, burst };
  });
});

test('a policy on an HTTPRoute limits the requests that route matched, in the caller\'s sidecar', async (t) => {
  const route = (name: string, prefix: string) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'default' }, spec: { parentRefs: [{ kind: 'Service', name: 'orders' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: prefix } }], backendRefs: [{ name: 'orders', port: 80 }] }] } });
  await apply([route('orders-limited', '/limited'), route('orders-rest', '/'), policy('route-limit', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'orders-limited' }], direction: 'outbound', local: { total: { requestsPerSecond: 0.5, burst: 3 } } })]);
  t.after(async () => {
    for (const [plural, name] of [['ratelimitpolicies', 'route-limit'], ['httproutes', 'orders-limited'], ['httproutes', 'orders-rest']]) await cp.api('DELETE', `/v1/resources/${plural}/default/${name}`);
  });
  const agent = new http.Agent({ keepAlive: true });
  const statuses: number[] = [];
  const before = app.hits();
  for (let i = 0; i < 8; i++) statuses.push((await call(web, agent, {}, '/limited/x')).status);
  const other: number[] = [];
  for (let i = 0; i < 8; i++) other.push((await call(web, agent, {}, '/other')).status);
  agent.destroy();
  assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
  assert.ok(statuses.filter((s) => s === 429).length >= 4, String(statuses));
  assert.deepEqual(other, Array(8).fill(200), 'the other route is not limited');
  assert.equal(app.hits() - before, statuses.filter((s) => s === 200).length + 8, 'refused in the caller\'s sidecar: never sent');
  assert.equal(metricSample(await adminMetrics(web.adminPort), 'weft_proxy_rate_limited_total{policy="default/route-limit",direction="outbound",scope="local"}'), statuses.filter((s) => s === 429).length);
});

test('bad input is refused with field paths and changes nothing', async () => {
  const bad = [
    policy('bad', { local: { total: { requestsPerSecond: 0 } } }),
    policy('bad', { local: { perHeader: [{ requestsPerSecond: 5 }] } }),
    policy('bad', { global: { redis: { address: 'not an address' }, requestsPerSecond: 5 } }),
    policy('bad', { global: { redis: { address: '127.0.0.1:1' }, requestsPerSecond: 5, failureMode: 'sometimes' } }),
  ];
  const paths = ['spec.local.total.requestsPerSecond', 'spec.local.perHeader[0].name', 'spec.global.redis.address', 'spec.global.failureMode'];
  for (const [i, item] of bad.entries()) {
    const r = await cp.api('POST', '/v1/apply', { items: [item] });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.ok(JSON.stringify(r.body).includes(paths[i]!), `${paths[i]} in ${JSON.stringify(r.body)}`);
  }
  assert.equal((await cp.api('GET', '/v1/resources/ratelimitpolicies/default/bad')).status, 404);
});

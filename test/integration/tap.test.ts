// `weft tap` (issue 15): a live stream of a service's requests from its sidecars. Two sidecars of
// `reviews` (round robin, so both carry requests) and a client `frontend` with two worker threads;
// `weft tap` runs as a real process, shows the requests with the right fields, filters them, honours
// --max-rps (what it does not show is counted), stops on Ctrl-C with exit 0 and the sidecars' taps
// detached, stops by itself after --count, and says so when a service has no sidecar.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { startEcho, type EchoServer } from '../support/upstreams.ts';
import { stopAll, waitFor, weftBin } from '../support/processes.ts';
import { runWeft } from '../support/cli.ts';
import { useAlgorithm } from '../support/policies.ts';
import type { TapRequestEvent } from '../../src/config/tap.ts';

let cp: ControlPlaneProcess;
const apps: EchoServer[] = [];
let reviewsA: SidecarProcess;
let reviewsB: SidecarProcess;
let frontend: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  apps.push(await startEcho('reviews-a'), await startEcho('reviews-b'));
  [reviewsA, reviewsB, frontend] = await Promise.all([
    startSidecar(cp.url, 'reviews', ['--app-port', String(apps[0].port)]),
    startSidecar(cp.url, 'reviews', ['--app-port', String(apps[1].port)]),
    startSidecar(cp.url, 'frontend', ['--workers', '2']),
  ]);
  await waitForPassing(cp, 'reviews', 2);
  await useAlgorithm(cp, 'reviews', 'round-robin', [frontend]);
  await waitForInSync(cp, 3);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all(apps.map((a) => a.close()));
  await cp?.cleanup();
});

/** A GET through frontend's outbound listener on a new connection (the kernel spreads those over its threads). */
function get(path: string, requestId: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: frontend.outboundPort, method, path: `http://reviews${path}`, headers: { host: 'reviews', 'x-request-id': requestId }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Tapping {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The request lines so far (with -o json). */
  events(): TapRequestEvent[];
  exited: Promise<number | null>;
}

/** Starts `weft tap ARGS` as a user would, and waits until it says it is tapping. */
async function startTap(args: string[]): Promise<Tapping> {
  const env = { ...process.env, WEFT_CONTROL: cp.url, WEFT_TOKEN: cp.adminToken!, WEFT_LOG_LEVEL: 'warn' };
  const child = spawn(weftBin, ['tap', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const t: Tapping = {
    child,
    stdout: () => out,
    stderr: () => err,
    events: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TapRequestEvent),
    exited,
  };
  await waitFor(`weft tap ${args.join(' ')} to start tapping (stderr: ${err})`, () => /tapping \d+ sidecars? of /.test(err) || child.exitCode !== null, 20_000);
  assert.equal(child.exitCode, null, `weft tap exited early: ${err}`);
  return t;
}

/** Taps open on a sidecar, from its own metrics. */
async function tapsActive(s: SidecarProcess): Promise<number> {
  return metricSample(await adminMetrics(s.adminPort), 'weft_proxy_taps_active');
}

test('weft tap shows live requests from both sidecars with their fields, and stops cleanly on Ctrl-C', { timeout: 90_000 }, async () => {
  const t = await startTap(['reviews', '-o', 'json']);
  try {
    assert.match(t.stderr(), /tapping 2 sidecars of reviews \(namespace default\)/);
    // Both sidecars have the tap open (the control plane opened their admin streams).
    await waitFor('a tap open on both reviews sidecars', async () => (await tapsActive(reviewsA)) === 1 && (await tapsActive(reviewsB)) === 1);
    const ids = Array.from({ length: 10 }, (_, i) => `tap-live-${i}`);
    for (const [i, id] of ids.entries()) assert.equal(await get(`/items/${i}`, id), 200);
    const events = await waitFor('every request shown', () => {
      const seen = t.events().filter((e) => ids.includes(e.requestId));
      return seen.length === ids.length ? seen : undefined;
    }, 20_000);
    for (const e of events) {
      const i = ids.indexOf(e.requestId);
      assert.equal(e.type, 'request');
      assert.equal(e.direction, 'inbound');
      assert.equal(e.method, 'GET');
      assert.equal(e.path, `/items/${i}`);
      assert.equal(e.status, 200);
      assert.ok(e.latencyMs > 0 && e.latencyMs < 10_000, String(e.latencyMs));
      assert.equal(e.source.service, 'frontend.default');
      assert.equal(e.destination.service, 'reviews.default');
      assert.match(e.source.identity ?? '', /^spiffe:\/\/.+\/ns\/default\/svc\/frontend$/, 'mutual TLS tells the caller\'s identity');
      assert.match(e.endpoint ?? '', /^127\.0\.0\.1:\d+$/, 'the app the inbound side called');
      assert.ok([reviewsA.id, reviewsB.id].includes(e.proxy), e.proxy);
      assert.ok(!Number.isNaN(Date.parse(e.time)));
    }
    // Round robin: each sidecar carried (and so showed) some of them.
    assert.deepEqual(new Set(events.map((e) => e.proxy)), new Set([reviewsA.id, reviewsB.id]));
    t.child.kill('SIGINT');
    assert.equal(await t.exited, 0, t.stderr());
    // The control plane closed the sidecars' streams when the CLI went away.
    await waitFor('the taps detached from both sidecars', async () => (await tapsActive(reviewsA)) === 0 && (await tapsActive(reviewsB)) === 0);
  } finally {
    t.child.kill('SIGKILL');
  }
});

test('filters: --path and --method show only the requests that match, in aligned columns', { timeout: 90_000 }, async () => {
  const t = await startTap(['reviews', '--path', '/keep', '--method', 'get']);
  try {
    await waitFor('a tap open on both reviews sidecars', async () => (await tapsActive(reviewsA)) === 1 && (await tapsActive(reviewsB)) === 1);
    // The ones left out first: by the time the last kept one shows, they would have too.
    for (let i = 0; i < 4; i++) assert.equal(await get(`/skip/${i}`, `tap-skip-${i}`), 200);
    for (let i = 0; i < 4; i++) assert.equal(await get(`/keep/${i}`, `tap-post-${i}`, 'POST'), 200);
    for (let i = 0; i < 4; i++) assert.equal(await get(`/keep/${i}`, `tap-keep-${i}`), 200);
    await waitFor('the kept requests shown', () => [0, 1, 2, 3].every((i) => t.stdout().includes(`tap-keep-${i}`)), 20_000);
    const lines = t.stdout().trimEnd().split('\n');
    assert.match(lines[0], /^TIME\s+DIR\s+METHOD\s+STATUS\s+LATENCY\s+AUTHORITY\+PATH\s+ROUTE\s+ENDPOINT\s+REASON\s+PROXY/);
    assert.equal(lines.length, 5, t.stdout());
    for (const line of lines.slice(1)) assert.match(line, /^\d\d:\d\d:\d\d\.\d{3}\s+in\s+GET\s+200\s+[\d.]+m?s\s+reviews\/keep\/\d\s+-\s+127\.0\.0\.1:\d+\s+-\s+reviews-\S+ tap-keep-\d$/);
    assert.doesNotMatch(t.stdout(), /tap-skip|tap-post/);
    t.child.kill('SIGINT');
    assert.equal(await t.exited, 0, t.stderr());
  } finally {
    t.child.kill('SIGKILL');
  }
});

test('a client sidecar with worker threads: every thread\'s requests are shown, and --count stops the tap by itself', { timeout: 90_000 }, async () => {
  const n = 24;
  const t = await startTap(['frontend', '--direction', 'outbound', '--count', String(n), '-o', 'json']);
  try {
    await waitFor('a tap open on frontend', async () => (await tapsActive(frontend)) === 1);
    const ids = Array.from({ length: n }, (_, i) => `tap-count-${i}`);
    for (const id of ids) assert.equal(await get('/x', id), 200);
    assert.equal(await t.exited, 0, t.stderr());
    const events = t.events();
    assert.deepEqual(events.map((e) => e.requestId).sort(), [...ids].sort(), 'each request once, none lost on the worker thread');
    for (const e of events) {
      assert.equal(e.direction, 'outbound');
      assert.equal(e.destination.service, 'reviews.default');
      assert.equal(e.proxy, frontend.id);
    }
    // The worker thread carried some of them (else this test would not reach the relay).
    assert.ok(metricSample(await adminMetrics(frontend.adminPort), 'weft_proxy_accepted_connections_total{listener="outbound",worker="1"}') > 0);
    await waitFor('the tap detached from frontend', async () => (await tapsActive(frontend)) === 0);
  } finally {
    t.child.kill('SIGKILL');
  }
});

test('--max-rps: requests over the rate are not shown but counted, and shown + dropped adds up', { timeout: 90_000 }, async () => {
  const t = await startTap(['frontend', '--max-rps', '2', '-o', 'json']);
  try {
    await waitFor('a tap open on frontend', async () => (await tapsActive(frontend)) === 1);
    const n = 40;
    const started = Date.now();
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      for (let i = w; i < n; i += 4) assert.equal(await get('/rate', `tap-rate-${i}`), 200);
    }));
    const elapsedS = (Date.now() - started) / 1000;
    const dropped = (): number => [...t.stderr().matchAll(/\((\d+) requests? of \S+ over --max-rps/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    const shown = (): number => t.events().filter((e) => e.requestId.startsWith('tap-rate-')).length;
    // Drops are reported every second: wait until every request is accounted for.
    await waitFor(`shown + dropped = ${n} (shown ${shown()}, dropped ${dropped()})`, () => shown() + dropped() === n, 20_000);
    // A bucket of 2 a second holding 2: at most 2 + 2 per second elapsed (plus two: worker events reach the main thread's bucket a little later).
    assert.ok(shown() >= 1 && shown() <= 2 + Math.ceil(2 * elapsedS) + 2, `shown ${shown()} in ${elapsedS}s`);
    assert.ok(dropped() > 0);
    t.child.kill('SIGINT');
    assert.equal(await t.exited, 0, t.stderr());
  } finally {
    t.child.kill('SIGKILL');
  }
});

test('a service with no sidecar: weft tap says so and exits non-zero; a bad flag is a usage error', { timeout: 60_000 }, async () => {
  const none = await runWeft(['tap', 'nosuch'], { control: cp.url });
  assert.equal(none.code, 1, none.stderr);
  assert.match(none.stderr, /service nosuch in namespace default has no connected sidecar to tap/);
  assert.match(none.stderr, /WEFT_ERR_TAP_NO_SIDECARS/);
  const bad = await runWeft(['tap', 'reviews', '--max-rps', 'lots', '--path', 'nope'], { control: cp.url });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--max-rps must be a number/);
  assert.match(bad.stderr, /--path must start with \//);
  // A read-only token may tap (it only reads).
  const readOnly = await cp.createAdminToken('read-only');
  const abort = new AbortController();
  const ro = await fetch(`${cp.url}/v1/tap?service=reviews`, { headers: { authorization: `Bearer ${readOnly}` }, signal: abort.signal });
  assert.equal(ro.status, 200);
  abort.abort();
  await waitFor('the read-only tap detached', async () => (await tapsActive(reviewsA)) === 0 && (await tapsActive(reviewsB)) === 0);
  // The API itself refuses a caller without a token, and checks its query.
  assert.equal((await cp.apiAs(null, 'GET', '/v1/tap?service=reviews')).status, 401);
  const q = await cp.api('GET', '/v1/tap?service=reviews&direction=sideways');
  assert.equal(q.status, 400);
  assert.deepEqual(q.body.error.details.map((d: { path: string }) => d.path), ['direction']);
});

test('a sidecar serves at most 8 taps at once, and closing them frees them', { timeout: 60_000 }, async () => {
  const aborts = Array.from({ length: 8 }, () => new AbortController());
  try {
    const opened = await Promise.all(aborts.map((a) => fetch(`http://127.0.0.1:${reviewsA.adminPort}/tap`, { signal: a.signal })));
    for (const r of opened) assert.equal(r.status, 200);
    const ninth = await fetch(`http://127.0.0.1:${reviewsA.adminPort}/tap`);
    assert.equal(ninth.status, 429);
    assert.equal((await ninth.json() as { error: { code: string } }).error.code, 'WEFT_ERR_TAP_TOO_MANY');
    // Through the control plane, the only other sidecar is tapped; the full one is named.
    const t = await startTap(['reviews']);
    assert.match(t.stderr(), /tapping 1 sidecar of reviews/);
    assert.match(t.stderr(), new RegExp(`! ${reviewsA.id} cannot be tapped: .*429`));
    t.child.kill('SIGINT');
    assert.equal(await t.exited, 0);
  } finally {
    for (const a of aborts) a.abort();
  }
  await waitFor('the taps freed', async () => (await tapsActive(reviewsA)) === 0);
});

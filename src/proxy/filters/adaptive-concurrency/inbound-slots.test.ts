// The adaptive concurrency filter in the inbound handler, over real sockets (an app server and the
// inbound listener on port 0): every way a request ends frees its slot — an answer, an app error, the
// app resetting the connection, the app unreachable, the client going away — and a request over
// the limit is shed at once with 503 concurrency-limit-exceeded.

import { Observer } from '../../observe/observer.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../../lib/clock.ts';
import { DEFAULT_ADAPTIVE_CONCURRENCY } from '../../../config/kinds/backend-policy-adaptive-concurrency.ts';
import { createProxyMetrics } from '../../admin/proxy-metrics.ts';
import { UpstreamPool } from '../../transport/upstream-pool.ts';
import { startInboundListener } from '../../inbound/inbound-listener.ts';
import { createAdaptiveConcurrency } from './adaptive-concurrency-filter.ts';
import { seededRandom } from '../../balance/fixtures.ts';

const node = { id: 'orders-1', service: 'orders', namespace: 'default', labels: {}, upstreams: [], weftVersion: 'test' };

async function setup(appPort?: number) {
  // /ok answers, /error answers 500, /reset destroys the socket, /hold answers only when told.
  const held: http.ServerResponse[] = [];
  const app = http.createServer((req, res) => {
    if (req.url === '/ok') res.end('ok');
    else if (req.url === '/error') {
      res.statusCode = 500;
      res.end('boom');
    } else if (req.url === '/reset') req.socket.destroy();
    else held.push(res);
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const metrics = createProxyMetrics();
  const clock = new ManualClock();
  const concurrency = createAdaptiveConcurrency({ service: 'orders.default', worker: '0', metrics, clock, random: seededRandom(1) });
  // minConcurrency 2, and a minRTT measurement that never ends here (requestCount high): the limit stays 2.
  concurrency.update({ ...DEFAULT_ADAPTIVE_CONCURRENCY, minRttCalcParams: { ...DEFAULT_ADAPTIVE_CONCURRENCY.minRttCalcParams, minConcurrency: 2, requestCount: 10_000 } });
  const pool = new UpstreamPool();
  const listener = await startInboundListener('127.0.0.1', 0, {
    node, proxyId: 'test', appHost: '127.0.0.1', appPort: appPort ?? (app.address() as AddressInfo).port, pool, metrics, tls: () => undefined, filters: () => undefined, concurrency, observer: new Observer({ node, proxyId: 'test' }),
  });
  const url = (path: string): string => `http://127.0.0.1:${listener.port}${path}`;
  return {
    held, metrics, concurrency, url,
    inFlight: () => concurrency.current()!.inFlight,
    async close() {
      for (const res of held) res.destroy();
      concurrency.close();
      listener.destroy();
      pool.close();
      await new Promise<void>((r) => app.close(() => r()));
    },
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('an answer, an app error, an app reset and an unreachable app each free their slot', async () => {
  const s = await setup();
  try {
    const ok = await fetch(s.url('/ok'));
    assert.equal(ok.status, 200);
    await ok.text();
    await until(() => s.inFlight() === 0, 'the answered request\'s slot');
    const err = await fetch(s.url('/error'));
    assert.equal(err.status, 500);
    await err.text();
    await until(() => s.inFlight() === 0, 'the 500\'s slot');
    const reset = await fetch(s.url('/reset'));
    assert.equal(reset.headers.get('x-weft-reason'), 'upstream-reset');
    await reset.text();
    await until(() => s.inFlight() === 0, 'the reset request\'s slot');
    // Each of them was admitted: more than the limit (2) in sequence never sheds.
    assert.equal(s.metrics.adaptiveConcurrencyRejected.get({ service: 'orders.default' }), 0);
  } finally {
    await s.close();
  }
  // The app is not there at all: the connect failure is a local reply, and the slot frees too.
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const u = await setup(deadPort);
  try {
    const r = await fetch(u.url('/ok'));
    assert.equal(r.headers.get('x-weft-reason'), 'upstream-connect-failure');
    await r.text();
    await until(() => u.inFlight() === 0, 'the unreachable app\'s slot');
  } finally {
    await u.close();
  }
});

test('over the limit: shed at once with 503 concurrency-limit-exceeded; a client going away frees its slot', async () => {
  const s = await setup();
  try {
    const aborts = [new AbortController(), new AbortController()];
    const pending = aborts.map((a) => fetch(s.url('/hold'), { signal: a.signal }).catch(() => undefined));
    await until(() => s.held.length === 2, 'two requests held by the app');
    assert.equal(s.inFlight(), 2);
    const shed = await fetch(s.url('/ok'));
    assert.equal(shed.status, 503);
    assert.equal(shed.headers.get('x-weft-reason'), 'concurrency-limit-exceeded');
    await shed.text();
    assert.equal(s.metrics.adaptiveConcurrencyRejected.get({ service: 'orders.default' }), 1);
    assert.equal(s.held.length, 2, 'the shed request never reached the app');
    // Both clients go away while the app still holds their requests: both slots free.
    for (const a of aborts) a.abort();
    await Promise.all(pending);
    await until(() => s.inFlight() === 0, 'the aborted requests\' slots');
    const after = await fetch(s.url('/ok'));
    assert.equal(after.status, 200);
    await after.text();
    assert.match(s.metrics.registry.render(), /weft_proxy_adaptive_concurrency_rejected_total\{service="orders.default"\} 1/);
  } finally {
    await s.close();
  }
});

test('a new snapshot with the same config keeps the controller; another config or none replaces it', () => {
  const metrics = createProxyMetrics();
  const ac = createAdaptiveConcurrency({ service: 'orders.default', worker: '0', metrics, clock: new ManualClock() });
  assert.equal(ac.current(), undefined);
  ac.update(DEFAULT_ADAPTIVE_CONCURRENCY);
  const first = ac.current()!;
  assert.ok(first.admit() >= 0);
  ac.update(structuredClone(DEFAULT_ADAPTIVE_CONCURRENCY));
  assert.equal(ac.current(), first, 'same config: same controller, its in-flight count kept');
  assert.equal(first.inFlight, 1);
  assert.equal(metrics.adaptiveConcurrencyLimit.get({ service: 'orders.default' }), 3);
  ac.update({ ...DEFAULT_ADAPTIVE_CONCURRENCY, sampleAggregatePercentile: 90 });
  assert.notEqual(ac.current(), first);
  ac.update(undefined);
  assert.equal(ac.current(), undefined);
  assert.equal(metrics.adaptiveConcurrencyLimit.get({ service: 'orders.default' }), 0);
  ac.close();
});

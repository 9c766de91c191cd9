// The probes against real local servers: HTTP (statuses, Host header, timeout), TCP, and a real
// grpc-js server implementing grpc.health.v1 (grpc-health-check's HealthImplementation).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { createProbe } from './probe.ts';
import type { HealthCheckSpec } from '../../config/catalog-types.ts';

const base = { intervalMs: 1_000, timeoutMs: 500, unhealthyThreshold: 1, healthyThreshold: 1 };

test('http: the status decides against expectedStatuses; Host and User-Agent are sent; slow answers time out', async () => {
  let status = 200;
  const seen: IncomingMessage['headers'][] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === '/slow') return; // never answers
    res.writeHead(status).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const target = { host: '127.0.0.1', port, userAgent: 'weft-test' };
  const probe = createProbe({ ...base, type: 'http', path: '/healthz', hostHeader: 'app.local' }, target);
  assert.deepEqual(await probe.run(), { ok: true, outcome: 'success', reason: 'passing' });
  status = 302;
  assert.equal((await probe.run()).ok, true, '3xx is healthy by default');
  status = 503;
  assert.deepEqual(await probe.run(), { ok: false, outcome: 'failure', reason: 'http check /healthz answered 503' });
  assert.equal(seen[0].host, 'app.local');
  assert.equal(seen[0]['user-agent'], 'weft-test');
  probe.close();

  const only204 = createProbe({ ...base, type: 'http', path: '/', expectedStatuses: [{ start: 204, end: 205 }] }, target);
  status = 200;
  assert.equal((await only204.run()).ok, false, '200 is outside [204, 205)');
  status = 204;
  assert.equal((await only204.run()).ok, true);
  only204.close();

  const slow = createProbe({ ...base, type: 'http', path: '/slow', timeoutMs: 100 }, target);
  const r = await slow.run();
  assert.equal(r.outcome, 'timeout');
  slow.close();
  server.closeAllConnections();
  await new Promise((res) => server.close(res));
});

test('tcp: a listening port passes, a closed one is a network failure', async () => {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const check: HealthCheckSpec = { ...base, type: 'tcp' };
  assert.equal((await createProbe(check, { host: '127.0.0.1', port, userAgent: 'x' }).run()).ok, true);
  await new Promise((r) => server.close(r));
  const closed = await createProbe(check, { host: '127.0.0.1', port, userAgent: 'x' }).run();
  assert.equal(closed.ok, false);
  assert.equal(closed.outcome, 'network_failure');
});

test('grpc: grpc.health.v1.Health/Check; SERVING passes, NOT_SERVING and an unknown service fail', async () => {
  const health = new HealthImplementation({ '': 'SERVING', 'reviews.v1': 'NOT_SERVING' });
  const server = new grpc.Server();
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const target = { host: '127.0.0.1', port, userAgent: 'weft-test' };
  const whole = createProbe({ ...base, type: 'grpc', serviceName: '' }, target);
  const reviews = createProbe({ ...base, type: 'grpc', serviceName: 'reviews.v1' }, target);
  const unknown = createProbe({ ...base, type: 'grpc', serviceName: 'nope' }, target);
  try {
    assert.deepEqual(await whole.run(), { ok: true, outcome: 'success', reason: 'passing' });
    assert.deepEqual(await reviews.run(), { ok: false, outcome: 'failure', reason: 'grpc check of reviews.v1 answered NOT_SERVING' });
    const u = await unknown.run();
    assert.equal(u.outcome, 'failure');
    assert.match(u.reason, /NOT_FOUND/);
    health.setStatus('reviews.v1', 'SERVING');
    assert.equal((await reviews.run()).ok, true, 'the same channel sees the change');
  } finally {
    whole.close();
    reviews.close();
    unknown.close();
    server.forceShutdown();
  }
  const down = createProbe({ ...base, type: 'grpc', timeoutMs: 300 }, target);
  const r = await down.run();
  down.close();
  assert.equal(r.ok, false);
  assert.ok(r.outcome === 'network_failure' || r.outcome === 'timeout', r.outcome);
});

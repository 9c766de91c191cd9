import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FateRecord, fateView } from './fate.ts';
import { FateRing, FateStore } from './fate-ring.ts';
import { acceptedRequestId, newRequestId } from './request-id.ts';
import { AccessLog, accessLogLine } from './access-log.ts';
import { Observer } from './observer.ts';
import type { SpanExport } from './otlp-export.ts';

const fate = (id: string, status = 200, reason?: 'upstream-connect-failure'): FateRecord => {
  const f = new FateRecord('outbound', id, 1000, 'GET', 'reviews', '/stars', 'catalog.default');
  f.status = status;
  f.reason = reason;
  f.endedAt = 1012.5;
  return f;
};

test('request ids: a sane one is kept; absent, repeated, oversized or odd ones are not', () => {
  assert.equal(acceptedRequestId('abc-123'), 'abc-123');
  assert.equal(acceptedRequestId('f81d4fae-7dec-11d0-a765-00a0c91e6bf6'), 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
  for (const bad of [undefined, '', 'x'.repeat(129), 'has space', 'quote"', 'new\nline', ['a', 'b']]) assert.equal(acceptedRequestId(bad as string), undefined, String(bad));
  assert.match(newRequestId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('new request ids are unique and UUID-shaped across many', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = newRequestId();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(acceptedRequestId(id), id);
    ids.add(id);
  }
  assert.equal(ids.size, 10_000);
});

test('a fate records attempts, their failures and decisions', () => {
  const f = fate('r1', 503, 'upstream-connect-failure');
  f.attempt('10.0.0.1:8080', 'spiffe://weft.local/ns/default/svc/reviews', 503, 'connect', 1000, 1003);
  f.failedWith('peer-app-unreachable', 'peer sidecar answered 503 upstream-connect-failure');
  f.decide('fault: delay 5ms');
  const v = fateView(f, 'p1');
  assert.equal(v.attempts.length, 1);
  assert.deepEqual(v.attempts[0], { endpoint: '10.0.0.1:8080', identity: 'spiffe://weft.local/ns/default/svc/reviews', status: 503, failure: 'peer-app-unreachable', detail: 'peer sidecar answered 503 upstream-connect-failure', startMs: 0, durationMs: 3 });
  assert.deepEqual(v.decisions, ['fault: delay 5ms']);
  assert.equal(v.durationMs, 12.5);
  assert.equal(v.inFlight, false);
  assert.ok(f.failed);
  assert.ok(!fate('ok').failed);
});

test('the ring keeps the last N, newest first, and finds by id', () => {
  const ring = new FateRing(3);
  for (let i = 1; i <= 5; i++) ring.push(fate(`r${i}`));
  assert.deepEqual(ring.recent().map((f) => f.requestId), ['r5', 'r4', 'r3']);
  assert.deepEqual(ring.recent(2).map((f) => f.requestId), ['r5', 'r4']);
  assert.equal(ring.find('r2').length, 0);
  assert.equal(ring.find('r4').length, 1);
  assert.throws(() => new FateRing(0), RangeError);
});

test('failures outlive a burst of successes in their own ring', () => {
  const store = new FateStore(4, 2);
  store.add(fate('bad', 503, 'upstream-connect-failure'));
  for (let i = 0; i < 10; i++) store.add(fate(`ok${i}`));
  assert.equal(store.recentRing.find('bad').length, 0);
  assert.equal(store.find('bad').length, 1);
  assert.equal(store.find('ok9').length, 1);
  assert.equal(store.recentRing.recent().length, 4);
});

test('an access-log line: JSON with the fields asked for, absent values left out', () => {
  const f = fate('r1');
  f.traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  f.destinationService = 'reviews.default';
  f.attempt('10.0.0.1:8080', undefined, 200, undefined, 1001, 1011);
  const line = accessLogLine(f, 'p1');
  assert.ok(line.endsWith('\n'));
  const o = JSON.parse(line) as Record<string, unknown>;
  assert.equal(o.requestId, 'r1');
  assert.equal(o.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(o.status, 200);
  assert.equal(o.attempts, 1);
  assert.equal(o.endpoint, '10.0.0.1:8080');
  assert.equal(o.durationMs, 12.5);
  assert.equal(o.upstreamDurationMs, 10);
  assert.equal(o.sourceService, 'catalog.default');
  assert.equal(o.destinationService, 'reviews.default');
  assert.match(o.time as string, /^\d{4}-\d\d-\d\dT/);
  assert.ok(!('reason' in o) && !('route' in o));
  assert.deepEqual(Object.keys(JSON.parse(accessLogLine(f, 'p1', ['status', 'requestId']))), ['status', 'requestId']);
});

test('access-log sampling: the rate decides, errors are always logged unless told otherwise', () => {
  const lines: string[] = [];
  const sink = { write: (l: string) => void lines.push(l), close: async () => {} };
  let r = 0;
  const random = () => (r = (r + 0.1) % 1); // 0.1, 0.2, …: a deterministic sweep
  const log = new AccessLog({ enabled: true, sampleRate: 0.25, alwaysLogErrors: true, path: 'stdout' }, sink, 'p1', random);
  for (let i = 0; i < 20; i++) log.log(fate(`ok${i}`));
  assert.ok(lines.length >= 4 && lines.length <= 6, String(lines.length));
  lines.length = 0;
  for (let i = 0; i < 5; i++) log.log(fate(`bad${i}`, 503, 'upstream-connect-failure'));
  assert.equal(lines.length, 5);
  const none = new AccessLog({ enabled: true, sampleRate: 0, alwaysLogErrors: false, path: 'stdout' }, sink, 'p1', random);
  lines.length = 0;
  none.log(fate('bad', 503, 'upstream-connect-failure'));
  assert.equal(lines.length, 0);
});

const node = { id: 'p1', service: 'catalog', namespace: 'default', labels: {}, upstreams: [], weftVersion: 'test' };

test('observer: an id is kept or made and sent on; tracing off passes traceparent untouched', () => {
  const o = new Observer({ node, proxyId: 'p1' });
  const kept = o.begin('outbound', 'GET', 'reviews', '/', { 'x-request-id': 'abc' }, 1, 'catalog.default');
  assert.equal(kept.requestId, 'abc');
  assert.equal(kept.headers, undefined, 'nothing to add: no allocation of headers');
  const made = o.begin('outbound', 'GET', 'reviews', '/', { 'x-request-id': 'bad id' }, 1, 'catalog.default');
  assert.notEqual(made.requestId, 'bad id');
  assert.deepEqual(made.headers, { 'x-request-id': made.requestId });
  const traced = o.begin('inbound', 'GET', 'reviews', '/', { 'x-request-id': 'abc', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, 1, 'catalog.default');
  assert.equal(traced.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(traced.spanId, undefined);
  assert.equal(traced.headers, undefined);
  o.end(traced, 200, undefined, 5);
  o.end(traced, 500, undefined, 9); // once only
  assert.equal(o.fates.find('abc')[0].status, 200);
});

test('observer: tracing on makes a child span (parent-based sampling) or a new head-sampled trace, and exports sampled ones', async () => {
  const exported: FateRecord[] = [];
  const spanExport = async (): Promise<SpanExport> => ({ export: (f) => void exported.push(f), shutdown: async () => {} });
  let next = 0;
  const rolls = [0.9, 0.1];
  const o = new Observer({ node, proxyId: 'p1', spanExport, random: () => rolls[next++ % rolls.length] });
  o.apply({ tracing: { sampleRate: 0.5, otlpEndpoint: 'http://127.0.0.1:4318/v1/traces' } });
  await new Promise((r) => setImmediate(r));
  assert.ok(o.tracingReady);
  const child = o.begin('inbound', 'GET', 'a', '/', { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, 1, 'x.default');
  assert.equal(child.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(child.parentSpanId, '00f067aa0ba902b7');
  assert.ok(child.sampled, "the caller's decision stands");
  assert.equal(child.headers?.traceparent, `00-4bf92f3577b34da6a3ce929d0e0e4736-${child.spanId}-01`);
  const unsampled = o.begin('outbound', 'GET', 'a', '/', {}, 1, 'x.default'); // roll 0.9 ≥ 0.5
  const sampled = o.begin('outbound', 'GET', 'a', '/', { traceparent: 'malformed' }, 1, 'x.default'); // roll 0.1 < 0.5
  assert.equal(unsampled.sampled, false);
  assert.ok(unsampled.headers?.traceparent.endsWith('-00'));
  assert.ok(sampled.sampled);
  assert.equal(sampled.parentSpanId, undefined, 'a malformed traceparent starts a new trace');
  for (const f of [child, unsampled, sampled]) o.end(f, 200, undefined, 2);
  assert.deepEqual(exported, [child, sampled]);
});

test('an access log to a file appends its lines', async () => {
  const { mkdtemp, readFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { openSink } = await import('./access-log.ts');
  const dir = await mkdtemp(join(tmpdir(), 'weft-access-log-'));
  try {
    const path = join(dir, 'access.log');
    const errors: Error[] = [];
    const sink = openSink(path, (e) => errors.push(e));
    const log = new AccessLog({ enabled: true, sampleRate: 1, alwaysLogErrors: true, path }, sink, 'p1');
    log.log(fate('a'));
    log.log(fate('b', 503, 'upstream-connect-failure'));
    await log.close();
    const lines = (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { requestId: string; reason?: string });
    assert.deepEqual(lines.map((l) => l.requestId), ['a', 'b']);
    assert.equal(lines[1].reason, 'upstream-connect-failure');
    assert.deepEqual(errors, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an attempt recorded from an endpoint snapshot formats address:port only when read, and in JSON', () => {
  const f = fate('r9');
  f.attempt({ address: '10.0.0.7', port: 9090 }, undefined, 200, undefined, 1000, 1004);
  assert.equal(f.attempts![0].endpoint, '10.0.0.7:9090');
  assert.equal(JSON.parse(JSON.stringify(f.attempts![0])).endpoint, '10.0.0.7:9090');
  assert.equal(fateView(f, 'p1').attempts[0].endpoint, '10.0.0.7:9090');
});

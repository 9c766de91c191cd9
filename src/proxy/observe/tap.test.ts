import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../lib/clock.ts';
import { Registry } from '../../lib/metrics.ts';
import type { TapQuery, TapRequestEvent } from '../../config/tap.ts';
import { FateRecord } from './fate.ts';
import { Tap, TapHub, tapEvent, tapMatches } from './tap.ts';
import { TapSessions, type TapRelay } from './tap-sessions.ts';
import { Observer } from './observer.ts';
import { WEFT_VERSION } from '../../config/version.ts';

const fate = (o: { direction?: 'inbound' | 'outbound'; method?: string; authority?: string; path?: string; destination?: string } = {}): FateRecord => {
  const f = new FateRecord(o.direction ?? 'outbound', 'r1', 1000, o.method ?? 'GET', o.authority ?? 'reviews', o.path ?? '/stars/1', 'catalog.default');
  f.destinationService = o.destination ?? 'reviews.default';
  f.status = 200;
  f.endedAt = 1012.25;
  return f;
};
const all = (maxRps = 100): TapQuery => ({ maxRps, filter: {} });

test('filters: each field given must match, absent ones match everything', () => {
  const f = fate();
  assert.ok(tapMatches({}, f));
  assert.ok(tapMatches({ method: 'GET', pathPrefix: '/stars', authority: 'reviews', direction: 'outbound', to: 'reviews.default' }, f));
  assert.ok(!tapMatches({ method: 'POST' }, f));
  assert.ok(!tapMatches({ pathPrefix: '/star/' }, f));
  assert.ok(tapMatches({ authority: 'reviews' }, fate({ authority: 'Reviews' })), 'authority is case-insensitive');
  assert.ok(!tapMatches({ authority: 'reviews' }, fate({ authority: 'reviews:80' })), 'and exact');
  assert.ok(!tapMatches({ direction: 'inbound' }, f));
  assert.ok(tapMatches({ to: 'reviews' }, f), 'a bare name matches the service in any namespace');
  assert.ok(!tapMatches({ to: 'review' }, f), 'but not a service whose name it only begins');
  assert.ok(!tapMatches({ to: 'reviews.prod' }, f));
  assert.ok(!tapMatches({ to: 'reviews' }, fate({ destination: 'unknown' })));
});

test('the event carries the request\'s fields; the last attempt is the endpoint', () => {
  const f = fate();
  f.route = 'default/reviews';
  f.rule = '0';
  f.sourceIdentity = 'spiffe://weft.local/ns/default/svc/catalog';
  f.attempt('10.0.0.1:80', undefined, 503, 'retriable-status-code', 1000, 1005);
  f.attempt('10.0.0.2:80', 'spiffe://weft.local/ns/default/svc/reviews', 200, undefined, 1005, 1012);
  const e = tapEvent(f, 'p1');
  assert.deepEqual({ ...e, time: undefined }, {
    type: 'request', proxy: 'p1', time: undefined, direction: 'outbound', requestId: 'r1', method: 'GET', authority: 'reviews', path: '/stars/1',
    status: 200, latencyMs: 12.25, route: 'default/reviews', rule: '0', endpoint: '10.0.0.2:80', attempts: 2,
    source: { service: 'catalog.default', identity: 'spiffe://weft.local/ns/default/svc/catalog' }, destination: { service: 'reviews.default' },
  });
  assert.equal(e.time, new Date(performance.timeOrigin + 1000).toISOString());
  const local = fate();
  local.status = 503;
  local.reason = 'no-healthy-endpoints';
  assert.equal(tapEvent(local, 'p1').reason, 'no-healthy-endpoints');
  assert.equal('endpoint' in tapEvent(local, 'p1'), false);
});

test('rate: a bucket of maxRps holding one second\'s worth; the rest is counted as dropped', () => {
  const clock = new ManualClock();
  const got: TapRequestEvent[] = [];
  const tap = new Tap(all(5), () => clock.now(), (e) => (got.push(e), true));
  for (let i = 0; i < 8; i++) tap.offer(fate(), 'p1');
  assert.equal(got.length, 5, 'the burst: one second\'s worth');
  assert.equal(tap.takeDropped(), 3);
  assert.equal(tap.takeDropped(), 0, 'taken once');
  clock.advance(400); // 2 tokens back
  for (let i = 0; i < 3; i++) tap.offer(fate(), 'p1');
  assert.equal(got.length, 7);
  assert.equal(tap.takeDropped(), 1);
  clock.advance(10_000); // refills to the burst, no more
  for (let i = 0; i < 10; i++) tap.offer(fate(), 'p1');
  assert.equal(got.length, 12);
  assert.equal(tap.takeDropped(), 5);
});

test('rate below one a second: one event, then one every 1/maxRps seconds', () => {
  const clock = new ManualClock();
  let n = 0;
  const tap = new Tap(all(0.5), () => clock.now(), () => (n++, true));
  tap.offer(fate(), 'p');
  tap.offer(fate(), 'p');
  assert.equal(n, 1);
  clock.advance(1_999);
  tap.offer(fate(), 'p');
  assert.equal(n, 1);
  clock.advance(1);
  tap.offer(fate(), 'p');
  assert.equal(n, 2);
  assert.equal(tap.takeDropped(), 2);
});

test('a reader that cannot take more: the event is dropped and counted, not queued', () => {
  const clock = new ManualClock();
  let full = false;
  const got: TapRequestEvent[] = [];
  const tap = new Tap(all(), () => clock.now(), (e) => (full ? false : (got.push(e), true)));
  tap.offer(fate(), 'p');
  full = true;
  tap.offer(fate(), 'p');
  tap.offer(fate(), 'p');
  full = false;
  tap.offer(fate(), 'p');
  assert.equal(got.length, 2);
  assert.equal(tap.takeDropped(), 2);
});

test('filtered-out requests neither take tokens nor count as dropped', () => {
  const clock = new ManualClock();
  let n = 0;
  const tap = new Tap({ maxRps: 1, filter: { method: 'POST' } }, () => clock.now(), () => (n++, true));
  for (let i = 0; i < 5; i++) tap.offer(fate(), 'p');
  tap.offer(fate({ method: 'POST' }), 'p');
  assert.equal(n, 1);
  assert.equal(tap.takeDropped(), 0);
});

test('the hub is active only while a tap is open, and the observer publishes only then', () => {
  const node = { id: 'n', service: 'catalog', namespace: 'default', labels: {}, upstreams: [], weftVersion: WEFT_VERSION };
  const o = new Observer({ node, proxyId: 'p1' });
  assert.equal(o.taps.active, false);
  const got: TapRequestEvent[] = [];
  const tap = new Tap(all(), Date.now, (e) => (got.push(e), true));
  o.taps.add(tap);
  assert.equal(o.taps.active, true);
  const f = o.begin('outbound', 'GET', 'reviews', '/x', {}, performance.now(), 'catalog.default');
  o.end(f, 200, undefined, performance.now());
  o.end(f, 200, undefined, performance.now()); // ends once
  assert.deepEqual(got.map((e) => [e.proxy, e.path, e.status]), [['p1', '/x', 200]]);
  o.taps.remove(tap);
  assert.equal(o.taps.active, false);
  o.end(o.begin('outbound', 'GET', 'reviews', '/y', {}, performance.now(), 'catalog.default'), 200, undefined, performance.now());
  assert.equal(got.length, 1);
  o.close();
});

test('sessions: at most the cap at once, relayed to workers, closed everywhere once, with metrics', () => {
  const clock = new ManualClock();
  const hub = new TapHub('p1');
  const relayed: string[] = [];
  const relay: TapRelay = { openTap: (id) => relayed.push(`open ${id}`), closeTap: (id) => relayed.push(`close ${id}`) };
  const registry = new Registry();
  const metrics = { events: registry.counter('weft_proxy_tap_events_total', 'e', ['result']), active: registry.gauge('weft_proxy_taps_active', 'a') };
  const sessions = new TapSessions({ hub, relay, clock, max: 2, metrics });
  const got: TapRequestEvent[] = [];
  const a = sessions.open(all(1), (e) => (got.push(e), true))!;
  const b = sessions.open(all(), () => true)!;
  assert.equal(sessions.open(all(), () => true), undefined, 'the cap');
  assert.match(registry.render(), /^weft_proxy_taps_active 2$/m);
  hub.publish(fate());
  hub.publish(fate());
  // Events from a worker pass the same bucket: the rate is the sidecar's, not each thread's.
  sessions.fromWorker(1, tapEvent(fate(), 'p1'));
  sessions.droppedOnWorker(1, 4);
  assert.equal(got.length, 1);
  assert.equal(a.takeDropped(), 6);
  a.close();
  a.close();
  assert.deepEqual(relayed, ['open 1', 'open 2', 'close 1']);
  assert.equal(hub.active, true, 'b is still open');
  sessions.fromWorker(1, tapEvent(fate(), 'p1')); // late, after close: ignored
  assert.equal(got.length, 1);
  b.close();
  assert.equal(hub.active, false);
  assert.equal(sessions.size, 0);
  const text = registry.render();
  assert.match(text, /^weft_proxy_taps_active 0$/m);
  assert.match(text, /^weft_proxy_tap_events_total\{result="sent"\} 3$/m);
  assert.match(text, /^weft_proxy_tap_events_total\{result="dropped"\} 6$/m);
});

test('sessions: a reader that never drains has its drops in the metric at once, not when it next reads', () => {
  const clock = new ManualClock();
  const registry = new Registry();
  const metrics = { events: registry.counter('weft_proxy_tap_events_total', 'e', ['result']), active: registry.gauge('weft_proxy_taps_active', 'a') };
  const hub = new TapHub('p1');
  const sessions = new TapSessions({ hub, clock, metrics });
  let full = false;
  const s = sessions.open(all(), () => !full)!;
  hub.publish(fate());
  full = true; // the socket's buffer is full, and the stream never calls takeDropped
  for (let i = 0; i < 5; i++) hub.publish(fate());
  sessions.droppedOnWorker(1, 3);
  const text = registry.render();
  assert.match(text, /^weft_proxy_tap_events_total\{result="sent"\} 1$/m);
  assert.match(text, /^weft_proxy_tap_events_total\{result="dropped"\} 8$/m);
  assert.equal(s.takeDropped(), 8, 'the stream still gets its count once it drains');
  assert.match(registry.render(), /^weft_proxy_tap_events_total\{result="dropped"\} 8$/m, 'not counted twice');
  s.close();
});

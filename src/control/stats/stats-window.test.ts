import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../lib/clock.ts';
import { STATS_BUCKETS, STATS_LATENCY_BOUNDS_MS, type EdgeStats } from '../../config/stats-report.ts';
import { StatsWindow } from './stats-window.ts';

const bucket = (ms: number): number => STATS_LATENCY_BOUNDS_MS.indexOf(ms);
const edge = (direction: EdgeStats['direction'], source: string, destination: string, requests: number, successes: number, ms = 10): EdgeStats => ({
  direction,
  source,
  destination,
  requests,
  successes,
  latency: Array.from({ length: STATS_BUCKETS }, (_, i) => (i === bucket(ms) ? requests : 0)),
});

function setup(start = 1_700_000_000_000) {
  const clock = new ManualClock(start);
  return { clock, window: new StatsWindow({ clock, resolutionMs: 5_000, retentionMs: 60_000 }) };
}

test('services come from the inbound side, edges from the outbound side, with rates over the window', () => {
  const { clock, window } = setup();
  clock.advance(60_000);
  window.record('catalog-1', 'catalog.default', { intervalMs: 5000, edges: [edge('inbound', 'frontend.default', 'catalog.default', 100, 99)] });
  window.record('catalog-2', 'catalog.default', { intervalMs: 5000, edges: [edge('inbound', 'frontend.default', 'catalog.default', 20, 20, 100)] });
  window.record('frontend-1', 'frontend.default', { intervalMs: 5000, edges: [edge('outbound', 'frontend.default', 'catalog.default', 120, 119)] });
  const s = window.summary(60);
  assert.equal(s.windowSeconds, 60);
  assert.equal(s.generatedAt, clock.now());
  assert.equal(s.services.length, 1);
  const [catalog] = s.services;
  assert.equal(catalog.service, 'catalog.default');
  assert.equal(catalog.requests, 120);
  assert.equal(catalog.successes, 119);
  assert.equal(catalog.rps, 2);
  assert.equal(catalog.successRate, 0.9917);
  assert.equal(catalog.proxies, 2);
  // 100 in (5, 10] ms and 20 in (50, 100] ms, merged.
  assert.ok(catalog.latencyMs.p50! > 5 && catalog.latencyMs.p50! <= 10);
  assert.ok(catalog.latencyMs.p95! > 50 && catalog.latencyMs.p95! <= 100);
  assert.deepEqual(s.edges.map((e) => [e.source, e.destination, e.requests, e.successes, e.rps]), [['frontend.default', 'catalog.default', 120, 119, 2]]);
});

test('the window rolls: reports older than the window drop out, whole slots at a time', () => {
  const { clock, window } = setup(1_700_000_000_000);
  clock.advance(120_000);
  window.record('a', 'a.default', { intervalMs: 5000, edges: [edge('inbound', 'b.default', 'a.default', 10, 10)] });
  clock.advance(20_000);
  window.record('a', 'a.default', { intervalMs: 5000, edges: [edge('inbound', 'b.default', 'a.default', 5, 5)] });
  assert.equal(window.summary(60).services[0].requests, 15);
  assert.equal(window.summary(10).services[0].requests, 5);
  clock.advance(45_000); // the first report is now 65 s old
  assert.equal(window.summary(60).services[0].requests, 5);
  clock.advance(60_000); // retention is 60 s: both are gone, and nothing was kept for them
  assert.deepEqual(window.summary(60).services, []);
  assert.equal(window.retentionSeconds, 60);
});

test('slots are reused after a lap of the ring: old counts never leak into new ones', () => {
  const { clock, window } = setup(1_700_000_000_000);
  clock.advance(100_000);
  window.record('a', 'a.default', { intervalMs: 5000, edges: [edge('inbound', 'b.default', 'a.default', 7, 7)] });
  clock.advance(65_000); // 13 slots of 5 s later: the same slot of the 13-slot ring
  window.record('a', 'a.default', { intervalMs: 5000, edges: [edge('inbound', 'b.default', 'a.default', 1, 0)] });
  const [a] = window.summary(60).services;
  assert.equal(a.requests, 1);
  assert.equal(a.successRate, 0);
});

test('rps divides by the uptime while the control plane is younger than the window', () => {
  const { clock, window } = setup();
  clock.advance(10_000);
  window.record('a', 'a.default', { intervalMs: 5000, edges: [edge('inbound', 'b.default', 'a.default', 50, 50)] });
  assert.equal(window.summary(60).services[0].rps, 5);
});

test('a service filter keeps that service and the edges to or from it', () => {
  const { clock, window } = setup();
  clock.advance(60_000);
  window.record('f', 'frontend.default', {
    intervalMs: 5000,
    edges: [edge('outbound', 'frontend.default', 'catalog.default', 10, 10), edge('outbound', 'frontend.default', 'reviews.default', 4, 4), edge('inbound', 'unknown', 'frontend.default', 3, 3)],
  });
  window.record('c', 'catalog.default', { intervalMs: 5000, edges: [edge('outbound', 'catalog.default', 'reviews.default', 2, 1), edge('inbound', 'frontend.default', 'catalog.default', 10, 10)] });
  const s = window.summary(60, 'catalog.default');
  assert.deepEqual(s.services.map((x) => x.service), ['catalog.default']);
  assert.deepEqual(s.edges.map((e) => `${e.source}>${e.destination}`), ['frontend.default>catalog.default', 'catalog.default>reviews.default']);
  // Unfiltered: busiest first.
  assert.deepEqual(window.summary(60).services.map((x) => x.service), ['catalog.default', 'frontend.default']);
});

test('a slot holds a bounded number of edges; the rest are counted as dropped', () => {
  const clock = new ManualClock();
  const window = new StatsWindow({ clock, maxEdgesPerSlot: 2 });
  window.record('x', 'x.default', { intervalMs: 5000, edges: ['a', 'b', 'c'].map((n) => edge('outbound', 'x.default', `${n}.default`, 1, 1)) });
  assert.equal(window.summary().edges.length, 2);
  assert.equal(window.droppedEdges, 1);
});

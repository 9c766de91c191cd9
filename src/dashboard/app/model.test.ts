// Unit tests of the dashboard's pure model: the graph assembled from catalog + stats, the number
// formats shown on edges, and which routes and policies count as attached to a service.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptOutcome, buildGraph, edgeLabel, failureWhy, formatMs, formatRate, formatRps, formatTime, healthClass, parseServiceId, requestHref, resourcesFor, type ApiResource, type StatsResponse } from './model.ts';

const signals = (requests: number, successes: number, p99: number) => ({ requests, successes, rps: requests / 60, successRate: requests ? successes / requests : 0, latencyMs: { p50: p99 / 4, p95: p99 / 2, p99 } });

test('the graph holds every catalog service, every service the stats name, and one edge per stats edge', () => {
  const stats: StatsResponse = {
    windowSeconds: 60,
    generatedAt: 1,
    services: [{ service: 'catalog.default', proxies: 2, ...signals(1200, 1188, 21) }],
    edges: [
      { source: 'loadgen.test', destination: 'frontend.default', ...signals(600, 600, 30) },
      { source: 'frontend.default', destination: 'catalog.default', ...signals(600, 594, 25) },
    ],
  };
  const g = buildGraph([{ name: 'catalog', namespace: 'default', instances: 2, passing: 1 }, { name: 'frontend', namespace: 'default', instances: 1, passing: 1 }], stats);
  assert.deepEqual(g.nodes.map((n) => n.id), ['catalog.default', 'frontend.default', 'loadgen.test']);
  assert.equal(g.nodes[0].passing, 1);
  assert.equal(g.nodes[0].stats?.proxies, 2);
  assert.deepEqual(g.nodes[2], { id: 'loadgen.test', name: 'loadgen', namespace: 'test' });
  assert.deepEqual(g.edges.map((e) => e.id), ['frontend.default->catalog.default', 'loadgen.test->frontend.default']);
});

test('without stats the graph is the catalog alone', () => {
  const g = buildGraph([{ name: 'a', namespace: 'x', instances: 0, passing: 0 }], undefined);
  assert.deepEqual(g.nodes.map((n) => n.id), ['a.x']);
  assert.equal(g.edges.length, 0);
});

test('service ids split at the last dot', () => {
  assert.deepEqual(parseServiceId('reviews-v1.shop'), { name: 'reviews-v1', namespace: 'shop' });
  assert.deepEqual(parseServiceId('passthrough'), { name: 'passthrough', namespace: '' });
});

test('numbers are shown with units and a dash when there is nothing to show', () => {
  assert.equal(formatRps(20), '20.0 rps');
  assert.equal(formatRps(1234.4), '1234 rps');
  assert.equal(formatRate(0.99, 100), '99.0%');
  assert.equal(formatRate(0, 0), '–');
  assert.equal(formatMs(3.14159), '3.14 ms');
  assert.equal(formatMs(250.4), '250 ms');
  assert.equal(formatMs(12_345), '12.3 s');
  assert.equal(formatMs(undefined), '–');
  assert.equal(formatMs(null), '–');
  // No requests: the API sends latencyMs null.
  assert.equal(edgeLabel({ requests: 0, successes: 0, rps: 0, successRate: 0, latencyMs: null }), '0.0 rps · – · p99 –');
  assert.equal(edgeLabel({ requests: 600, successes: 594, rps: 10, successRate: 0.99, latencyMs: { p50: 4, p95: 11, p99: 25 } }), '10.0 rps · 99.0% · p99 25 ms');
});

test('health classes follow the success rate; no requests is idle', () => {
  assert.equal(healthClass(undefined), 'idle');
  assert.equal(healthClass(signals(0, 0, 1)), 'idle');
  assert.equal(healthClass(signals(100, 100, 1)), 'good');
  assert.equal(healthClass(signals(100, 95, 1)), 'warn');
  assert.equal(healthClass(signals(100, 50, 1)), 'bad');
});

test('routes attach by parentRefs and policies by targetRefs, in the resource namespace unless named', () => {
  const r = (kind: string, name: string, namespace: string, spec: Record<string, unknown>): ApiResource => ({ apiVersion: 'v', kind, metadata: { name, namespace }, spec });
  const all = [
    r('HTTPRoute', 'to-reviews', 'default', { parentRefs: [{ kind: 'Service', name: 'reviews' }] }),
    r('HTTPRoute', 'consumer', 'shop', { parentRefs: [{ kind: 'Service', name: 'reviews', namespace: 'default' }] }),
    r('HTTPRoute', 'other', 'default', { parentRefs: [{ kind: 'Service', name: 'ratings' }] }),
    r('HTTPRoute', 'elsewhere', 'shop', { parentRefs: [{ kind: 'Service', name: 'reviews' }] }),
    r('BackendPolicy', 'lb', 'default', { targetRefs: [{ kind: 'Service', name: 'reviews' }] }),
    r('RateLimitPolicy', 'rl', 'default', { targetRef: { kind: 'Service', name: 'reviews' } }),
    r('AuthorizationPolicy', 'authz', 'default', { targetRefs: [{ kind: 'Service', name: 'ratings' }] }),
    r('Service', 'reviews', 'default', { ports: [{ port: 80 }] }),
  ];
  const got = resourcesFor(all, 'reviews', 'default');
  assert.deepEqual(got.routes.map((x) => x.metadata.name), ['to-reviews', 'consumer']);
  assert.deepEqual(got.policies.map((x) => x.metadata.name), ['lb', 'rl']);
});

test('request fates in words: the inspector link, the time, an attempt, why a request failed', () => {
  assert.equal(requestHref('a/b c'), '#/requests/a%2Fb%20c');
  assert.equal(formatTime('2026-11-30T10:01:02.345Z'), '10:01:02.345');
  assert.equal(formatTime('yesterday'), 'yesterday');
  assert.equal(attemptOutcome({ status: 200 }), 'answered 200');
  assert.equal(attemptOutcome({ status: 0, failure: 'connect', detail: 'ECONNREFUSED' }), 'connect (ECONNREFUSED)');
  assert.equal(attemptOutcome({ status: 503, failure: 'retriable-status-code' }), 'retriable-status-code, answered 503');
  assert.equal(failureWhy({ status: 503, reason: 'fault-abort' }), 'fault-abort');
  assert.equal(failureWhy({ status: 502, failure: 'reset', endpoint: '10.0.0.1:80' }), 'reset at 10.0.0.1:80');
  assert.equal(failureWhy({ status: 500, endpoint: '10.0.0.1:80' }), '10.0.0.1:80 answered 500');
  assert.equal(failureWhy({ status: 0 }), 'no answer');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProxyMetrics } from '../admin/proxy-metrics.ts';
import { createRequestRecorder } from '../http/request-metrics.ts';
import { STATS_BUCKETS, STATS_LATENCY_BOUNDS_MS, validateStatsReport } from '../../config/stats-report.ts';
import { StatsReporter } from './stats-reporter.ts';

const dumpOf = (m: ReturnType<typeof createProxyMetrics>) => m.registry.dump();

test('reports per edge what the request counters gained since the last report, summed over threads', () => {
  const main = createProxyMetrics(0);
  const worker = createProxyMetrics(1);
  const out = createRequestRecorder(main, 'outbound');
  const outWorker = createRequestRecorder(worker, 'outbound');
  const inbound = createRequestRecorder(main, 'inbound');
  out.record('frontend', 'catalog.default', 200, undefined, 0.004);
  out.record('frontend', 'catalog.default', 503, 'no-healthy-endpoints', 0.0001);
  outWorker.record('frontend', 'catalog.default', 404, 'no-route', 0.002); // a local failure reply, under 500
  outWorker.record('frontend', 'catalog.default', 302, 'route-redirect', 0.002); // an answer, not a failure
  inbound.record('unknown', 'frontend.default', 200, undefined, 20);

  const reporter = new StatsReporter('frontend.default', 1_000);
  const first = reporter.next([dumpOf(main), dumpOf(worker)], 6_000);
  assert.ok(first);
  assert.equal(first.report.intervalMs, 5_000);
  assert.ok(validateStatsReport(first.report).ok);
  const byKey = new Map(first.report.edges.map((e) => [`${e.direction} ${e.source} ${e.destination}`, e]));
  const outEdge = byKey.get('outbound frontend.default catalog.default')!;
  assert.equal(outEdge.requests, 4);
  assert.equal(outEdge.successes, 2);
  assert.equal(outEdge.latency[STATS_LATENCY_BOUNDS_MS.indexOf(5)], 1);
  assert.equal(outEdge.latency[STATS_LATENCY_BOUNDS_MS.indexOf(2.5)], 2);
  assert.equal(outEdge.latency[0], 1);
  const inEdge = byKey.get('inbound unknown frontend.default')!;
  assert.equal(inEdge.requests, 1);
  assert.equal(inEdge.latency[STATS_BUCKETS - 1], 1, '20 s is beyond the last bound');

  // Not committed (not sent): the next report still carries it, and the new request.
  out.record('frontend', 'catalog.default', 200, undefined, 0.004);
  const second = reporter.next([dumpOf(main), dumpOf(worker)], 11_000)!;
  assert.equal(second.report.edges.find((e) => e.direction === 'outbound')!.requests, 5);
  assert.equal(second.report.intervalMs, 10_000);
  second.commit();
  assert.equal(reporter.next([dumpOf(main), dumpOf(worker)], 16_000), undefined, 'nothing new: nothing to send');
  out.record('frontend', 'catalog.default', 200, undefined, 0.004);
  const third = reporter.next([dumpOf(main), dumpOf(worker)], 21_000)!;
  assert.deepEqual(third.report.edges.map((e) => [e.direction, e.requests, e.successes]), [['outbound', 1, 1]]);
  assert.equal(third.report.intervalMs, 10_000);
});

test('an edge whose totals went down (a restarted worker) starts again from its new totals', () => {
  const reporter = new StatsReporter('a.default', 0);
  const before = createProxyMetrics(1);
  const rec = createRequestRecorder(before, 'outbound');
  for (let i = 0; i < 5; i++) rec.record('a', 'b.default', 200, undefined, 0.001);
  reporter.next([before.registry.dump()], 1_000)!.commit();
  const after = createProxyMetrics(1);
  createRequestRecorder(after, 'outbound').record('a', 'b.default', 200, undefined, 0.001);
  const r = reporter.next([after.registry.dump()], 2_000)!;
  assert.equal(r.report.edges[0].requests, 1);
  assert.ok(validateStatsReport(r.report).ok);
});

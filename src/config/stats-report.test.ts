import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STATS_BUCKETS, validateStatsReport } from './stats-report.ts';

const latency = (n: number, bucket = 3): number[] => Array.from({ length: STATS_BUCKETS }, (_, i) => (i === bucket ? n : 0));
const edge = (over: Record<string, unknown> = {}) => ({ direction: 'outbound', source: 'frontend.default', destination: 'catalog.default', requests: 10, successes: 9, latency: latency(10), ...over });

test('a well-formed report passes with its edges', () => {
  const r = validateStatsReport({ type: 'stats', intervalMs: 5000, edges: [edge(), edge({ direction: 'inbound', source: 'unknown' }), edge({ destination: 'passthrough' })] });
  assert.ok(r.ok);
  assert.equal(r.value.edges.length, 3);
  assert.equal(r.value.intervalMs, 5000);
});

test('bad reports are refused with the field paths of every problem', () => {
  const paths = (raw: unknown): string[] => {
    const r = validateStatsReport(raw);
    assert.ok(!r.ok);
    return r.errors.map((e) => e.path);
  };
  assert.deepEqual(paths('nope'), ['stats']);
  assert.deepEqual(paths({ edges: [] }), ['intervalMs']);
  assert.deepEqual(paths({ intervalMs: 5000 }), ['edges']);
  assert.deepEqual(paths({ intervalMs: 0, edges: [] }), ['intervalMs']);
  assert.deepEqual(paths({ intervalMs: 5000, edges: [edge({ direction: 'sideways' })] }), ['edges[0].direction']);
  assert.deepEqual(paths({ intervalMs: 5000, edges: [edge({ source: 'Not A Service' })] }), ['edges[0].source']);
  assert.deepEqual(paths({ intervalMs: 5000, edges: [edge({ requests: -1 })] }), ['edges[0].requests']);
  assert.deepEqual(paths({ intervalMs: 5000, edges: [edge({ successes: 11 })] }), ['edges[0].successes']);
  assert.deepEqual(paths({ intervalMs: 5000, edges: [edge({ requests: 1.5 })] }), ['edges[0].requests']);
  assert.deepEqual(paths({ intervalMs: 5000, edges: [edge({ latency: [1, 2] })] }), ['edges[0].latency']);
  assert.deepEqual(paths({ intervalMs: 5000, edges: [edge({ latency: latency(9) })] }), ['edges[0].latency']);
  assert.deepEqual(paths({ intervalMs: 5000, edges: [edge(), edge({ latency: latency(10).map((n, i) => (i === 0 ? 'x' : n)) })] }), ['edges[1].latency[0]']);
  assert.deepEqual(paths({ intervalMs: 5000, edges: Array.from({ length: 2001 }, () => edge()) }), ['edges']);
});

test('the report\'s latency buckets are the sidecar histogram\'s, in ms (a drift would mislabel every percentile)', async () => {
  const { latencyBuckets } = await import('../lib/metrics.ts');
  const { STATS_LATENCY_BOUNDS_MS } = await import('./stats-report.ts');
  assert.deepEqual(STATS_LATENCY_BOUNDS_MS, latencyBuckets.map((s) => Math.round(s * 1e6) / 1e3));
});

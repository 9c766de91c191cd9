import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProxyMetrics } from '../admin/proxy-metrics.ts';
import { createRouteRecorder } from './request-metrics.ts';

const routeLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('weft_proxy_route_requests_total{')).sort();

test('the route recorder counts the same series Counter.inc would, one per route, rule, destination, status and reason', () => {
  const cached = createProxyMetrics();
  const plain = createProxyMetrics();
  const recorder = createRouteRecorder(cached);
  const calls: [string, string, string, number, string][] = [
    ['default/api', '0', 'api.default', 200, ''],
    ['default/api', '0', 'api.default', 200, ''],
    ['default/api', '0', 'api.default', 503, 'no-healthy-upstream'],
    ['default/api', '1', 'api-canary.default', 200, ''],
    ['default/api', 'none', 'api.default', 404, 'no-route'],
    ['other/web', '0', 'api.default', 200, ''],
  ];
  for (const [route, rule, destination, status, reason] of calls) {
    recorder.record(route, rule, destination, status, reason);
    plain.routeRequests.inc({ route, rule, destination_service: destination, code: String(status), reason });
  }
  const got = routeLines(cached.registry.render());
  assert.deepEqual(got, routeLines(plain.registry.render()));
  assert.equal(got.length, 5);
  assert.ok(got.includes('weft_proxy_route_requests_total{route="default/api",rule="0",destination_service="api.default",code="200",reason=""} 2'), got.join('\n'));
});

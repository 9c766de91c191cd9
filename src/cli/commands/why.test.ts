import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeFate } from './why.ts';
import type { FateView } from '../../config/fate-view.ts';

test('a fate told in words: route, decisions, each attempt and the local reply', () => {
  const f: FateView = {
    requestId: 'r1', proxy: 'client-1', direction: 'outbound', time: '2026-11-30T08:00:00.000Z', sampled: false,
    source: { service: 'client.default' }, destination: { service: 'reviews.default' },
    method: 'GET', authority: 'reviews', path: '/stars', route: 'default/reviews', rule: '1',
    filters: [],
    decisions: ['fault: delay 5ms'],
    attempts: [
      { endpoint: '10.0.0.1:8080', status: 0, failure: 'connect', detail: 'ECONNREFUSED', startMs: 0, durationMs: 1.25 },
      { endpoint: '10.0.0.2:8080', status: 503, failure: 'retriable-status-code', startMs: 2, durationMs: 30 },
    ],
    status: 503, reason: 'all-endpoints-tried', message: 'upstream 10.0.0.2:8080 answered 503, and no endpoint is left to retry on',
    bytesReceived: 0, bytesSent: 0, durationMs: 33.5, inFlight: false,
  };
  const text = describeFate(f);
  assert.match(text, /^client-1 outbound client\.default → reviews\.default: GET reviews\/stars → 503 all-endpoints-tried in 34ms/);
  assert.match(text, /route: default\/reviews rule 1 matched/);
  assert.match(text, /decision: fault: delay 5ms/);
  assert.match(text, /attempt 1: 10\.0\.0\.1:8080 failed: connect \(ECONNREFUSED\) after 1\.3ms/);
  assert.match(text, /attempt 2: 10\.0\.0\.2:8080 failed: retriable-status-code, answered 503 after 30ms/);
  assert.match(text, /local reply: 503 all-endpoints-tried — upstream 10\.0\.0\.2:8080 answered 503/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TAP_HEADER, tapLine, tapNotice } from './tap.ts';
import type { TapRequestEvent } from '../../config/tap.ts';

const event = (o: Partial<TapRequestEvent> = {}): TapRequestEvent => ({
  type: 'request', proxy: 'reviews-1', time: '2026-11-30T10:31:02.114Z', direction: 'inbound', requestId: 'r-1', method: 'GET',
  authority: 'reviews', path: '/items/1', status: 200, latencyMs: 3.14159, endpoint: '127.0.0.1:9000', attempts: 1,
  source: { service: 'frontend.default' }, destination: { service: 'reviews.default' }, ...o,
});

test('a request in fixed columns lines up with the header', () => {
  const line = tapLine(event());
  assert.equal(line, '10:31:02.114  in   GET      200        3.14ms  reviews/items/1                   -                         127.0.0.1:9000         -                   reviews-1 r-1');
  const cols = (s: string) => [...s.matchAll(/(?<=\s{2}|^)\S/g)].map((m) => m.index);
  assert.deepEqual(cols(line).slice(0, 3), cols(TAP_HEADER).slice(0, 3));
  const retried = tapLine(event({ direction: 'outbound', status: 503, latencyMs: 1234.5, route: 'default/reviews', rule: '1', attempts: 2, reason: 'all-endpoints-tried' }));
  assert.match(retried, /^10:31:02\.114  out  GET      503\s+1\.23s  reviews\/items\/1\s+default\/reviews#1\s+127\.0\.0\.1:9000 \(2 tries\)\s+all-endpoints-tried\s+reviews-1 r-1$/);
  assert.match(tapLine(event({ latencyMs: 42.25 })), / 42\.3ms /);
});

test('control lines become notices for stderr; requests do not', () => {
  assert.equal(tapNotice({ type: 'tapping', service: 'reviews', namespace: 'default', proxies: ['a', 'b'], unreachable: [{ proxy: 'c', error: 'its admin listener answered 429' }] }),
    'tapping 2 sidecars of reviews (namespace default)… Ctrl-C to stop\n! c cannot be tapped: its admin listener answered 429\n');
  assert.match(tapNotice({ type: 'tapping', service: 'r', namespace: 'default', proxies: ['a'], unreachable: [] })!, /^tapping 1 sidecar of r /);
  assert.equal(tapNotice({ type: 'dropped', proxy: 'a', dropped: 1 }), '(1 request of a over --max-rps, or while the terminal was slow, not shown)\n');
  assert.equal(tapNotice({ type: 'attached', proxy: 'a' }), 'a connected: tapping it too\n');
  assert.equal(tapNotice({ type: 'detached', proxy: 'a', error: 'gone' }), '! a is no longer tapped: gone\n');
  assert.equal(tapNotice(event()), undefined);
});

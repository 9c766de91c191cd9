import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeProxyRows, type ProxyRow } from './proxy-rows.ts';

const row = (id: string, replica: string, connected: boolean, service = 'web'): ProxyRow => ({ id, service, namespace: 'default', remote: '127.0.0.1:1', connected, connectedAt: '2026-01-01T00:00:00.000Z', inSync: connected, replica });

test('every replica\'s proxies in one list: a connected row beats a disconnected one, this replica\'s beats another\'s', () => {
  const own = [row('p1', 'A', true), row('p2', 'A', false), row('p3', 'A', true, 'api')];
  const others = [row('p1', 'B', true), row('p2', 'B', true), row('p4', 'B', true, 'api')];
  const merged = mergeProxyRows(own, others);
  assert.deepEqual(merged.map((r) => `${r.service}/${r.id}@${r.replica}`), ['api/p3@A', 'api/p4@B', 'web/p1@A', 'web/p2@B']);
});

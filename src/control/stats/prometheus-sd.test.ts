import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prometheusTargets } from './prometheus-sd.ts';
import { statsQuery } from '../api/routes.ts';
import { ProxyRegistry } from '../stream/proxy-registry.ts';
import { isWeftError } from '../../lib/errors.ts';

const node = (id: string, over: Record<string, unknown> = {}) => ({ id, service: 'catalog', namespace: 'shop', labels: {}, upstreams: [], weftVersion: 'x', ...over });

test('every connected sidecar that named its admin listener is a target, with its labels', () => {
  const registry = new ProxyRegistry();
  registry.connected(node('c-1', { adminAddress: '10.0.0.5:15000', labels: { 'topology.kubernetes.io/zone': 'z1', 'topology.kubernetes.io/region': 'r1' } }), 'r', 0);
  registry.connected(node('c-2', { adminAddress: '10.0.0.6:15000' }), 'r', 0);
  registry.connected(node('old'), 'r', 0); // an older sidecar: no adminAddress
  const gone = registry.connected(node('c-3', { adminAddress: '10.0.0.7:15000' }), 'r', 0);
  registry.disconnected(gone, 1);
  assert.deepEqual(prometheusTargets(registry.list(2)), [
    { targets: ['10.0.0.5:15000'], labels: { __metrics_path__: '/metrics', service: 'catalog', namespace: 'shop', proxy_id: 'c-1', zone: 'z1', region: 'r1' } },
    { targets: ['10.0.0.6:15000'], labels: { __metrics_path__: '/metrics', service: 'catalog', namespace: 'shop', proxy_id: 'c-2' } },
  ]);
  for (const g of prometheusTargets(registry.list(2))) for (const k of Object.keys(g.labels)) assert.match(k, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
});

test('GET /v1/stats query: window defaults to 60 and is bounded by the retention; service is NAME.NAMESPACE', () => {
  const q = (s: string) => statsQuery(new URL(`http://x/v1/stats${s}`), 600);
  assert.deepEqual(q(''), { windowSeconds: 60 });
  assert.deepEqual(q('?window=600&service=catalog.shop'), { windowSeconds: 600, service: 'catalog.shop' });
  for (const bad of ['?window=0', '?window=601', '?window=1.5', '?window=abc', '?service=catalog', '?service=Catalog.shop']) {
    assert.throws(() => q(bad), (err: unknown) => isWeftError(err) && err.code === 'WEFT_ERR_API_BAD_REQUEST' && err.status === 400, bad);
  }
});

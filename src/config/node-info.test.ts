import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateNodeInfo } from './node-info.ts';

const node = (over: Record<string, unknown> = {}) => ({ id: 'catalog-1', service: 'catalog', labels: {}, upstreams: [], weftVersion: 'x', ...over });

test('adminAddress is optional HOST:PORT, kept when given', () => {
  const none = validateNodeInfo(node());
  assert.ok(none.ok);
  assert.equal('adminAddress' in none.value, false, 'an older sidecar: no address, nothing made up');
  for (const ok of ['127.0.0.1:15000', '[::1]:15000', 'catalog-1.pods.local:9901']) {
    const r = validateNodeInfo(node({ adminAddress: ok }));
    assert.ok(r.ok, ok);
    assert.equal(r.value.adminAddress, ok);
  }
  for (const bad of ['127.0.0.1', ':15000', 'http://x:1', 'a b:1', 15000]) {
    const r = validateNodeInfo(node({ adminAddress: bad }));
    assert.ok(!r.ok, String(bad));
    assert.deepEqual(r.errors.map((e) => e.path), ['node.adminAddress']);
  }
});

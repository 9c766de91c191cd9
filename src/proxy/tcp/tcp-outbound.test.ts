// The client side's decisions: the --tcp-upstream syntax, the weighted backend pick, and where a
// connection goes (the port itself, a TCPRoute backend, or a refusal with its reason).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../lib/errors.ts';
import { ServiceTable } from '../balance/service-table.ts';
import { DEFAULT_BACKEND_POLICY } from '../../config/kinds/backend-policy.ts';
import type { ProxySnapshot, ServiceSnapshot } from '../../config/snapshot-types.ts';
import { parseTcpUpstream, pickBackend, resolveTarget } from './tcp-outbound.ts';

test('parseTcpUpstream reads NAME[.NAMESPACE]:PORT=[HOST:]LOCAL_PORT', () => {
  assert.deepEqual(parseTcpUpstream('redis:6379=16379'), { service: 'redis', port: 6379, localPort: 16379 });
  assert.deepEqual(parseTcpUpstream('redis.cache:6379=127.0.0.1:0'), { service: 'redis', namespace: 'cache', port: 6379, localPort: 0, bindHost: '127.0.0.1' });
  for (const bad of ['redis', 'redis:6379', 'redis=1', 'Redis:6379=1', 'a.b.c:1=1', 'redis:0=1', 'redis:70000=1', 'redis:6379=70000']) {
    assert.throws(() => parseTcpUpstream(bad), (e: unknown) => e instanceof WeftError && e.code === 'WEFT_ERR_CLI_USAGE', bad);
  }
});

test('pickBackend splits by weight and never picks weight 0', () => {
  const backends = [{ weight: 1, ref: 'a' }, { weight: 0, ref: 'z' }, { weight: 3, ref: 'b' }];
  assert.equal(pickBackend(backends, () => 0)?.ref, 'a');
  assert.equal(pickBackend(backends, () => 0.24)?.ref, 'a');
  assert.equal(pickBackend(backends, () => 0.25)?.ref, 'b');
  assert.equal(pickBackend(backends, () => 0.999)?.ref, 'b');
  assert.equal(pickBackend([{ weight: 0, ref: 'z' }], () => 0.5), undefined);
});

function service(name: string, extra: Partial<ServiceSnapshot> = {}): ServiceSnapshot {
  return { name, namespace: 'default', ports: [{ name: 'redis', port: 6379, protocol: 'tcp', endpoints: [] }], policy: DEFAULT_BACKEND_POLICY, ...extra };
}

function table(services: ServiceSnapshot[]): ServiceTable {
  const t = new ServiceTable();
  const snapshot: ProxySnapshot = { version: '1', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', services };
  t.update(snapshot);
  return t;
}

test('resolveTarget: the port itself, a TCPRoute backend by weight, or why not', () => {
  const up = { service: 'redis', port: 6379, localPort: 0 };
  const split = service('redis', {
    tcpRoutes: [{ name: 'default/split', port: 6379, rule: '0', backends: [
      { weight: 1, ref: 'Service/default/redis-a:6379', service: { name: 'redis-a', namespace: 'default', port: 6379 } },
      { weight: 1, ref: 'Service/default/missing', unresolved: 'BackendNotFound' },
    ] }],
  });
  const t = table([split, service('redis-a')]);
  const first = resolveTarget(t, up, 'default', () => 0.1);
  assert.equal(first.kind === 'port' && `${first.entry.service.name}:${first.route}`, 'redis-a:default/split');
  assert.deepEqual(resolveTarget(t, up, 'default', () => 0.9), { kind: 'refuse', result: 'no-backend', destination: 'redis.default' });
  const plain = resolveTarget(table([service('redis')]), up, 'default', () => 0);
  assert.equal(plain.kind === 'port' && plain.entry.service.name, 'redis');
  assert.deepEqual(resolveTarget(t, { ...up, port: 1 }, 'default', () => 0), { kind: 'refuse', result: 'no-service', destination: 'redis.default' });
  assert.deepEqual(resolveTarget(undefined, up, 'shop', () => 0), { kind: 'refuse', result: 'no-service', destination: 'redis.shop' });
});

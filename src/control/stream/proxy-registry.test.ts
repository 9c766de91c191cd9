// The proxy registry's record of issued certificates: kept per proxy id, forgotten once expired and
// its proxy is gone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyRegistry } from './proxy-registry.ts';

const node = (id: string) => ({ id, service: 'web', namespace: 'default', labels: {}, upstreams: [], weftVersion: 'test' });

test('the latest certificate per proxy is kept; an expired one goes once its proxy is gone', () => {
  const registry = new ProxyRegistry(1_000);
  registry.certificateIssued('web-1', { identity: 'spiffe://weft.local/ns/default/svc/web', serial: 'A1', notAfter: 10_000 });
  registry.certificateIssued('web-1', { identity: 'spiffe://weft.local/ns/default/svc/web', serial: 'A2', notAfter: 20_000 });
  registry.certificateIssued('web-2', { identity: 'spiffe://weft.local/ns/default/svc/web', serial: 'B1', notAfter: 10_000 });
  const status = registry.connected(node('web-1'), '127.0.0.1', 0);
  assert.equal(registry.certificate('web-1')?.serial, 'A2');

  registry.list(15_000);
  assert.equal(registry.certificate('web-2'), undefined, 'expired, and no stream of that proxy');
  registry.list(25_000);
  assert.equal(registry.certificate('web-1')?.serial, 'A2', 'expired but its proxy is still listed: shown (as expired)');
  registry.disconnected(status, 25_000);
  registry.list(27_000);
  assert.equal(registry.certificate('web-1'), undefined);
});

test('a proxy id belongs to the identity first certified for it, and while connected to its keys only', () => {
  const registry = new ProxyRegistry();
  const WEB = 'spiffe://weft.local/ns/default/svc/web';
  assert.equal(registry.refuseProxyId('web-1', WEB, undefined), undefined, 'an unknown id is free');
  registry.bindProxyId('web-1', WEB, 'key-1');
  assert.match(registry.refuseProxyId('web-1', 'spiffe://weft.local/ns/default/svc/other', 'key-9') ?? '', /belongs to/);
  assert.equal(registry.refuseProxyId('web-1', WEB, 'key-2'), undefined, 'same workload, proxy not connected: may take it (a restarted sidecar)');
  const status = registry.connected(node('web-1'), '127.0.0.1', 0);
  assert.match(registry.refuseProxyId('web-1', WEB, 'key-2') ?? '', /another key/, 'connected: only its keys');
  assert.match(registry.refuseProxyId('web-1', WEB, undefined) ?? '', /another key/, 'a join token cannot take a connected id');
  assert.equal(registry.refuseProxyId('web-1', WEB, 'key-1'), undefined);
  // Renewal: the new key joins, the old ones stay a while (up to three).
  for (const k of ['key-2', 'key-3', 'key-4']) registry.bindProxyId('web-1', WEB, k);
  assert.equal(registry.refuseProxyId('web-1', WEB, 'key-4'), undefined);
  assert.equal(registry.refuseProxyId('web-1', WEB, 'key-2'), undefined);
  assert.match(registry.refuseProxyId('web-1', WEB, 'key-1') ?? '', /another key/, 'the oldest key is forgotten');
  registry.disconnected(status, 1);
});

test('bindings: each new or changed one is handed on (replicas share them), adopted ones are not, and adopted ones bind', () => {
  const shared: string[] = [];
  const registry = new ProxyRegistry(1_000, (id, b) => shared.push(`${id}=${b.identity}:${b.keys.join('+')}`));
  registry.bindProxyId('p1', 'spiffe://t/ns/default/svc/web', 'k1');
  registry.bindProxyId('p1', 'spiffe://t/ns/default/svc/web', 'k1');
  registry.bindProxyId('p1', 'spiffe://t/ns/default/svc/web', 'k2');
  assert.deepEqual(shared, ['p1=spiffe://t/ns/default/svc/web:k1', 'p1=spiffe://t/ns/default/svc/web:k2+k1']);
  // Bound on another replica: refused here to another workload, as if bound here.
  registry.adoptBinding('p2', { identity: 'spiffe://t/ns/default/svc/reviews', keys: ['k9'] });
  assert.equal(shared.length, 2);
  assert.match(registry.refuseProxyId('p2', 'spiffe://t/ns/default/svc/web', undefined) ?? '', /belongs to spiffe:\/\/t\/ns\/default\/svc\/reviews/);
  registry.forgetBinding('p2');
  assert.equal(registry.refuseProxyId('p2', 'spiffe://t/ns/default/svc/web', undefined), undefined);
});

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

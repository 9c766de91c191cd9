// Pre-connect: which endpoints a snapshot warms (bounded, one service at a time in turn), that a
// pool fills to its count and no further, that an unreachable endpoint ends quietly, that the
// readiness time box holds with an injected clock, and, over real mutual TLS, that the connections
// after the first resume its session while the server still reads the caller's identity.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../lib/clock.ts';
import { DEFAULT_BACKEND_POLICY } from '../../config/kinds/backend-policy.ts';
import type { EndpointSnapshot, NodeInfo, ProxySnapshot, ServiceSnapshot } from '../../config/snapshot-types.ts';
import type { ServiceProtocol } from '../../config/catalog-types.ts';
import { preconnect, preconnectTargets, withinTime } from './preconnect.ts';
import { UpstreamPool } from './upstream-pool.ts';
import { certificateIdentity, createMeshTls, type Credentials } from './mesh-tls.ts';
import { createTestCa, type TestCa } from '../../../test/support/test-ca.ts';

const node: NodeInfo = { id: 'web-1', service: 'web', namespace: 'default', labels: {}, upstreams: [], weftVersion: 'test' };

function ep(address: string, port = 15006, health: EndpointSnapshot['health'] = 'passing'): EndpointSnapshot {
  return { id: `${address}:${port}`, address, port, weight: 1, health, labels: {} };
}

function service(name: string, endpoints: EndpointSnapshot[], protocol: ServiceProtocol = 'http', namespace = 'default'): ServiceSnapshot {
  return { name, namespace, ports: [{ name: 'p', port: 80, protocol, endpoints }], policy: DEFAULT_BACKEND_POLICY };
}

function snapshot(...services: ServiceSnapshot[]): ProxySnapshot {
  return { version: '1', hash: 'h', outboundTrafficPolicy: 'ALLOW_ANY', services };
}

const addresses = (targets: { address: string }[]): string[] => targets.map((t) => t.address);

test('with no --upstreams, every service but its own; HTTP/1.1 ports, endpoints not critical, not yet connected', () => {
  const s = snapshot(
    service('web', [ep('10.0.0.1')]),
    service('orders', [ep('10.0.1.1'), ep('10.0.1.2', 15006, 'critical'), ep('10.0.1.3', 15006, 'warning'), ep('10.0.1.4')]),
    service('grpc', [ep('10.0.2.1')], 'grpc'),
    service('db', [ep('10.0.3.1')], 'tcp'),
  );
  const targets = preconnectTargets(s, node, 16, (address) => address === '10.0.1.4');
  assert.deepEqual(addresses(targets), ['10.0.1.1', '10.0.1.3']);
  assert.equal(targets[0]!.connectMs, DEFAULT_BACKEND_POLICY.timeouts.connectMs);
  assert.equal(targets[0]!.idleMs, DEFAULT_BACKEND_POLICY.timeouts.idleMs);
});

test('with --upstreams, only the services named (NAME or NAME.NAMESPACE)', () => {
  const s = snapshot(service('orders', [ep('10.0.1.1')]), service('users', [ep('10.0.2.1')]), service('pay', [ep('10.0.3.1')], 'http', 'billing'), service('pay', [ep('10.0.4.1')]));
  const targets = preconnectTargets(s, { ...node, upstreams: ['users', 'pay.billing'] }, 16, () => false);
  assert.deepEqual(addresses(targets), ['10.0.2.1', '10.0.3.1']);
});

test('at most `max` endpoints, one from each service in turn; an endpoint shared by two services counts once', () => {
  const s = snapshot(
    service('big', [ep('10.0.1.1'), ep('10.0.1.2'), ep('10.0.1.3'), ep('10.0.1.4')]),
    service('small', [ep('10.0.2.1')]),
    service('alias', [ep('10.0.1.1'), ep('10.0.3.1')]),
  );
  assert.deepEqual(addresses(preconnectTargets(s, node, 4, () => false)), ['10.0.1.1', '10.0.2.1', '10.0.1.2', '10.0.3.1']);
  assert.deepEqual(addresses(preconnectTargets(s, node, 100, () => false)), ['10.0.1.1', '10.0.2.1', '10.0.1.2', '10.0.3.1', '10.0.1.3', '10.0.1.4']);
  assert.deepEqual(preconnectTargets(s, node, 0, () => false), []);
});

test('withinTime: true when the work ends first, false when the time box ends first', async () => {
  const clock = new ManualClock();
  let finish!: () => void;
  const slow = withinTime(new Promise<void>((r) => (finish = r)), 1_000, clock);
  clock.advance(999);
  const fast = withinTime(Promise.resolve(), 1_000, clock);
  assert.equal(await fast, true);
  clock.advance(1);
  assert.equal(await slow, false);
  finish();
  assert.equal(await withinTime(Promise.reject(new Error('x')), 1_000, clock), true, 'a failed warm-up also ends the wait');
});

async function plainServer(): Promise<{ port: number; accepted: () => number; close(): void }> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

test('a pool fills to its count and no further; the connections wait idle for requests', async () => {
  const server = await plainServer();
  const pool = new UpstreamPool();
  try {
    const targets = [{ address: '127.0.0.1', port: server.port, identity: undefined, connectMs: 2_000, idleMs: 10_000 }];
    assert.deepEqual(await preconnect(pool, targets, 2, undefined), { opened: 2, failed: 0 });
    assert.equal(pool.h1('127.0.0.1', server.port).idleCount, 2);
    assert.deepEqual(await preconnect(pool, targets, 2, undefined), { opened: 0, failed: 0 }, 'already full');
    assert.deepEqual(await preconnect(pool, targets, 0, undefined), { opened: 0, failed: 0 }, '0 is off');
    assert.equal(server.accepted(), 2);
  } finally {
    pool.close();
    server.close();
  }
});

test('an endpoint that refuses connections ends its pre-connect quietly, counted as failed', async () => {
  const server = await plainServer();
  const port = server.port;
  server.close();
  const pool = new UpstreamPool();
  try {
    const r = await preconnect(pool, [{ address: '127.0.0.1', port, identity: undefined, connectMs: 2_000, idleMs: 10_000 }], 2, undefined);
    assert.deepEqual(r, { opened: 0, failed: 1 });
    assert.equal(pool.h1('127.0.0.1', port).openCount, 0);
  } finally {
    pool.close();
  }
});

const cas: TestCa[] = [];
after(() => cas.forEach((ca) => ca.remove()));

function credentials(ca: TestCa, identity: string): Credentials {
  const leaf = ca.issue(`URI:${identity}`);
  return { identity, key: leaf.key, certificate: leaf.cert, trustBundle: ca.rootPem, notBefore: 0, notAfter: 0, serial: '01' };
}

test('over mutual TLS the connections after the first resume its session, and the server still reads the caller identity', async () => {
  const ca = createTestCa();
  cas.push(ca);
  const SERVER = 'spiffe://weft.local/ns/default/svc/orders';
  const CLIENT = 'spiffe://weft.local/ns/default/svc/web';
  const serverTls = createMeshTls(credentials(ca, SERVER), Buffer.alloc(48, 7));
  const seen: { resumed: boolean; peer: string | undefined }[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ ...serverTls.options, requestCert: true, rejectUnauthorized: true, sessionIdContext: 'test' }, (s) => {
    sockets.add(s);
    seen.push({ resumed: s.isSessionReused(), peer: certificateIdentity(s.getPeerCertificate()) });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const pool = new UpstreamPool();
  const handshakes: boolean[] = [];
  pool.onTlsHandshake = (resumed) => handshakes.push(resumed);
  try {
    const r = await preconnect(pool, [{ address: '127.0.0.1', port, identity: SERVER, connectMs: 2_000, idleMs: 10_000 }], 3, createMeshTls(credentials(ca, CLIENT)));
    assert.deepEqual(r, { opened: 3, failed: 0 });
    assert.deepEqual(handshakes, [false, true, true]);
    // The server's side of the last handshake may finish after the client's.
    for (let i = 0; i < 200 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, [
      { resumed: false, peer: CLIENT },
      { resumed: true, peer: CLIENT },
      { resumed: true, peer: CLIENT },
    ]);
  } finally {
    pool.close();
    for (const s of sockets) s.destroy();
    server.close();
  }
});

// Mutual TLS helpers: reading SPIFFE IDs from SANs, and a real TLS connection that is refused when
// the peer's certificate names another service or comes from another CA.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { certificateIdentity, createMeshTls, dialEndpoint, expectIdentity, restrictToTrustDomain, trustDomainOf, uriSans, type Credentials } from './mesh-tls.ts';
import { createTestCa, type TestCa } from '../../../test/support/test-ca.ts';
import { TlsSessionCache } from './tls-session-cache.ts';

const A = 'spiffe://weft.local/ns/default/svc/a';
const B = 'spiffe://weft.local/ns/default/svc/b';
const cas: TestCa[] = [];
after(() => cas.forEach((ca) => ca.remove()));

function credentials(ca: TestCa, identity: string): Credentials {
  const leaf = ca.issue(`URI:${identity}`);
  return { identity, key: leaf.key, certificate: leaf.cert, trustBundle: ca.rootPem, notBefore: 0, notAfter: 0, serial: '01' };
}

test('uriSans reads URI entries, quoted ones included, and skips the rest', () => {
  assert.deepEqual(uriSans(undefined), []);
  assert.deepEqual(uriSans(`DNS:a.example, URI:${A}, IP Address:127.0.0.1`), [A]);
  assert.deepEqual(uriSans(`URI:${JSON.stringify('spiffe://weft.local/ns/default/svc/x, y')}`), ['spiffe://weft.local/ns/default/svc/x, y']);
});

test('certificateIdentity needs exactly one URI SAN, and a weft SPIFFE ID', () => {
  assert.equal(certificateIdentity({ subjectaltname: `URI:${A}` }), A);
  assert.equal(certificateIdentity({ subjectaltname: `URI:${A}, URI:${B}` }), undefined, 'two identities: neither');
  assert.equal(certificateIdentity({ subjectaltname: 'URI:https://a.example/' }), undefined);
  assert.equal(certificateIdentity({ subjectaltname: 'DNS:a.example' }), undefined);
  assert.equal(certificateIdentity(undefined), undefined);
});

test('expectIdentity accepts the expected identity and names both in its error otherwise', () => {
  const check = expectIdentity(A);
  assert.equal(check('127.0.0.1', { subjectaltname: `URI:${A}` } as tls.PeerCertificate), undefined);
  const err = check('127.0.0.1', { subjectaltname: `URI:${B}` } as tls.PeerCertificate) as NodeJS.ErrnoException;
  assert.equal(err.code, 'WEFT_TLS_WRONG_IDENTITY');
  assert.match(err.message, /names spiffe:\/\/weft\.local\/ns\/default\/svc\/b, expected spiffe:\/\/weft\.local\/ns\/default\/svc\/a/);
});

/** A mutual-TLS server presenting `server` credentials; resolves with its port. */
async function tlsServer(server: Credentials): Promise<{ port: number; close(): void }> {
  const mesh = createMeshTls(server);
  const srv = tls.createServer({ ...mesh.options, requestCert: true, rejectUnauthorized: true }, (s) => s.end('hello'));
  srv.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  return { port: (srv.address() as AddressInfo).port, close: () => srv.close() };
}

function dial(port: number, client: Credentials, expected: string): Promise<string> {
  const mesh = createMeshTls(client);
  const { socket, ready } = dialEndpoint({ host: '127.0.0.1', port, tls: { context: mesh.context, identity: expected, alpn: 'http/1.1' } });
  return new Promise((resolve) => {
    socket.once(ready, () => socket.once('data', (d: Buffer) => resolve(`ok ${d.toString()}`)));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
  });
}

test('dialEndpoint: mutual TLS succeeds only with the expected identity, from the same CA', async () => {
  const ca = createTestCa();
  const other = createTestCa('another root');
  cas.push(ca, other);
  const server = await tlsServer(credentials(ca, B));
  try {
    assert.equal(await dial(server.port, credentials(ca, A), B), 'ok hello');
    assert.equal(await dial(server.port, credentials(ca, A), A), 'error WEFT_TLS_WRONG_IDENTITY', 'the server is b, not a');
    assert.match(await dial(server.port, credentials(other, A), B), /^error /, 'a client (and trust bundle) from another CA');
  } finally {
    server.close();
  }
});

test('restrictToTrustDomain drops endpoints outside this trust domain or the destination namespace, and copies nothing otherwise', () => {
  const ep = (id: string, identity?: string) => ({ id, address: '127.0.0.1', port: 1, weight: 1, health: 'passing' as const, labels: {}, ...(identity ? { identity } : {}) });
  const snapshot = (endpoints: ReturnType<typeof ep>[]) => ({
    version: '1', hash: 'h', outboundTrafficPolicy: 'ALLOW_ANY' as const,
    services: [{ name: 'echo', namespace: 'default', policy: {} as never, ports: [{ name: 'http', port: 80, protocol: 'http' as const, endpoints }] }],
  });
  const good = snapshot([ep('a', 'spiffe://weft.local/ns/default/svc/echo'), ep('plain'), ep('sel', 'spiffe://weft.local/ns/default/svc/echo-v2')]);
  assert.equal(restrictToTrustDomain(good, 'weft.local'), good);
  const bad = snapshot([ep('a', 'spiffe://weft.local/ns/default/svc/echo'), ep('evil', 'spiffe://evil.local/ns/default/svc/echo'), ep('ns', 'spiffe://weft.local/ns/kube-system/svc/echo'), ep('junk', 'https://x')]);
  assert.deepEqual(restrictToTrustDomain(bad, 'weft.local').services[0]!.ports[0]!.endpoints.map((e) => e.id), ['a']);
  assert.equal(trustDomainOf('spiffe://weft.local/ns/default/svc/echo'), 'weft.local');
  assert.equal(trustDomainOf('nope'), undefined);
});

/** A mutual-TLS server as an inbound listener makes it: ticket keys given, the fixed session context. */
async function resumingServer(creds: Credentials, ticketKeys: Buffer): Promise<{ port: number; resumed: boolean[]; close(): void }> {
  const mesh = createMeshTls(creds, ticketKeys);
  const resumed: boolean[] = [];
  const srv = tls.createServer({ ...mesh.options, requestCert: true, rejectUnauthorized: true, sessionIdContext: 'weft-inbound-mtls' }, (s) => {
    resumed.push(s.isSessionReused());
    s.end('hello');
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  return { port: (srv.address() as AddressInfo).port, resumed, close: () => srv.close() };
}

/** Dials with resumption under one cache key; resolves with whether the session was resumed, once a ticket is in the cache. */
function dialResuming(port: number, context: tls.SecureContext, sessions: TlsSessionCache, key: string, expected: string): Promise<boolean | string> {
  return new Promise((resolve) => {
    let resumed: boolean | undefined;
    const { socket } = dialEndpoint({ host: '127.0.0.1', port, tls: { context, identity: expected, alpn: 'http/1.1' }, resumption: { sessions, key, onHandshake: (r) => (resumed = r) } });
    socket.on('data', () => {});
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
    socket.once('close', () => resolve(sessions.get(key, context) === undefined ? 'no session' : resumed!));
  });
}

test('dialEndpoint resumes the last session; a ticket resumes on another server with the same keys (worker threads), not on one with other keys', async () => {
  const ca = createTestCa();
  cas.push(ca);
  const keys = Buffer.alloc(48, 1);
  const first = await resumingServer(credentials(ca, B), keys);
  const sibling = await resumingServer(credentials(ca, B), keys);
  const stranger = await resumingServer(credentials(ca, B), Buffer.alloc(48, 2));
  const client = createMeshTls(credentials(ca, A));
  const sessions = new TlsSessionCache();
  try {
    assert.equal(await dialResuming(first.port, client.context, sessions, 'b', B), false, 'the first connection: a full handshake');
    assert.equal(await dialResuming(first.port, client.context, sessions, 'b', B), true);
    assert.equal(await dialResuming(sibling.port, client.context, sessions, 'b', B), true, 'same ticket keys: resumed');
    assert.equal(await dialResuming(stranger.port, client.context, sessions, 'b', B), false, 'other keys: a full handshake, and it still succeeds');
    assert.equal(await dialResuming(first.port, createMeshTls(credentials(ca, A)).context, sessions, 'b', B), false, 'a renewed certificate does not offer the old session');
    assert.deepEqual([first.resumed, sibling.resumed, stranger.resumed], [[false, true, false], [true], [false]]);
  } finally {
    first.close();
    sibling.close();
    stranger.close();
  }
});

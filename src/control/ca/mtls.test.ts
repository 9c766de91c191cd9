// The CA's certificates in a real mutual-TLS handshake on loopback: two leaves of one mesh root
// accept each other; a client whose certificate comes from another root is turned away.

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../lib/log.ts';
import { CertificateAuthority } from './certificate-authority.ts';

const quiet = createLogger('test', () => {});
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function newCa(trustDomain = 'weft.local'): Promise<CertificateAuthority> {
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-mtls-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  return CertificateAuthority.open({ dataDir, trustDomain, log: quiet });
}

/** What a sidecar does: make a key, send the public half, keep the private half. */
async function credentials(ca: CertificateAuthority, service: string, keyType: 'ec' | 'rsa' = 'ec'): Promise<{ key: string; cert: string; ca: string }> {
  const pair = keyType === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issued = await ca.issue({ namespace: 'default', service, proxyId: `${service}-1`, publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string });
  return { key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: issued.certificate, ca: issued.trustBundle };
}

/** Peers are named by SPIFFE ID in the URI SAN, not by host name. */
function expectSpiffe(id: string) {
  return (_host: string, cert: tls.PeerCertificate): Error | undefined =>
    cert.subjectaltname === `URI:${id}` ? undefined : new Error(`peer is ${cert.subjectaltname}, wanted ${id}`);
}

async function server(creds: { key: string; cert: string; ca: string }): Promise<{ port: number; peers: string[]; refused: Error[] }> {
  const peers: string[] = [];
  const refused: Error[] = [];
  const srv = tls.createServer({ ...creds, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (socket) => {
    peers.push(socket.getPeerCertificate().subjectaltname ?? '');
    socket.end('hello from reviews\n');
  });
  srv.on('tlsClientError', (err) => refused.push(err));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => srv.close());
  return { port: (srv.address() as AddressInfo).port, peers, refused };
}

function connect(port: number, creds: { key: string; cert: string; ca: string }, serverId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...creds, checkServerIdentity: expectSpiffe(serverId) }, () => {
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (d) => (data += d));
      socket.on('end', () => resolve(data));
    });
    socket.on('error', reject);
    cleanups.push(() => socket.destroy());
  });
}

test('two leaves of one root complete a mutual-TLS handshake and see each other\'s SPIFFE IDs', async () => {
  const ca = await newCa();
  const srv = await server(await credentials(ca, 'reviews'));
  const answer = await connect(srv.port, await credentials(ca, 'frontend', 'rsa'), 'spiffe://weft.local/ns/default/svc/reviews');
  assert.equal(answer, 'hello from reviews\n');
  assert.deepEqual(srv.refused, []);
  assert.deepEqual(srv.peers, ['URI:spiffe://weft.local/ns/default/svc/frontend']);
});

test('a client certificate from another root is rejected by the server', async () => {
  const ca = await newCa();
  const stranger = await newCa();
  assert.notEqual(new X509Certificate(stranger.trustBundle()).fingerprint256, new X509Certificate(ca.trustBundle()).fingerprint256);
  const srv = await server(await credentials(ca, 'reviews'));
  // The stranger trusts our root (so it would accept the server), but its own certificate is not ours.
  const creds = { ...(await credentials(stranger, 'frontend')), ca: ca.trustBundle() };
  // In TLS 1.3 the client's side of the handshake is done before the server has judged the client's
  // certificate, so the client sees either an alert (error) or a connection closed without data.
  const outcome = await connect(srv.port, creds, 'spiffe://weft.local/ns/default/svc/reviews').catch((err: Error) => err);
  if (typeof outcome === 'string') assert.equal(outcome, '');
  assert.deepEqual(srv.peers, []);
  // Node's server verifies the client certificate after the handshake and destroys the socket:
  // the connection handler never runs, and the server reports a client error.
  assert.equal(srv.refused.length, 1);

  // Why it was refused, seen from a server that lets the connection through to look at it.
  const reviews = await credentials(ca, 'reviews');
  const why = await new Promise<string | Error | undefined>((resolve) => {
    const lenient = tls.createServer({ ...reviews, requestCert: true, rejectUnauthorized: false }, (socket) => {
      resolve(socket.authorized ? undefined : socket.authorizationError);
      socket.destroy();
    });
    cleanups.push(() => lenient.close());
    lenient.listen(0, '127.0.0.1', () => {
      connect((lenient.address() as AddressInfo).port, creds, 'spiffe://weft.local/ns/default/svc/reviews').catch(() => {});
    });
  });
  assert.match(String(why), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
});

test('a client checking the server\'s SPIFFE ID refuses the wrong service', async () => {
  const ca = await newCa();
  const srv = await server(await credentials(ca, 'ratings'));
  await assert.rejects(connect(srv.port, await credentials(ca, 'frontend'), 'spiffe://weft.local/ns/default/svc/reviews'), /peer is URI:spiffe:\/\/weft.local\/ns\/default\/svc\/ratings/);
});

// Unit tests for the certificates the CA builds, checked by two real parsers: Node's
// X509Certificate and the openssl binary (verify and -text), never by our own reader alone.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isWeftError } from '../../lib/errors.ts';
import {
  acceptLeafPublicKey,
  createLeafCertificate,
  createRootCertificate,
  encodeName,
  keyIdentifier,
  randomSerial,
  readCertificateInfo,
  serialHex,
  toPem,
  type Issuer,
} from './x509.ts';

const OPENSSL = '/usr/bin/openssl';
let dir: string;
let n = 0;
function file(text: string): string {
  const path = join(dir, `f${n++}.pem`);
  writeFileSync(path, text);
  return path;
}
function openssl(...args: string[]): string {
  return execFileSync(OPENSSL, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
/** Key ids as openssl -text prints them. */
const colonHex = (b: Buffer): string => b.toString('hex').toUpperCase().match(/../g)!.join(':');

const now = Date.now();
const hour = 3_600_000;
let rootKey: KeyObject;
let rootDer: Buffer;
let issuer: Issuer;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-x509-'));
  rootKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  rootDer = createRootCertificate({
    key: rootKey,
    subject: { organization: 'weft', commonName: 'test root' },
    notBefore: new Date(now - hour),
    notAfter: new Date(now + 24 * hour),
  });
  const info = readCertificateInfo(rootDer);
  issuer = { key: rootKey, subject: info.subject, keyId: info.subjectKeyId! };
});
after(() => rmSync(dir, { recursive: true, force: true }));

function spkiOf(type: 'ec' | 'rsa', opts: { namedCurve?: string; modulusLength?: number }): { spki: Buffer; pem: string } {
  const { publicKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: opts.namedCurve! }) : generateKeyPairSync('rsa', { modulusLength: opts.modulusLength! });
  return { spki: publicKey.export({ type: 'spki', format: 'der' }), pem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

function leaf(spki: Buffer, uri = 'spiffe://weft.local/ns/default/svc/reviews', notAfter = new Date(now + hour)): Buffer {
  return createLeafCertificate({ issuer, spki, subject: { organization: 'weft', commonName: 'reviews.default' }, uri, notBefore: new Date(now - 60_000), notAfter });
}

test('the root is a self-signed CA that Node and openssl both accept', () => {
  const root = new X509Certificate(rootDer);
  assert.equal(root.ca, true);
  assert.ok(root.verify(root.publicKey), 'self-signature verifies');
  assert.ok(root.checkIssued(root));
  assert.ok(root.checkPrivateKey(rootKey));
  assert.equal(root.subject, 'O=weft\nCN=test root');
  assert.equal(root.issuer, root.subject);
  assert.equal(root.validFromDate.getTime(), Math.floor((now - hour) / 1000) * 1000);
  const pem = file(toPem(rootDer));
  assert.match(openssl('verify', '-CAfile', pem, pem), /: OK/);
  const text = openssl('x509', '-noout', '-text', '-in', pem);
  assert.match(text, /Version: 3 \(0x2\)/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
  assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
  const ski = keyIdentifier(createPublicKey(rootKey).export({ type: 'spki', format: 'der' }));
  assert.match(text, new RegExp(`Subject Key Identifier:\\s+${colonHex(ski)}`));
});

test('our key identifier is the one openssl computes for the same key (RFC 5280 method 1)', () => {
  const keyPath = file(rootKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const certPath = join(dir, 'openssl-root.pem');
  openssl('req', '-x509', '-new', '-key', keyPath, '-subj', '/CN=by openssl', '-days', '1', '-out', certPath);
  const theirs = new X509Certificate(execFileSync(OPENSSL, ['x509', '-in', certPath, '-outform', 'DER']));
  const info = readCertificateInfo(Buffer.from(theirs.raw));
  assert.deepEqual(info.subjectKeyId, keyIdentifier(createPublicKey(rootKey).export({ type: 'spki', format: 'der' })));
  assert.deepEqual(info.spki, createPublicKey(rootKey).export({ type: 'spki', format: 'der' }));
});

test('readCertificateInfo returns the subject bytes and key id of our root', () => {
  const info = readCertificateInfo(rootDer);
  assert.deepEqual(info.subject, encodeName({ organization: 'weft', commonName: 'test root' }));
  assert.equal(info.subjectKeyId?.length, 20);
});

for (const [label, type, opts] of [
  ['EC P-256', 'ec', { namedCurve: 'P-256' }],
  ['EC P-384', 'ec', { namedCurve: 'P-384' }],
  ['RSA 2048', 'rsa', { modulusLength: 2048 }],
] as const) {
  test(`a leaf for an ${label} key chains to the root (Node and openssl verify)`, () => {
    const { spki, pem: keyPem } = spkiOf(type, opts);
    assert.deepEqual(acceptLeafPublicKey(keyPem), spki);
    const der = leaf(spki);
    const cert = new X509Certificate(der);
    const root = new X509Certificate(rootDer);
    assert.ok(cert.verify(root.publicKey));
    assert.ok(cert.checkIssued(root));
    assert.equal(cert.ca, false);
    assert.equal(cert.subjectAltName, 'URI:spiffe://weft.local/ns/default/svc/reviews');
    assert.equal(cert.subject, 'O=weft\nCN=reviews.default');
    assert.equal(cert.issuer, root.subject);
    assert.equal(cert.validToDate.getTime(), Math.floor((now + hour) / 1000) * 1000);
    assert.deepEqual(cert.publicKey.export({ type: 'spki', format: 'der' }), spki);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // Node reports extKeyUsage here

    const rootPath = file(toPem(rootDer));
    const leafPath = file(toPem(der));
    assert.match(openssl('verify', '-CAfile', rootPath, '-purpose', 'sslserver', leafPath), /: OK/);
    assert.match(openssl('verify', '-CAfile', rootPath, '-purpose', 'sslclient', leafPath), /: OK/);
    const text = openssl('x509', '-noout', '-text', '-in', leafPath);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    assert.match(text, /Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /Subject Alternative Name:\s*\n\s+URI:spiffe:\/\/weft.local\/ns\/default\/svc\/reviews\n/);
    assert.match(text, new RegExp(`Authority Key Identifier:\\s*\\n\\s+(keyid:)?${colonHex(issuer.keyId)}`));
    assert.match(text, new RegExp(`Subject Key Identifier:\\s*\\n\\s+${colonHex(keyIdentifier(spki))}`));
  });
}

test('a leaf from another root does not verify', () => {
  const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const otherRoot = createRootCertificate({ key: otherKey, subject: { organization: 'weft', commonName: 'test root' }, notBefore: new Date(now - hour), notAfter: new Date(now + hour) });
  const der = leaf(spkiOf('ec', { namedCurve: 'P-256' }).spki);
  assert.equal(new X509Certificate(der).verify(new X509Certificate(otherRoot).publicKey), false);
  assert.throws(() => openssl('verify', '-CAfile', file(toPem(otherRoot)), file(toPem(der))));
});

test('validity from 2050 on is a GeneralizedTime and still parses', () => {
  const notAfter = new Date(Date.UTC(2051, 5, 7, 8, 9, 10));
  const der = leaf(spkiOf('ec', { namedCurve: 'P-256' }).spki, undefined, notAfter);
  // 0x18 GeneralizedTime "20510607080910Z" appears in the validity.
  assert.ok(der.includes(Buffer.from('180f3230353130363037303830393130', 'hex')));
  assert.equal(new X509Certificate(der).validToDate.getTime(), notAfter.getTime());
  assert.match(openssl('x509', '-noout', '-enddate', '-in', file(toPem(der))), /notAfter=Jun {2}7 08:09:10 2051 GMT/);
});

test('serials are positive, 128 bits at most, distinct, and printed as Node prints them', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const s = randomSerial();
    assert.equal(s.length, 16);
    assert.equal(s[0]! & 0x80, 0);
    seen.add(s.toString('hex'));
  }
  assert.equal(seen.size, 200);
  for (const hex of ['000512', '7f', '00000000000000000000000000000001', '7fffffffffffffffffffffffffffffff']) {
    const serial = Buffer.from(hex, 'hex');
    const cert = new X509Certificate(createRootCertificate({ key: rootKey, subject: { commonName: 'x' }, notBefore: new Date(now), notAfter: new Date(now + hour), serial }));
    assert.equal(cert.serialNumber, serialHex(serial));
  }
});

test('the SAN is exactly one URI; a URI that is not printable ASCII is refused', () => {
  const spki = spkiOf('ec', { namedCurve: 'P-256' }).spki;
  assert.throws(() => leaf(spki, 'spiffe://weft.local/ns/d/svc/é'), RangeError);
  assert.throws(() => leaf(spki, 'spiffe://a b'), RangeError);
});

function rejected(pem: string): { code: string; path: string; message: string } {
  try {
    acceptLeafPublicKey(pem);
  } catch (err) {
    assert.ok(isWeftError(err));
    assert.equal(err.status, 400);
    return { code: err.code, path: err.details[0]!.path, message: err.details[0]!.message };
  }
  assert.fail('key was accepted');
}

test('public keys the CA does not accept are refused with code and path', () => {
  const pemOf = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }) as string;
  const cases = [
    ['ed25519', pemOf(generateKeyPairSync('ed25519').publicKey), /ed25519 is not supported/],
    ['P-521', pemOf(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey), /curve secp521r1 is not supported/],
    ['secp256k1', pemOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey), /curve secp256k1 is not supported/],
    ['RSA 1024', pemOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), /1024 bits is too small/],
    ['garbage', '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n', /cannot be parsed/],
    ['private key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, /is a private key/],
  ] as const;
  for (const [label, pem, why] of cases) {
    const r = rejected(pem);
    assert.equal(r.code, 'WEFT_ERR_CA_INVALID_REQUEST', label);
    assert.equal(r.path, 'publicKey', label);
    assert.match(r.message, why, label);
  }
});

test('the CA refuses to sign with anything but an EC P-256 key', () => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  assert.throws(
    () => createRootCertificate({ key: p384, subject: { commonName: 'x' }, notBefore: new Date(now), notAfter: new Date(now + hour) }),
    (err: unknown) => isWeftError(err) && err.code === 'WEFT_ERR_CA_KEY',
  );
});

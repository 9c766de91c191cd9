// Unit tests for the certificates the CA builds on @peculiar/x509, checked by two other parsers:
// Node's X509Certificate and the openssl binary (verify and -text).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isWeftError } from '../../lib/errors.ts';
import {
  acceptLeafPublicKey,
  createLeafCertificate,
  createRootCertificate,
  createSigner,
  hasKeyCertSign,
  randomSerial,
  serialHex,
  signingKey,
  splitPem,
  type Signer,
} from './certificate-builder.ts';

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

const now = Date.now();
const hour = 3_600_000;
let rootKey: KeyObject;
let rootPem: string;
let signer: Signer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-x509-'));
  rootKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  rootPem = await createRootCertificate({ key: rootKey, commonName: 'test root', notBefore: new Date(now - hour), notAfter: new Date(now + 24 * hour) });
  signer = await createSigner(rootKey, new X509Certificate(rootPem));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function spkiOf(type: 'ec' | 'rsa', opts: { namedCurve?: string; modulusLength?: number }): { spki: Buffer; pem: string } {
  const { publicKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: opts.namedCurve! }) : generateKeyPairSync('rsa', { modulusLength: opts.modulusLength! });
  return { spki: publicKey.export({ type: 'spki', format: 'der' }), pem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

function leaf(spki: Buffer, uri = 'spiffe://weft.local/ns/default/svc/reviews', notAfter = new Date(now + hour), by = signer): Promise<string> {
  return createLeafCertificate({ signer: by, spki, commonName: 'reviews.default', uri, notBefore: new Date(now - 60_000), notAfter });
}

/** The key id openssl itself computes for a certificate's key (a fresh self-signed one over the same key). */
function opensslKeyId(key: KeyObject): string {
  const keyPath = file(key.export({ type: 'pkcs8', format: 'pem' }) as string);
  const certPath = join(dir, `openssl-${n++}.pem`);
  openssl('req', '-x509', '-new', '-key', keyPath, '-subj', '/CN=by openssl', '-days', '1', '-out', certPath);
  return /Subject Key Identifier:\s*\n\s+([0-9A-F:]+)/.exec(openssl('x509', '-noout', '-text', '-in', certPath))![1]!;
}

test('the root is a self-signed CA that Node and openssl both accept', () => {
  const root = new X509Certificate(rootPem);
  assert.equal(root.ca, true);
  assert.ok(root.verify(root.publicKey), 'self-signature verifies');
  assert.ok(root.checkIssued(root));
  assert.ok(root.checkPrivateKey(rootKey));
  assert.equal(root.subject, 'O=weft\nCN=test root');
  assert.equal(root.issuer, root.subject);
  assert.equal(root.validFromDate.getTime(), Math.floor((now - hour) / 1000) * 1000);
  assert.ok(hasKeyCertSign(root));
  const pem = file(rootPem);
  assert.match(openssl('verify', '-CAfile', pem, pem), /: OK/);
  const text = openssl('x509', '-noout', '-text', '-in', pem);
  assert.match(text, /Version: 3 \(0x2\)/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
  assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
  // RFC 5280 4.2.1.2 method (1), the key id openssl computes for the same key.
  assert.match(text, new RegExp(`Subject Key Identifier:\\s+${opensslKeyId(rootKey)}`));
});

for (const [label, type, opts] of [
  ['EC P-256', 'ec', { namedCurve: 'P-256' }],
  ['EC P-384', 'ec', { namedCurve: 'P-384' }],
  ['RSA 2048', 'rsa', { modulusLength: 2048 }],
] as const) {
  test(`a leaf for an ${label} key chains to the root (Node and openssl verify)`, async () => {
    const { spki, pem: keyPem } = spkiOf(type, opts);
    assert.deepEqual(acceptLeafPublicKey(keyPem), spki);
    const pem = await leaf(spki);
    const cert = new X509Certificate(pem);
    const root = new X509Certificate(rootPem);
    assert.ok(cert.verify(root.publicKey));
    assert.ok(cert.checkIssued(root));
    assert.equal(cert.ca, false);
    assert.equal(cert.subjectAltName, 'URI:spiffe://weft.local/ns/default/svc/reviews');
    assert.equal(cert.subject, 'O=weft\nCN=reviews.default');
    assert.equal(cert.issuer, root.subject);
    assert.equal(cert.validToDate.getTime(), Math.floor((now + hour) / 1000) * 1000);
    assert.deepEqual(cert.publicKey.export({ type: 'spki', format: 'der' }), spki);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // Node reports extKeyUsage here

    const rootPath = file(rootPem);
    const leafPath = file(pem);
    assert.match(openssl('verify', '-CAfile', rootPath, '-purpose', 'sslserver', leafPath), /: OK/);
    assert.match(openssl('verify', '-CAfile', rootPath, '-purpose', 'sslclient', leafPath), /: OK/);
    const text = openssl('x509', '-noout', '-text', '-in', leafPath);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    assert.match(text, /Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /Subject Alternative Name:\s*\n\s+URI:spiffe:\/\/weft.local\/ns\/default\/svc\/reviews\n/);
    assert.match(text, new RegExp(`Authority Key Identifier:\\s*\\n\\s+(keyid:)?${opensslKeyId(rootKey)}`));
    const rootText = openssl('x509', '-noout', '-text', '-in', rootPath);
    const rootSki = /Subject Key Identifier:\s*\n\s+([0-9A-F:]+)/.exec(rootText)![1]!;
    assert.match(text, new RegExp(`Authority Key Identifier:\\s*\\n\\s+(keyid:)?${rootSki}`));
    assert.match(text, /Subject Key Identifier:\s*\n\s+[0-9A-F:]{59}\n/);
  });
}

test('a leaf from another root does not verify', async () => {
  const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const otherRoot = await createRootCertificate({ key: otherKey, commonName: 'test root', notBefore: new Date(now - hour), notAfter: new Date(now + hour) });
  const pem = await leaf(spkiOf('ec', { namedCurve: 'P-256' }).spki);
  assert.equal(new X509Certificate(pem).verify(new X509Certificate(otherRoot).publicKey), false);
  assert.throws(() => openssl('verify', '-CAfile', file(otherRoot), file(pem)));
});

test('a leaf signed by an RSA intermediate chains through it to the root', async () => {
  // The intermediate made by openssl from our root: what an operator's PKI hands weft.
  const rootKeyPath = file(rootKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const rootPath = file(rootPem);
  const interKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const interKeyPath = file(interKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const csr = join(dir, 'inter.csr');
  const interPath = join(dir, 'inter.pem');
  const ext = file('basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  openssl('req', '-new', '-key', interKeyPath, '-subj', '/O=ops/CN=ops intermediate', '-out', csr);
  openssl('x509', '-req', '-in', csr, '-CA', rootPath, '-CAkey', rootKeyPath, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', interPath);
  const inter = new X509Certificate(execFileSync(OPENSSL, ['x509', '-in', interPath]));
  const interSigner = await createSigner(interKey, inter, [inter]);
  const pem = await leaf(spkiOf('ec', { namedCurve: 'P-256' }).spki, undefined, undefined, interSigner);
  assert.match(openssl('verify', '-CAfile', rootPath, '-untrusted', interPath, file(pem)), /: OK/);
  assert.throws(() => openssl('verify', '-CAfile', rootPath, file(pem)), 'without the intermediate there is no path');
  assert.match(openssl('x509', '-noout', '-text', '-in', file(pem)), /Signature Algorithm: sha256WithRSAEncryption/);
  assert.equal(splitPem(interSigner.chainPem).length, 1);
  assert.equal(signer.chainPem, '', 'a root sends no chain');
});

test('validity from 2050 on is a GeneralizedTime and still parses', async () => {
  const notAfter = new Date(Date.UTC(2051, 5, 7, 8, 9, 10));
  const pem = await leaf(spkiOf('ec', { namedCurve: 'P-256' }).spki, undefined, notAfter);
  assert.equal(new X509Certificate(pem).validToDate.getTime(), notAfter.getTime());
  assert.match(openssl('x509', '-noout', '-enddate', '-in', file(pem)), /notAfter=Jun {2}7 08:09:10 2051 GMT/);
  assert.match(openssl('asn1parse', '-in', file(pem)), /GENERALIZEDTIME\s*:20510607080910Z/);
});

test('serials are positive, 128 bits at most, distinct, and printed as Node prints them', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const s = randomSerial();
    assert.equal(s.length, 32);
    assert.equal(Number.parseInt(s.slice(0, 2), 16) & 0x80, 0);
    seen.add(s);
  }
  assert.equal(seen.size, 200);
  for (const hex of ['000512', '7f', '00000000000000000000000000000001', '7fffffffffffffffffffffffffffffff']) {
    const cert = new X509Certificate(await createRootCertificate({ key: rootKey, commonName: 'x', notBefore: new Date(now), notAfter: new Date(now + hour), serial: hex }));
    assert.equal(cert.serialNumber, serialHex(hex));
  }
});

test('the SAN is exactly one URI; a URI that is not printable ASCII is refused', async () => {
  const spki = spkiOf('ec', { namedCurve: 'P-256' }).spki;
  await assert.rejects(leaf(spki, 'spiffe://weft.local/ns/d/svc/é'), RangeError);
  await assert.rejects(leaf(spki, 'spiffe://a b'), RangeError);
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

test('the CA refuses to sign with an unsupported or public key', async () => {
  for (const key of [generateKeyPairSync('ed25519').privateKey, generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey]) {
    await assert.rejects(signingKey(key), (err: unknown) => isWeftError(err) && err.code === 'WEFT_ERR_CA_KEY');
  }
});

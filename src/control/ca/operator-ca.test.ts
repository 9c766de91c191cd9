// The operator's own CA (--ca-cert/--ca-key): a root or an intermediate under it, made by openssl as
// an operator's PKI would; leaves verified by `openssl verify`; bad inputs refused with their codes.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../lib/log.ts';
import { isWeftError } from '../../lib/errors.ts';
import type { CertificateRequest } from '../../config/identity.ts';
import { CertificateAuthority, type OperatorCaFiles } from './certificate-authority.ts';
import { createRootCertificate } from './certificate-builder.ts';

const quiet = createLogger('test', () => {});
let dir: string;
let n = 0;
const openssl = (...args: string[]): string => execFileSync('/usr/bin/openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
function file(text: string, mode = 0o600): string {
  const path = join(dir, `f${n++}.pem`);
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  return path;
}
const read = (p: string): string => readFileSync(p, 'utf8');

// The operator's PKI: root → intermediate (RSA, to show the signing algorithm follows the key).
let rootKey: string;
let rootCert: string;
let interKey: string;
let interCert: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-operator-ca-'));
  rootKey = join(dir, 'root.key');
  rootCert = join(dir, 'root.pem');
  interKey = join(dir, 'inter.key');
  interCert = join(dir, 'inter.pem');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', rootKey);
  chmodSync(rootKey, 0o600);
  openssl('req', '-x509', '-new', '-key', rootKey, '-subj', '/O=ops/CN=ops root', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', rootCert);
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', interKey);
  chmodSync(interKey, 0o600);
  const csr = join(dir, 'inter.csr');
  openssl('req', '-new', '-key', interKey, '-subj', '/O=ops/CN=ops mesh intermediate', '-out', csr);
  const ext = file('basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  openssl('x509', '-req', '-in', csr, '-CA', rootCert, '-CAkey', rootKey, '-CAcreateserial', '-days', '7', '-extfile', ext, '-out', interCert);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function dataDir(): string {
  return mkdtempSync(join(dir, 'data-'));
}

function request(): CertificateRequest {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { namespace: 'shop', service: 'cart', proxyId: 'cart-1', publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

function open(operator: OperatorCaFiles, data = dataDir()): Promise<CertificateAuthority> {
  return CertificateAuthority.open({ dataDir: data, operator, log: quiet });
}

/** Every file under a directory, recursively. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test('an operator root signs the leaves itself; the bundle is that root; the key is not copied', async () => {
  const data = dataDir();
  const ca = await open({ certFile: rootCert, keyFile: rootKey }, data);
  assert.equal(ca.source, 'operator');
  assert.equal(new X509Certificate(ca.trustBundle()).fingerprint256, new X509Certificate(read(rootCert)).fingerprint256);
  const issued = await ca.issue(request());
  assert.equal(issued.trustBundle, ca.trustBundle());
  const leafPath = file(issued.certificate);
  assert.match(openssl('verify', '-CAfile', rootCert, leafPath), /: OK/);
  assert.equal(new X509Certificate(issued.certificate).subjectAltName, 'URI:spiffe://weft.local/ns/shop/svc/cart');
  const status = ca.status();
  assert.equal(status.source, 'operator');
  assert.deepEqual(status.intermediates, []);
  assert.equal(status.roots.length, 1);
  assert.equal(ca.rootNotAfter, new X509Certificate(read(rootCert)).validToDate.getTime());
  await ca.close();
  const keyText = read(rootKey).trim();
  for (const f of filesUnder(data)) assert.ok(!read(f).includes(keyText.split('\n')[1]!), `${f} holds the operator's key`);
});

test('an intermediate signs; leaves come with the chain, the bundle holds only the root; openssl verify', async () => {
  const chainFile = file(read(interCert) + read(rootCert), 0o644);
  const ca = await open({ certFile: chainFile, keyFile: interKey });
  assert.equal(new X509Certificate(ca.trustBundle()).fingerprint256, new X509Certificate(read(rootCert)).fingerprint256);
  assert.equal(ca.trustBundle().match(/BEGIN CERTIFICATE/g)!.length, 1);
  const issued = await ca.issue(request());
  assert.equal(issued.certificate.match(/BEGIN CERTIFICATE/g)!.length, 2, 'leaf, then the intermediate');
  const leafOnly = file(issued.certificate.slice(0, issued.certificate.indexOf('-----END CERTIFICATE-----') + 26));
  // The chain as a TLS peer sends it: the leaf and its intermediate, checked against the root alone.
  assert.match(openssl('verify', '-CAfile', rootCert, '-untrusted', file(issued.certificate), leafOnly), /: OK/);
  assert.throws(() => openssl('verify', '-CAfile', rootCert, leafOnly), 'without the intermediate there is no path');
  assert.match(openssl('x509', '-noout', '-text', '-in', leafOnly), /Signature Algorithm: sha256WithRSAEncryption/);
  // The leaf never outlives the intermediate (7 days) even with a longer TTL.
  const status = ca.status();
  assert.equal(status.intermediates.length, 1);
  assert.match(status.intermediates[0]!.subject, /ops mesh intermediate/);
  assert.ok(issued.notAfter <= Date.parse(status.intermediates[0]!.notAfter));
  assert.equal(ca.rootNotAfter, new X509Certificate(read(rootCert)).validToDate.getTime());
  await ca.close();
});

test('an operator CA is not rotated by weft', async () => {
  const ca = await open({ certFile: rootCert, keyFile: rootKey });
  await assert.rejects(ca.rotate(), (err: unknown) => isWeftError(err) && err.code === 'WEFT_ERR_CA_ROTATE_OPERATOR' && err.status === 409);
  await ca.close();
});

test('bad operator inputs are refused with their codes, and nothing is written', async () => {
  const otherKey = file(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const edKey = file(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const openKey = file(read(rootKey), 0o644);
  // A leaf (CA:FALSE) with its key, signed by the root.
  const leafKey = join(dir, 'leaf.key');
  const leafCert = join(dir, 'leaf.pem');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', leafKey);
  chmodSync(leafKey, 0o600);
  openssl('req', '-new', '-key', leafKey, '-subj', '/CN=leaf', '-out', join(dir, 'leaf.csr'));
  openssl('x509', '-req', '-in', join(dir, 'leaf.csr'), '-CA', rootCert, '-CAkey', rootKey, '-CAcreateserial', '-days', '1', '-extfile', file('basicConstraints=critical,CA:FALSE\n'), '-out', leafCert);
  // An expired self-signed CA with its key.
  const oldKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const expired = file(await createRootCertificate({ key: oldKey, commonName: 'old', notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) }));
  const expiredKey = file(oldKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  // Another root that did not issue the intermediate.
  const strangerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const stranger = await createRootCertificate({ key: strangerKey, commonName: 'stranger', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3600_000) });

  const cases: [string, OperatorCaFiles, string][] = [
    ['missing key file', { certFile: rootCert, keyFile: join(dir, 'nope.key') }, 'WEFT_ERR_CA_OPERATOR_FILE'],
    ['missing cert file', { certFile: join(dir, 'nope.pem'), keyFile: rootKey }, 'WEFT_ERR_CA_OPERATOR_FILE'],
    ['key readable by others', { certFile: rootCert, keyFile: openKey }, 'WEFT_ERR_CA_OPERATOR_KEY_MODE'],
    ['not a key', { certFile: rootCert, keyFile: file('hello\n') }, 'WEFT_ERR_CA_OPERATOR_KEY'],
    ['ed25519 key', { certFile: rootCert, keyFile: edKey }, 'WEFT_ERR_CA_OPERATOR_KEY'],
    ['no certificate', { certFile: file('nothing here\n'), keyFile: rootKey }, 'WEFT_ERR_CA_OPERATOR_CERT'],
    ['a leaf, not a CA', { certFile: leafCert, keyFile: leafKey }, 'WEFT_ERR_CA_OPERATOR_NOT_CA'],
    ['key of another CA', { certFile: rootCert, keyFile: otherKey }, 'WEFT_ERR_CA_OPERATOR_KEY_MISMATCH'],
    ['root first, intermediate key', { certFile: file(read(rootCert) + read(interCert)), keyFile: interKey }, 'WEFT_ERR_CA_OPERATOR_KEY_MISMATCH'],
    ['expired', { certFile: expired, keyFile: expiredKey }, 'WEFT_ERR_CA_OPERATOR_VALIDITY'],
    ['intermediate without its root', { certFile: interCert, keyFile: interKey }, 'WEFT_ERR_CA_OPERATOR_CHAIN'],
    ['intermediate with another root', { certFile: file(read(interCert) + stranger), keyFile: interKey }, 'WEFT_ERR_CA_OPERATOR_CHAIN'],
  ];
  for (const [label, files, code] of cases) {
    const data = dataDir();
    await assert.rejects(open(files, data), (err: unknown) => {
      assert.ok(isWeftError(err), `${label}: ${String(err)}`);
      assert.equal(err.code, code, label);
      // The key file's contents never reach an error message.
      assert.ok(!err.message.includes('PRIVATE KEY'), label);
      return true;
    });
    assert.deepEqual(filesUnder(data), [], label);
  }
  assert.equal(statSync(rootKey).mode & 0o777, 0o600);
});

// Unit tests for the CA: created once and reloaded unchanged, broken files refused (and left as
// they were), TTLs capped by an injected clock, and issued certificates checked by Node and openssl.

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { isWeftError } from '../../lib/errors.ts';
import type { CertificateRequest } from '../../config/identity.ts';
import { CertificateAuthority, CLOCK_SKEW_MS, ROOT_VALIDITY_DAYS, checkCaSettings, type CertificateAuthorityOptions } from './certificate-authority.ts';

const quiet = createLogger('test', () => {});
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'weft-ca-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(dataDir: string, more: Partial<CertificateAuthorityOptions> = {}): Promise<CertificateAuthority> {
  return CertificateAuthority.open({ dataDir, log: quiet, ...more });
}

function request(more: Partial<CertificateRequest> = {}): CertificateRequest {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { namespace: 'shop', service: 'cart', proxyId: 'cart-1', publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string, ...more };
}

function code(err: unknown): string {
  assert.ok(isWeftError(err), `expected a WeftError, got ${String(err)}`);
  return err.code;
}

test('first open creates the CA files (key 0600) and a 10-year root; reopening loads the same root', async () => {
  const dataDir = tempDir();
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const ca = await open(dataDir, { clock });
  const keyPath = join(dataDir, 'ca', 'ca-key.pem');
  const certPath = join(dataDir, 'ca', 'ca-cert.pem');
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  assert.equal(statSync(join(dataDir, 'ca')).mode & 0o777, 0o700);
  assert.equal(readFileSync(certPath, 'utf8'), ca.trustBundle());
  const root = new X509Certificate(ca.trustBundle());
  assert.equal(root.ca, true);
  assert.equal(root.validFromDate.getTime(), clock.now() - CLOCK_SKEW_MS);
  assert.equal(root.validToDate.getTime(), clock.now() + ROOT_VALIDITY_DAYS * 86_400_000);
  const key = readFileSync(keyPath, 'utf8');

  const again = await open(dataDir, { clock });
  assert.equal(again.trustBundle(), ca.trustBundle());
  assert.equal(readFileSync(keyPath, 'utf8'), key);
  // Certificates from the reopened CA chain to the same root, with the same authority key id.
  const leaf = new X509Certificate((await again.issue(request())).certificate);
  assert.ok(leaf.verify(root.publicKey));
  assert.ok(leaf.checkIssued(root));
});

test('issue: SPIFFE identity, now-60s .. now+TTL, serial, the root as trust bundle', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1, 12, 0, 0, 500));
  const ca = await open(tempDir(), { clock, trustDomain: 'prod.example', leafTtlSeconds: 3600 });
  clock.advance(10_000);
  const issued = await ca.issue(request());
  assert.equal(issued.identity, 'spiffe://prod.example/ns/shop/svc/cart');
  // X.509 times have whole seconds: the half second is dropped, and reported as dropped.
  assert.equal(issued.notBefore, Date.UTC(2030, 0, 1, 12, 0, 10) - 60_000);
  assert.equal(issued.notAfter, Date.UTC(2030, 0, 1, 13, 0, 10));
  assert.equal(issued.trustBundle, ca.trustBundle());
  const cert = new X509Certificate(issued.certificate);
  assert.equal(cert.subjectAltName, `URI:${issued.identity}`);
  assert.equal(cert.subject, 'O=weft\nCN=cart.shop');
  assert.equal(cert.serialNumber, issued.serial);
  assert.match(issued.serial, /^[0-9A-F]+$/);
  assert.equal(cert.validFromDate.getTime(), issued.notBefore);
  assert.equal(cert.validToDate.getTime(), issued.notAfter);
  assert.notEqual((await ca.issue(request())).serial, issued.serial);
});

test('issued certificates pass openssl verify against the trust bundle', async () => {
  const ca = await open(tempDir()); // system clock: openssl checks validity against now
  const dir = tempDir();
  const rootPath = join(dir, 'root.pem');
  const leafPath = join(dir, 'leaf.pem');
  writeFileSync(rootPath, ca.trustBundle());
  const issued = await ca.issue(request());
  writeFileSync(leafPath, issued.certificate);
  assert.match(execFileSync('/usr/bin/openssl', ['verify', '-CAfile', rootPath, leafPath], { encoding: 'utf8' }), /leaf.pem: OK/);
  const text = execFileSync('/usr/bin/openssl', ['x509', '-noout', '-text', '-in', leafPath], { encoding: 'utf8' });
  assert.match(text, /URI:spiffe:\/\/weft.local\/ns\/shop\/svc\/cart/);
  assert.match(text, /CA:FALSE/);
});

test('the leaf TTL never reaches past the root', async () => {
  const start = Date.UTC(2030, 0, 1);
  const clock = new ManualClock(start);
  const ca = await open(tempDir(), { clock, leafTtlSeconds: 30 * 86_400 });
  const rootEnd = start + ROOT_VALIDITY_DAYS * 86_400_000;
  assert.equal(ca.rootNotAfter, rootEnd);
  clock.advance(rootEnd - start - 86_400_000); // one day before the root expires
  const issued = await ca.issue(request());
  assert.equal(issued.notAfter, rootEnd);
  assert.equal(new X509Certificate(issued.certificate).validToDate.getTime(), rootEnd);

  clock.advance(86_400_000); // the root's last moment has passed
  await assert.rejects(ca.issue(request()), (err) => code(err) === 'WEFT_ERR_CA_EXPIRED' && (err as { status: number }).status === 503);
});

test('a short TTL (down to 5 s, for rotation tests) is honoured', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const ca = await open(tempDir(), { clock, leafTtlSeconds: 5 });
  const issued = await ca.issue(request());
  assert.equal(issued.notAfter - clock.now(), 5000);
});

test('settings: trust domain and TTL are checked before anything is opened', async () => {
  assert.deepEqual(checkCaSettings({}), { trustDomain: 'weft.local', leafTtlSeconds: 86_400 });
  for (const bad of [{ trustDomain: 'Weft.Local' }, { trustDomain: '' }, { trustDomain: 'a/b' }, { leafTtlSeconds: 4 }, { leafTtlSeconds: 30 * 86_400 + 1 }, { leafTtlSeconds: 1.5 }, { leafTtlSeconds: Number.NaN }]) {
    assert.throws(() => checkCaSettings(bad), (err) => code(err) === 'WEFT_ERR_CA_CONFIG', JSON.stringify(bad));
  }
  const dataDir = tempDir();
  await assert.rejects(open(dataDir, { leafTtlSeconds: 1 }), (err) => code(err) === 'WEFT_ERR_CA_CONFIG');
  assert.throws(() => statSync(join(dataDir, 'ca')), /ENOENT/);
});

test('unsupported public keys are refused with WEFT_ERR_CA_INVALID_REQUEST on publicKey', async () => {
  const ca = await open(tempDir());
  const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
  await assert.rejects(
    ca.issue(request({ publicKey: ed })),
    (err) => code(err) === 'WEFT_ERR_CA_INVALID_REQUEST' && (err as { details: { path: string }[] }).details[0]!.path === 'publicKey',
  );
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
  assert.equal(new X509Certificate((await ca.issue(request({ publicKey: rsa }))).certificate).publicKey.asymmetricKeyType, 'rsa');
});

test('each issue is logged with proxy, identity, serial and expiry', async () => {
  const lines: string[] = [];
  const ca = await CertificateAuthority.open({ dataDir: tempDir(), log: createLogger('ca', (l) => lines.push(l)) });
  const issued = await ca.issue(request({ proxyId: 'cart-7' }));
  const line = lines.find((l) => l.includes('issued certificate'));
  assert.ok(line, lines.join(''));
  assert.match(line, /proxyId=cart-7/);
  assert.ok(line.includes(`identity=${issued.identity}`));
  assert.ok(line.includes(`serial=${issued.serial}`));
  assert.ok(line.includes(`notAfter=${new Date(issued.notAfter).toISOString()}`));
});

// ── broken files: a clear error naming the file, and the file left as it was ─────────────────────

async function brokenCase(damage: (keyPath: string, certPath: string) => void, blamed: 'key' | 'cert'): Promise<void> {
  const dataDir = tempDir();
  await open(dataDir);
  const keyPath = join(dataDir, 'ca', 'ca-key.pem');
  const certPath = join(dataDir, 'ca', 'ca-cert.pem');
  damage(keyPath, certPath);
  const read = (p: string): string | undefined => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  };
  const before = [read(keyPath), read(certPath)];
  await assert.rejects(open(dataDir), (err) => {
    assert.equal(code(err), 'WEFT_ERR_CA_LOAD');
    assert.ok((err as Error).message.includes(blamed === 'key' ? keyPath : certPath), (err as Error).message);
    return true;
  });
  assert.deepEqual([read(keyPath), read(certPath)], before, 'the CA files are untouched');
}

test('a corrupt key file is refused, not replaced', () => brokenCase((k) => writeFileSync(k, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), 'key'));
test('a corrupt certificate file is refused, not replaced', () => brokenCase((_k, c) => writeFileSync(c, 'not a certificate\n'), 'cert'));
test('an empty certificate file is refused', () => brokenCase((_k, c) => writeFileSync(c, ''), 'cert'));
test('a missing certificate next to a key is refused', () => brokenCase((_k, c) => unlinkSync(c), 'cert'));
test('a missing key next to a certificate is refused', () => brokenCase((k) => unlinkSync(k), 'key'));
test('a key of the wrong type is refused', () =>
  brokenCase((k) => writeFileSync(k, generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), 'key'));
test('a certificate that does not match the key is refused', () =>
  brokenCase((k) => writeFileSync(k, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), 'cert'));

// CSR checks on requests made by openssl (independent of weft's code): a good one yields its key and
// SAN URIs; a forged signature, garbage, another PEM type and an oversized one are refused with codes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isWeftError } from '../../lib/errors.ts';
import { checkCsr } from './csr.ts';

function opensslCsr(san?: string): { csr: string; publicKey: string } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-csr-'));
  try {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(join(dir, 'k.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    execFileSync('openssl', ['req', '-new', '-key', join(dir, 'k.pem'), '-subj', '/O=test', ...(san ? ['-addext', `subjectAltName=${san}`] : []), '-out', join(dir, 'r.csr')], { stdio: 'ignore' });
    return { csr: readFileSync(join(dir, 'r.csr'), 'utf8'), publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return isWeftError(err) ? err.code : `not a WeftError: ${err}`;
  }
  return undefined;
}

test('a well-formed CSR gives its public key and the URIs it asks for', async () => {
  const { csr, publicKey } = opensslCsr('URI:spiffe://weft.local/ns/default/svc/cart,DNS:cart');
  const checked = await checkCsr(csr);
  assert.ok(createPublicKey(checked.publicKey).equals(createPublicKey(publicKey)));
  assert.deepEqual(checked.uris, ['spiffe://weft.local/ns/default/svc/cart']);
  assert.deepEqual((await checkCsr(opensslCsr().csr)).uris, []);
});

test('forged, malformed, mislabelled and oversized CSRs are refused', async () => {
  const { csr } = opensslCsr();
  const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 2] ^= 0xff; // inside the signature
  const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  assert.equal(await codeOf(checkCsr(forged)), 'WEFT_ERR_CA_BAD_CSR');
  assert.equal(await codeOf(checkCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----')), 'WEFT_ERR_CA_BAD_CSR');
  assert.equal(await codeOf(checkCsr(csr.replaceAll('CERTIFICATE REQUEST', 'PUBLIC KEY'))), 'WEFT_ERR_CA_BAD_CSR');
  assert.equal(await codeOf(checkCsr(csr + csr)), 'WEFT_ERR_CA_BAD_CSR', 'one request only');
  assert.equal(await codeOf(checkCsr(`-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(9000)}\n-----END CERTIFICATE REQUEST-----`)), 'WEFT_ERR_CA_CSR_TOO_LARGE');
});

// The self-managed root on disk, <dataDir>/ca/: its file names, loading it with every check (a P-256
// key, a CA certificate that matches it; WEFT_ERR_CA_LOAD naming the file), and creating one with
// atomic writes, key first. certificate-authority.ts decides when; shared-root.ts writes a replica's.

import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { open as openFile, readFile, rename, stat, unlink } from 'node:fs/promises';
import type { Logger } from '../../lib/log.ts';
import { WeftError, errorMessage } from '../../lib/errors.ts';
import { createRootCertificate, createSigner, parsePrivateKey, wholeSeconds, type Root } from './certificate-builder.ts';

export const CA_DIR = 'ca';
export const CA_KEY_FILE = 'ca-key.pem';
export const CA_CERT_FILE = 'ca-cert.pem';
export const ROOT_VALIDITY_DAYS = 3650;
/** Certificates start this much in the past, so a peer whose clock runs a little behind accepts them. */
export const CLOCK_SKEW_MS = 60_000;

/** WEFT_ERR_CA_LOAD (500) naming the file and what was wrong with it, and how to recover. */
export function loadError(file: string, why: string): WeftError {
  return new WeftError(
    'WEFT_ERR_CA_LOAD',
    `cannot use the mesh CA: ${file}: ${why}. Every sidecar trusts this CA, so weft will not replace it; ` +
      `restore the file, or remove both ${CA_KEY_FILE} and ${CA_CERT_FILE} to create a new CA (every sidecar then needs new certificates)`,
    500,
  );
}

/** Whether the file exists; any error but ENOENT is WEFT_ERR_CA_LOAD. */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw loadError(path, errorMessage(err));
  }
}

/** Write to a temporary file, flush, then rename: a crash leaves the old state or the new, never half a key. */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await openFile(tmp, 'w', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Reads a self-managed root (key and certificate files); throws WEFT_ERR_CA_LOAD naming the file. */
export async function loadRoot(keyPath: string, certPath: string, log: Logger): Promise<Root> {
  const keyMode = (await stat(keyPath)).mode & 0o777;
  if (keyMode & 0o077) log.warn('CA private key is readable by others; chmod 600 it', { path: keyPath, mode: keyMode.toString(8) });
  let key: KeyObject;
  try {
    key = parsePrivateKey(await readFile(keyPath, 'utf8'));
  } catch (err) {
    throw loadError(keyPath, `not a PEM private key (${errorMessage(err)})`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw loadError(keyPath, `must be an EC P-256 key, found ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trimEnd());
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(certPath));
  } catch (err) {
    throw loadError(certPath, `not a PEM certificate (${errorMessage(err)})`);
  }
  if (!cert.ca) throw loadError(certPath, 'is not a CA certificate (basicConstraints CA:TRUE missing)');
  if (!cert.checkPrivateKey(key)) throw loadError(certPath, `does not match the private key in ${keyPath}`);
  return { cert, pem: cert.toString(), fingerprint: cert.fingerprint256, signer: await createSigner(key, cert) };
}

/**
 * The root's common name: names the trust domain it was made for and, for a rotation's new root,
 * when it was made, so that the two roots of a bundle have different names (ub-common-name: 64).
 */
function rootName(trustDomain: string, madeAt?: number): string {
  const when = madeAt === undefined ? '' : ` ${new Date(madeAt).toISOString().replace(/\.\d+Z$/, 'Z')}`;
  const full = `weft mesh root CA (${trustDomain})${when}`;
  return full.length <= 64 ? full : `weft mesh root CA${when}`;
}

/** A fresh P-256 root, written key first (0600), then the certificate. */
export async function createRoot(keyPath: string, certPath: string, trustDomain: string, now: number, rotation = false): Promise<Root> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = await createRootCertificate({
    key: privateKey,
    commonName: rootName(trustDomain, rotation ? now : undefined),
    notBefore: wholeSeconds(now - CLOCK_SKEW_MS),
    notAfter: wholeSeconds(now + ROOT_VALIDITY_DAYS * 86_400_000),
  });
  // The key first: a crash in between leaves a key without a certificate, which open() refuses
  // loudly rather than a certificate whose key is lost.
  await writeFileAtomic(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  await writeFileAtomic(certPath, pem, 0o644);
  const cert = new X509Certificate(pem);
  return { cert, pem: cert.toString(), fingerprint: cert.fingerprint256, signer: await createSigner(privateKey, cert) };
}

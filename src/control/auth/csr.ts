// Certificate signing requests (PKCS#10, RFC 2986) that sidecars send to POST /v1/certificates:
// parsed with @peculiar/x509, their self-signature verified (the sender holds the key), and the
// public key handed on to the CA as PEM. The identity is decided by the caller's credential, not here.

import 'reflect-metadata';
import { createPublicKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { WeftError } from '../../lib/errors.ts';

/** A P-256 CSR in PEM is ~500 bytes, an RSA-4096 one ~1.8 KB; anything past this is refused unparsed. */
export const MAX_CSR_PEM_BYTES = 8 * 1024;

export interface CheckedCsr {
  /** The CSR's SubjectPublicKeyInfo, PEM (`-----BEGIN PUBLIC KEY-----`), as the CA takes it. */
  readonly publicKey: string;
  /** URI SANs the CSR asks for (checked by the caller against the identity it may have). */
  readonly uris: readonly string[];
}

function bad(why: string, code = 'WEFT_ERR_CA_BAD_CSR'): WeftError {
  return new WeftError(code, `invalid certificate request: csr: ${why}`, 400, [{ path: 'csr', message: why }]);
}

/**
 * Parses a PEM CSR and verifies its signature. Throws WeftError WEFT_ERR_CA_CSR_TOO_LARGE (400)
 * past MAX_CSR_PEM_BYTES and WEFT_ERR_CA_BAD_CSR (400) when it is not a well-formed, self-signed
 * PKCS#10 request.
 */
export async function checkCsr(pem: string): Promise<CheckedCsr> {
  if (Buffer.byteLength(pem) > MAX_CSR_PEM_BYTES) throw bad(`larger than ${MAX_CSR_PEM_BYTES} bytes`, 'WEFT_ERR_CA_CSR_TOO_LARGE');
  if (!/^\s*-----BEGIN CERTIFICATE REQUEST-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE REQUEST-----\s*$/.test(pem)) {
    throw bad('must be one PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)');
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    // The library's message describes ASN.1 internals; the caller needs only to know it is not a CSR.
    throw bad('not a parsable PKCS#10 request');
  }
  let verified = false;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw bad('its signature does not verify with its own public key');
  let publicKey: string;
  try {
    publicKey = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string;
  } catch {
    throw bad('its public key cannot be read');
  }
  const uris: string[] = [];
  for (const ext of csr.extensions) {
    if (ext.type !== '2.5.29.17') continue;
    try {
      const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
      for (const name of san.names.items) if (name.type === 'url') uris.push(name.value);
    } catch {
      throw bad('its subjectAltName extension cannot be read');
    }
  }
  return { publicKey, uris };
}

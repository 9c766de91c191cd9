// The operator's own CA (`weft control --ca-cert/--ca-key`): the chain and key read where they are,
// checked before weft signs anything with them, never copied.

import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { WeftError, errorMessage } from '../../lib/errors.ts';
import { createSigner, hasKeyCertSign, parsePrivateKey, splitPem, type Root } from './certificate-builder.ts';

export interface OperatorCaFiles {
  /** PEM: the signing CA certificate first, then any intermediates, then the root (self-signed). */
  readonly certFile: string;
  /** PEM private key of the first certificate; must not be readable by group or others. */
  readonly keyFile: string;
}

function operatorError(code: string, file: string, why: string): WeftError {
  return new WeftError(code, `cannot use the operator CA: ${file}: ${why}`, 500);
}

/**
 * Loads and checks an operator's CA: the key is a private key readable only by its owner, the first
 * certificate is a CA (basicConstraints CA:TRUE, keyCertSign if keyUsage is present) matching the key,
 * each certificate is issued by the next and valid now, and the last is a self-signed root. Errors
 * (WeftError, 500): WEFT_ERR_CA_OPERATOR_FILE, _KEY_MODE, _KEY, _CERT, _NOT_CA, _KEY_MISMATCH,
 * _VALIDITY, _CHAIN.
 */
export async function loadOperatorCa(files: OperatorCaFiles, now: number): Promise<{ root: Root; intermediates: X509Certificate[] }> {
  const read = async (file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw operatorError('WEFT_ERR_CA_OPERATOR_FILE', file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`);
    }
  };
  const keyText = await read(files.keyFile);
  const mode = (await stat(files.keyFile)).mode & 0o777;
  if (mode & 0o077) throw operatorError('WEFT_ERR_CA_OPERATOR_KEY_MODE', files.keyFile, `is readable by group or others (mode ${mode.toString(8)}); chmod 600 it`);
  let key: KeyObject;
  try {
    key = parsePrivateKey(keyText);
  } catch {
    // Not the parser's message: it could quote what it read, and this is a private key file.
    throw operatorError('WEFT_ERR_CA_OPERATOR_KEY', files.keyFile, 'is not a PEM private key');
  }
  const supported = (key.asymmetricKeyType === 'ec' && ['prime256v1', 'secp384r1'].includes(key.asymmetricKeyDetails?.namedCurve ?? '')) ||
    (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048);
  if (!supported) throw operatorError('WEFT_ERR_CA_OPERATOR_KEY', files.keyFile, 'must be an EC P-256, EC P-384 or RSA (at least 2048 bits) key');
  const pems = splitPem(await read(files.certFile));
  if (pems.length === 0) throw operatorError('WEFT_ERR_CA_OPERATOR_CERT', files.certFile, 'holds no PEM certificate');
  let certs: X509Certificate[];
  try {
    certs = pems.map((p) => new X509Certificate(p));
  } catch (err) {
    throw operatorError('WEFT_ERR_CA_OPERATOR_CERT', files.certFile, `not a valid certificate (${errorMessage(err)})`);
  }
  const signer = certs[0]!;
  if (!signer.ca || !hasKeyCertSign(signer)) {
    throw operatorError('WEFT_ERR_CA_OPERATOR_NOT_CA', files.certFile, `its first certificate (${signer.subject.replace(/\n/g, ', ')}) is not a CA certificate (needs basicConstraints CA:TRUE and keyCertSign)`);
  }
  if (!signer.checkPrivateKey(key)) throw operatorError('WEFT_ERR_CA_OPERATOR_KEY_MISMATCH', files.keyFile, `does not match the first certificate in ${files.certFile}`);
  for (const c of certs) {
    if (c.validFromDate.getTime() > now || c.validToDate.getTime() <= now) {
      throw operatorError('WEFT_ERR_CA_OPERATOR_VALIDITY', files.certFile, `${c.subject.replace(/\n/g, ', ')} is valid from ${c.validFromDate.toISOString()} to ${c.validToDate.toISOString()}, not now`);
    }
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey) || !certs[i + 1]!.ca) {
      throw operatorError('WEFT_ERR_CA_OPERATOR_CHAIN', files.certFile, `certificate ${i + 1} is not issued by certificate ${i + 2}; list the signing CA first, then each issuer up to the root`);
    }
  }
  const root = certs[certs.length - 1]!;
  if (!root.checkIssued(root) || !root.verify(root.publicKey)) {
    throw operatorError('WEFT_ERR_CA_OPERATOR_CHAIN', files.certFile, `the last certificate (${root.subject.replace(/\n/g, ', ')}) is not a self-signed root; append the root certificate`);
  }
  const intermediates = certs.slice(0, -1);
  return {
    root: { cert: root, pem: root.toString(), fingerprint: root.fingerprint256, signer: await createSigner(key, signer, intermediates) },
    intermediates,
  };
}


// The CA's certificate layer: X.509 v3 certificates (RFC 5280) built with der.ts and signed with
// ECDSA P-256 / SHA-256 — the self-signed mesh root, and the SPIFFE leaf certificates sidecars
// present to each other in mutual TLS. Also the checks on a public key a sidecar sends.

import { createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { WeftError, errorMessage } from '../../lib/errors.ts';
import {
  bitString,
  boolean,
  explicit,
  implicit,
  integer,
  namedBits,
  octetString,
  oid,
  readChildren,
  readElement,
  sequence,
  set,
  utf8String,
  x509Time,
  decodeOid,
} from './der.ts';

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  organization: '2.5.4.10',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** keyUsage bit numbers (RFC 5280 4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

export interface NameParts {
  readonly organization?: string;
  readonly commonName: string;
}

/** A distinguished name: one attribute per RDN, O before CN, as UTF8String. */
export function encodeName(name: NameParts): Buffer {
  const rdn = (type: string, value: string): Buffer => set(sequence(oid(type), utf8String(value)));
  const rdns: Buffer[] = [];
  if (name.organization !== undefined) rdns.push(rdn(OID.organization, name.organization));
  rdns.push(rdn(OID.commonName, name.commonName));
  return sequence(...rdns);
}

/**
 * A positive serial of 128 random bits less the sign bit, never zero (RFC 5280: positive, at most
 * 20 octets, unpredictable). Returned as the unsigned big-endian bytes.
 */
export function randomSerial(): Buffer {
  for (;;) {
    const bytes = randomBytes(16);
    bytes[0] = bytes[0]! & 0x7f;
    if (bytes.some((b) => b !== 0)) return bytes;
  }
}

/** Serial bytes as Node's X509Certificate.serialNumber prints them: upper-case hex, no leading zero bytes. */
export function serialHex(serial: Buffer): string {
  let start = 0;
  while (start < serial.length - 1 && serial[start] === 0) start++;
  return serial.subarray(start).toString('hex').toUpperCase();
}

/**
 * The key identifier of RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's
 * value (not of the whole SPKI), which is what openssl computes too.
 */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const [, key] = readChildren(readElement(spkiDer).content);
  if (!key || key.identifier !== 0x03 || key.content.length < 2) throw new RangeError('SubjectPublicKeyInfo without a public key BIT STRING');
  return createHash('sha1').update(key.content.subarray(1)).digest();
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  // DER omits a BOOLEAN that equals its DEFAULT (critical DEFAULT FALSE).
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

const SIGNATURE_ALGORITHM = sequence(oid(OID.ecdsaWithSha256)); // parameters absent for ECDSA (RFC 5758 3.2)

interface CertificateFields {
  readonly serial: Buffer;
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly extensions: readonly Buffer[];
  /** The issuer's private key: EC P-256. */
  readonly signingKey: KeyObject;
}

function checkSigningKey(key: KeyObject): void {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new WeftError('WEFT_ERR_CA_KEY', 'the CA signs with an EC P-256 private key only', 500);
  }
}

function buildAndSign(f: CertificateFields): Buffer {
  checkSigningKey(f.signingKey);
  if (!(f.notBefore.getTime() < f.notAfter.getTime())) throw new RangeError('notBefore must be before notAfter');
  const tbs = sequence(
    explicit(0, integer(2)), // version v3
    integer(f.serial),
    SIGNATURE_ALGORITHM,
    f.issuer,
    sequence(x509Time(f.notBefore), x509Time(f.notAfter)),
    f.subject,
    f.spki,
    explicit(3, sequence(...f.extensions)),
  );
  // Node's ECDSA signature is DER `Ecdsa-Sig-Value`, exactly what X.509 wants in the BIT STRING.
  const signature = sign('sha256', tbs, { key: f.signingKey, dsaEncoding: 'der' });
  return sequence(tbs, SIGNATURE_ALGORITHM, bitString(signature));
}

export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Second precision: X.509 times have no fractions, so what we report is what the certificate says. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

export interface RootOptions {
  readonly key: KeyObject;
  readonly subject: NameParts;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial?: Buffer;
}

/** A self-signed CA certificate: CA:TRUE, keyCertSign + cRLSign, both critical; with its key identifier. */
export function createRootCertificate(o: RootOptions): Buffer {
  const spki = createPublicKey(o.key).export({ type: 'spki', format: 'der' });
  const name = encodeName(o.subject);
  return buildAndSign({
    serial: o.serial ?? randomSerial(),
    issuer: name,
    subject: name,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    spki,
    signingKey: o.key,
    extensions: [
      extension(OID.basicConstraints, true, sequence(boolean(true))),
      extension(OID.keyUsage, true, namedBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki))),
    ],
  });
}

export interface Issuer {
  readonly key: KeyObject;
  /** The issuer's subject Name, as encoded in its certificate (copied byte for byte). */
  readonly subject: Buffer;
  /** The issuer's subjectKeyIdentifier, which becomes the leaf's authorityKeyIdentifier. */
  readonly keyId: Buffer;
}

export interface LeafOptions {
  readonly issuer: Issuer;
  /** The leaf's SubjectPublicKeyInfo, DER (see acceptLeafPublicKey). */
  readonly spki: Buffer;
  readonly subject: NameParts;
  /** The one URI SAN: the workload's SPIFFE ID. */
  readonly uri: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial?: Buffer;
}

/** A URI SAN is an IA5String; URIs (RFC 3986) are printable ASCII without spaces. */
function uriBytes(uri: string): Buffer {
  if (!/^[\x21-\x7e]+$/.test(uri)) throw new RangeError(`a URI SAN must be printable ASCII: ${JSON.stringify(uri)}`);
  return Buffer.from(uri, 'latin1');
}

/** An end-entity certificate for mutual TLS: CA:FALSE, server and client auth, one URI SAN. */
export function createLeafCertificate(o: LeafOptions): Buffer {
  return buildAndSign({
    serial: o.serial ?? randomSerial(),
    issuer: o.issuer.subject,
    subject: encodeName(o.subject),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    spki: o.spki,
    signingKey: o.issuer.key,
    extensions: [
      // CA:FALSE is the DEFAULT, so DER leaves the SEQUENCE empty.
      extension(OID.basicConstraints, true, sequence()),
      extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment])),
      extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
      // The subject is not empty, so the SAN need not be critical (RFC 5280 4.2.1.6).
      extension(OID.subjectAltName, false, sequence(implicit(6, uriBytes(o.uri)))),
      extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, o.issuer.keyId))),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(o.spki))),
    ],
  });
}

export interface CertificateInfo {
  /** The subject Name's full encoding. */
  readonly subject: Buffer;
  /** subjectKeyIdentifier, when the certificate has one. */
  readonly subjectKeyId?: Buffer;
  readonly spki: Buffer;
}

/** Reads the fields a leaf needs from its issuer's certificate (Node's X509Certificate exposes neither raw). */
export function readCertificateInfo(der: Buffer): CertificateInfo {
  const [tbs] = readChildren(readElement(der).content);
  if (!tbs || tbs.identifier !== 0x30) throw new RangeError('certificate without a TBSCertificate');
  const fields = readChildren(tbs.content);
  // Skip the optional [0] version so that the indexes below are those of RFC 5280 4.1.
  const rest = fields[0]?.identifier === 0xa0 ? fields.slice(1) : fields;
  const [, , , , subject, spki, ...optional] = rest;
  if (!subject || !spki) throw new RangeError('TBSCertificate is missing its subject or public key');
  let subjectKeyId: Buffer | undefined;
  const exts = optional.find((e) => e.identifier === 0xa3);
  if (exts) {
    for (const ext of readChildren(readElement(exts.content).content)) {
      const parts = readChildren(ext.content);
      if (decodeOid(parts[0]!.content) !== OID.subjectKeyIdentifier) continue;
      subjectKeyId = Buffer.from(readElement(parts[parts.length - 1]!.content).content);
    }
  }
  return { subject: Buffer.from(subject.raw), subjectKeyId, spki: Buffer.from(spki.raw) };
}

/**
 * The SubjectPublicKeyInfo (DER) of a public key a sidecar sent, if the CA accepts it: EC P-256 or
 * P-384, or RSA of at least 2048 bits. Anything else throws a WeftError (400) naming `publicKey`.
 */
export function acceptLeafPublicKey(pem: string): Buffer {
  const reject = (why: string): never => {
    throw new WeftError('WEFT_ERR_CA_INVALID_REQUEST', `invalid certificate request: publicKey: ${why}`, 400, [{ path: 'publicKey', message: why }]);
  };
  // createPublicKey would happily derive a public key from a private one; a private key has no
  // business crossing the network, so say so rather than accept it.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) reject('is a private key; send only the public key (-----BEGIN PUBLIC KEY-----)');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    return reject(`cannot be parsed as a PEM public key (${errorMessage(err)})`);
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    if (details.namedCurve !== 'prime256v1' && details.namedCurve !== 'secp384r1') {
      reject(`EC curve ${details.namedCurve ?? 'unknown'} is not supported; use P-256 or P-384`);
    }
  } else if (type === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) reject(`RSA key of ${details.modulusLength ?? 0} bits is too small; use at least 2048 bits`);
  } else {
    reject(`key type ${type ?? 'unknown'} is not supported; use EC P-256, EC P-384 or RSA (at least 2048 bits)`);
  }
  return key.export({ type: 'spki', format: 'der' });
}

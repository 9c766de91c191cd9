// The CA's certificate layer, on @peculiar/x509 with Node's WebCrypto: the self-signed mesh root,
// the SPIFFE leaf certificates sidecars present to each other in mutual TLS (RFC 5280 profile,
// SPIFFE X509-SVID), the signing key of a root or an operator's intermediate, and the public-key checks.

// @peculiar/x509 uses decorators that read their metadata through this polyfill: it must load first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate, type KeyObject, type webcrypto } from 'node:crypto';
import { WeftError, errorMessage } from '../../lib/errors.ts';

x509.cryptoProvider.set(globalThis.crypto);

/** A signing algorithm WebCrypto takes for `sign`, with the hash named. */
export type SigningAlgorithm = webcrypto.RsaHashedImportParams | (webcrypto.EcKeyImportParams & { readonly hash: string });
type CryptoKey = webcrypto.CryptoKey;

/** A CA certificate and the key that signs with it: the mesh root, or an operator's root or intermediate. */
export interface Signer {
  readonly key: CryptoKey;
  readonly algorithm: SigningAlgorithm;
  /** The signing CA certificate, as the library reads it (its subject Name and key id go into leaves). */
  readonly certificate: x509.X509Certificate;
  /** PEM of the intermediates served after each leaf (the signer first, up to but not including the root); empty when the signer is a root. */
  readonly chainPem: string;
}

/** The WebCrypto algorithm for a private (or public) key: ECDSA P-256/SHA-256, P-384/SHA-384, RSA PKCS#1 v1.5/SHA-256. */
export function signingAlgorithmFor(key: KeyObject): SigningAlgorithm | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'secp384r1') return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return undefined;
}

/** The WebCrypto key for a Node private key; throws WeftError WEFT_ERR_CA_KEY (500) for a key type the CA does not sign with. */
export async function signingKey(key: KeyObject): Promise<{ key: CryptoKey; algorithm: SigningAlgorithm }> {
  const algorithm = signingAlgorithmFor(key);
  if (key.type !== 'private' || !algorithm) {
    throw new WeftError('WEFT_ERR_CA_KEY', 'the CA signs with an EC P-256, EC P-384 or RSA (at least 2048 bits) private key only', 500);
  }
  return { key: await key.toCryptoKey(algorithm, false, ['sign']), algorithm };
}

/**
 * A positive serial of 128 random bits less the sign bit, never zero (RFC 5280 4.1.2.2: positive,
 * at most 20 octets, unpredictable), as even-length lower-case hex.
 */
export function randomSerial(): string {
  for (;;) {
    const bytes = randomBytes(16);
    bytes[0] = bytes[0]! & 0x7f;
    if (bytes.some((b) => b !== 0)) return bytes.toString('hex');
  }
}

/** Serial hex as Node's X509Certificate.serialNumber prints it: upper case, no leading zero bytes. */
export function serialHex(serial: string): string {
  return serial.replace(/^(00)+(?=..)/, '').toUpperCase();
}

/** Second precision: X.509 times have no fractions, so what we report is what the certificate says. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** `O=weft, CN=…`, one attribute per RDN, in that order. */
function name(commonName: string): x509.JsonName {
  return [{ O: ['weft'] }, { CN: [commonName] }];
}

export interface RootOptions {
  /** A P-256 private key (the mesh root is always ECDSA P-256 / SHA-256). */
  readonly key: KeyObject;
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial?: string;
}

/** A self-signed CA certificate, PEM: CA:TRUE and keyCertSign + cRLSign, both critical; its subject key id. */
export async function createRootCertificate(o: RootOptions): Promise<string> {
  const { key, algorithm } = await signingKey(o.key);
  const publicKey = await createPublicKey(o.key).toCryptoKey(algorithm, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: o.serial ?? randomSerial(),
    name: name(o.commonName),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    signingAlgorithm: algorithm,
    keys: { privateKey: key, publicKey },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return cert.toString('pem') + '\n';
}

export interface LeafOptions {
  readonly signer: Signer;
  /** The leaf's SubjectPublicKeyInfo, DER (see acceptLeafPublicKey). */
  readonly spki: Buffer;
  readonly commonName: string;
  /** The one URI SAN: the workload's SPIFFE ID. */
  readonly uri: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial?: string;
}

/**
 * An X509-SVID for mutual TLS, PEM: CA:FALSE, digitalSignature + keyEncipherment (critical),
 * serverAuth + clientAuth, exactly one URI SAN, the issuer's key id as authority key id.
 * Throws RangeError for a URI that is not printable ASCII (a SAN URI is an IA5String).
 */
export async function createLeafCertificate(o: LeafOptions): Promise<string> {
  if (!/^[\x21-\x7e]+$/.test(o.uri)) throw new RangeError(`a URI SAN must be printable ASCII: ${JSON.stringify(o.uri)}`);
  const ski = o.signer.certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: o.serial ?? randomSerial(),
    subject: name(o.commonName),
    // The issuer's Name object as read from its certificate, so the encoding matches byte for byte.
    issuer: o.signer.certificate.subjectName,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    signingAlgorithm: o.signer.algorithm,
    signingKey: o.signer.key,
    publicKey: o.spki,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      // The subject is not empty, so the SAN need not be critical (RFC 5280 4.2.1.6).
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: o.uri }]),
      ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : await x509.AuthorityKeyIdentifierExtension.create(o.signer.certificate.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(o.spki),
    ],
  });
  return cert.toString('pem') + '\n';
}

/** The certificates of a PEM text, in order. */
export function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((p) => p + '\n') ?? [];
}

/**
 * Makes a Signer from a CA certificate and its private key; `intermediates` (the signer first, up to
 * but not including the root) when the signer is not a root. Throws WEFT_ERR_CA_KEY as signingKey.
 */
export async function createSigner(keyObject: KeyObject, certificate: X509Certificate, intermediates: readonly X509Certificate[] = []): Promise<Signer> {
  const { key, algorithm } = await signingKey(keyObject);
  return { key, algorithm, certificate: new x509.X509Certificate(certificate.raw), chainPem: intermediates.map((c) => c.toString()).join('') };
}

/** Whether a CA certificate may sign certificates: keyCertSign in its keyUsage, or no keyUsage at all (RFC 5280 4.2.1.3). */
export function hasKeyCertSign(cert: X509Certificate): boolean {
  const usage = new x509.X509Certificate(cert.raw).getExtension(x509.KeyUsagesExtension);
  return !usage || (usage.usages & x509.KeyUsageFlags.keyCertSign) !== 0;
}

/** Parses a PEM private key; the error says why. */
export function parsePrivateKey(pem: string): KeyObject {
  return createPrivateKey({ key: pem, format: 'pem' });
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

/** A CA root in force: its certificate (and PEM), SHA-256 fingerprint, and the signer that issues leaves under it. */
export interface Root {
  readonly cert: X509Certificate;
  readonly pem: string;
  readonly fingerprint: string;
  readonly signer: Signer;
}


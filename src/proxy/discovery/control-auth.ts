// How the sidecar authenticates to the control plane: its join token (or an operator's admin token)
// for the first certificate, then on every call a fresh proof of possession of its certificate's key
// (a JWS with the chain in `x5c`, src/config/control-auth.ts). Also builds the CSR for each new key.

import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { PROOF_SCHEME, PROOF_TYPE, type ProofClaims } from '../../config/control-auth.ts';
import type { Credentials } from '../transport/mesh-tls.ts';

export interface ControlAuthOptions {
  /** A join token for this proxy's service (`weft token create --service`). */
  readonly joinToken?: string;
  /** An admin token (WEFT_TOKEN): also gets a first certificate, for any service. */
  readonly token?: string;
  /** The certificate in force, once there is one. */
  readonly credentials: () => Credentials | undefined;
}

export interface ControlAuth {
  /** Headers for one call: a proof from the current certificate, else the token. */
  headers(method: string, target: string): Promise<Record<string, string>>;
  /** Headers with the token only (the first certificate, or one the control plane no longer accepts); empty without one. */
  tokenHeaders(): Record<string, string>;
  hasToken(): boolean;
}

/** The DER certificates of a PEM bundle, base64 (standard alphabet), as `x5c` wants them (RFC 7515 §4.1.6). */
export function x5cOf(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => c.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''));
}

export function createControlAuth(options: ControlAuthOptions): ControlAuth {
  const bearer = options.joinToken ?? options.token;
  let keyFor: Credentials | undefined;
  let key: KeyObject | undefined;
  let x5c: string[] = [];

  const tokenHeaders = (): Record<string, string> => (bearer ? { authorization: `Bearer ${bearer}` } : {});
  return {
    tokenHeaders,
    hasToken: () => bearer !== undefined,
    async headers(method, target) {
      const credentials = options.credentials();
      if (!credentials) return tokenHeaders();
      if (keyFor !== credentials) {
        key = createPrivateKey(credentials.key);
        x5c = x5cOf(credentials.certificate);
        keyFor = credentials;
      }
      // Loaded at the first call, not with the sidecar: jose is not needed before a certificate exists.
      const { CompactSign } = await import('jose');
      const claims: ProofClaims = { htm: method, htu: target, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url') };
      const jws = await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'ES256', typ: PROOF_TYPE, x5c }).sign(key!);
      return { authorization: `${PROOF_SCHEME} ${jws}` };
    },
  };
}

/**
 * A PKCS#10 CSR (RFC 2986), PEM, for a P-256 key pair, signed with it (ecdsa-with-SHA256, RFC 5758
 * §3.2): the control plane verifies the signature, so it knows the sender holds the private key,
 * which never leaves this process. Built from the ASN.1 schemas (@peculiar/asn1-csr, -x509) and
 * signed with node:crypto: @peculiar/x509, which does the same through WebCrypto, costs a sidecar
 * ~8 MiB of resident memory for one call at start (its dependency-injection container and
 * polyfills), the schemas ~3 MiB.
 */
export async function createCsr(privateKey: KeyObject, publicKey: KeyObject, commonName: string): Promise<string> {
  const { AsnConvert } = await import('@peculiar/asn1-schema');
  const { CertificationRequest, CertificationRequestInfo } = await import('@peculiar/asn1-csr');
  const { AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName, SubjectPublicKeyInfo } = await import('@peculiar/asn1-x509');
  const rdn = (type: string, value: string) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  const info = new CertificationRequestInfo({
    subject: new Name([rdn(OID_ORGANIZATION, 'weft'), rdn(OID_COMMON_NAME, commonName)]),
    subjectPKInfo: AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
  });
  const signature = sign('sha256', Buffer.from(AsnConvert.serialize(info)), { key: privateKey, dsaEncoding: 'der' });
  const csr = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA256 }),
    signature: signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.byteLength),
  });
  const der = Buffer.from(AsnConvert.serialize(csr)).toString('base64');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE REQUEST-----\n`;
}

const OID_ORGANIZATION = '2.5.4.10';
const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

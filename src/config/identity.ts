// The mesh's vocabulary, part 4: workload identity. Every sidecar holds a short-lived X.509
// certificate naming its service as a SPIFFE ID, issued by the control plane's CA (POST
// /v1/certificates); sidecars present it to each other in mutual TLS.

import type { ValidationResult } from './resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT } from './validate.ts';
import { DEFAULT_NAMESPACE } from './resource.ts';

export const DEFAULT_TRUST_DOMAIN = 'weft.local';
export const CERTIFICATES_PATH = '/v1/certificates';
/** GET: `{ trustDomain, trustBundle }`. */
export const CERTIFICATES_BUNDLE_PATH = '/v1/certificates/bundle';
/** Trust domains are DNS-like names (SPIFFE: lower-case letters, digits, dots, dashes, underscores). */
export const TRUST_DOMAIN = /^[a-z0-9]([-a-z0-9_.]{0,251}[a-z0-9])?$/;

export interface WorkloadIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly service: string;
}

/** `spiffe://<trust domain>/ns/<namespace>/svc/<service>`. */
export function spiffeId(id: WorkloadIdentity): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/svc/${id.service}`;
}

const SPIFFE_ID = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/svc\/([^/]+)$/;

/** The parts of a weft SPIFFE ID, or undefined when `uri` is not one. */
export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  const m = SPIFFE_ID.exec(uri);
  if (!m || !TRUST_DOMAIN.test(m[1]!) || !DNS_LABEL.test(m[2]!) || !DNS_LABEL.test(m[3]!)) return undefined;
  return { trustDomain: m[1]!, namespace: m[2]!, service: m[3]! };
}

/** What a sidecar sends to get a certificate: who it is and the public half of a key it just made. */
export interface CertificateRequest {
  readonly namespace: string;
  readonly service: string;
  /** The proxy's id, recorded by the CA (logs, metrics); not part of the identity. */
  readonly proxyId: string;
  /** SubjectPublicKeyInfo, PEM (`-----BEGIN PUBLIC KEY-----`); EC P-256 or RSA ≥ 2048 bits. */
  readonly publicKey: string;
}

/** The CA's answer. */
export interface IssuedCertificate {
  /** The SPIFFE ID in the certificate's URI SAN. */
  readonly identity: string;
  /** The leaf certificate, PEM. */
  readonly certificate: string;
  /** The CA certificates a peer's chain must end in, PEM (one or more, concatenated). */
  readonly trustBundle: string;
  /** Validity, epoch milliseconds. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** Hex serial number. */
  readonly serial: string;
}

export function validateCertificateRequest(raw: unknown): ValidationResult<CertificateRequest> {
  const c = new Checker();
  const body = c.object(raw, '');
  if (!body) return { ok: false, errors: c.errors };
  c.noUnknown(body, '', ['namespace', 'service', 'proxyId', 'publicKey']);
  const namespace = c.string(body.namespace, 'namespace', { pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT }) ?? DEFAULT_NAMESPACE;
  const service = c.string(body.service, 'service', { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
  const proxyId = c.string(body.proxyId, 'proxyId', { required: true, max: 128 });
  const publicKey = c.string(body.publicKey, 'publicKey', { required: true, max: 16_384 });
  if (publicKey !== undefined && !publicKey.includes('-----BEGIN PUBLIC KEY-----')) {
    c.fail('publicKey', 'must be a PEM SubjectPublicKeyInfo (-----BEGIN PUBLIC KEY-----)');
  }
  if (c.errors.length || !service || !proxyId || !publicKey) return { ok: false, errors: c.errors };
  return { ok: true, value: { namespace, service, proxyId, publicKey } };
}

/**
 * The body of POST /v1/certificates: the workload, the proxy's id and either a CSR (PKCS#10 PEM,
 * what sidecars send: it proves the sender holds the key) or a bare public key (accepted from
 * admin callers only). Which identity is signed is decided by the caller's credential.
 */
export interface CertificateApiRequest {
  readonly namespace: string;
  readonly service: string;
  readonly proxyId: string;
  readonly csr?: string;
  readonly publicKey?: string;
}

export function validateCertificateApiRequest(raw: unknown): ValidationResult<CertificateApiRequest> {
  const c = new Checker();
  const body = c.object(raw, '');
  if (!body) return { ok: false, errors: c.errors };
  c.noUnknown(body, '', ['namespace', 'service', 'proxyId', 'publicKey', 'csr']);
  const namespace = c.string(body.namespace, 'namespace', { pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT }) ?? DEFAULT_NAMESPACE;
  const service = c.string(body.service, 'service', { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
  const proxyId = c.string(body.proxyId, 'proxyId', { required: true, max: 128 });
  // Its size is checked with the CSR itself (WEFT_ERR_CA_CSR_TOO_LARGE); the API's body cap bounds this.
  const csr = c.string(body.csr, 'csr');
  const publicKey = c.string(body.publicKey, 'publicKey', { max: 16_384 });
  if (csr === undefined && publicKey === undefined && body.csr === undefined && body.publicKey === undefined) c.fail('csr', 'required: a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----)');
  if (csr !== undefined && publicKey !== undefined) c.fail('publicKey', 'give csr or publicKey, not both');
  if (publicKey !== undefined && !publicKey.includes('-----BEGIN PUBLIC KEY-----')) c.fail('publicKey', 'must be a PEM SubjectPublicKeyInfo (-----BEGIN PUBLIC KEY-----)');
  if (c.errors.length || !service || !proxyId) return { ok: false, errors: c.errors };
  return { ok: true, value: { namespace, service, proxyId, ...(csr !== undefined ? { csr } : { publicKey }) } };
}

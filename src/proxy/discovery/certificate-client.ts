// The sidecar's side of workload identity: makes a fresh P-256 key, asks the control plane's CA to
// certify it with a CSR (POST /v1/certificates; the join token the first time, a proof of the current
// certificate after), checks what comes back, and renews at half the certificate's life (or sooner
// after a failure), so rotation never lets a certificate expire under traffic.

import { X509Certificate, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { NodeInfo } from '../../config/snapshot-types.ts';
import { CERTIFICATES_BUNDLE_PATH, CERTIFICATES_PATH, parseSpiffeId, type CertificateApiRequest, type IssuedCertificate } from '../../config/identity.ts';
import { createBackoff } from '../../lib/backoff.ts';
import { systemClock, type Clock, type Timer } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import { httpCall } from '../../lib/http-call.ts';
import type { Logger } from '../../lib/log.ts';
import { certificateIdentity, type Credentials } from '../transport/mesh-tls.ts';
import { createControlAuth, createCsr, type ControlAuth } from './control-auth.ts';

export interface CertificateClientOptions {
  readonly controlUrl: string;
  /** How calls authenticate; default: `token` as a bearer, then the certificate's proof. */
  readonly auth?: ControlAuth;
  readonly token?: string;
  readonly node: NodeInfo;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Each new certificate, the first one and every renewal. */
  readonly onCredentials: (credentials: Credentials) => void;
  /** How far into a certificate's life it is renewed (default 0.5). */
  readonly renewAt?: number;
}

export interface CertificateClient {
  current(): Credentials | undefined;
  /**
   * Asks the CA for its trust bundle and renews at once if it is not the one this sidecar holds (a
   * control plane restarted with a new CA): called when the config stream comes back.
   */
  checkTrust(): Promise<void>;
  /** Asks for a new certificate now (unless a request is under way): the control plane refused the current one. */
  renewNow(): void;
  /** Why the latest request failed, until one succeeds. */
  lastError(): string | undefined;
  stop(): void;
}

/** Throws with what is wrong when the CA's answer is not a certificate for this key and identity. */
export function checkIssued(issued: IssuedCertificate, node: NodeInfo, publicKey: KeyObject, now: number): void {
  const wanted = parseSpiffeId(issued.identity);
  if (!wanted || wanted.namespace !== node.namespace || wanted.service !== node.service) {
    throw new Error(`the CA issued identity ${JSON.stringify(issued.identity)}, not one for ${node.service} in ${node.namespace}`);
  }
  const cert = new X509Certificate(issued.certificate);
  if (certificateIdentity({ subjectaltname: cert.subjectAltName }) !== issued.identity) throw new Error(`the certificate's SAN (${cert.subjectAltName}) does not name ${issued.identity}`);
  if (!cert.publicKey.equals(publicKey)) throw new Error('the certificate is not for the key this sidecar sent');
  const roots = splitPem(issued.trustBundle).map((pem) => new X509Certificate(pem));
  if (roots.length === 0) throw new Error('the trust bundle holds no certificate');
  if (!roots.some((root) => cert.checkIssued(root) && cert.verify(root.publicKey))) throw new Error('the certificate is not signed by the trust bundle');
  if (Date.parse(cert.validTo) <= now) throw new Error(`the certificate expired at ${cert.validTo}`);
}

export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export function startCertificateClient(options: CertificateClientOptions): CertificateClient {
  const clock = options.clock ?? systemClock;
  const { log, node } = options;
  const renewAt = options.renewAt ?? 0.5;
  const backoff = createBackoff({ baseMs: 500, maxMs: 30_000 });
  let current: Credentials | undefined;
  let lastError: string | undefined;
  let timer: Timer | undefined;
  let stopped = false;

  const schedule = (ms: number): void => {
    timer?.cancel();
    if (!stopped) timer = clock.setTimeout(() => void request(), ms);
  };

  const auth = options.auth ?? createControlAuth({ token: options.token, credentials: () => current });
  /** A call with the current certificate's proof, and once more with the token when the control plane refuses the proof (a new CA, an expired certificate). */
  const call = async (method: string, path: string, body?: unknown) => {
    const url = new URL(path, options.controlUrl);
    const headers = await auth.headers(method, url.pathname + url.search);
    let res = await httpCall(url, { method, headers, json: body, timeoutMs: 10_000 });
    if (res.status === 401 && current && auth.hasToken()) {
      log.warn('the control plane refused this certificate as a credential; using the token', { status: res.status });
      res = await httpCall(url, { method, headers: auth.tokenHeaders(), json: body, timeoutMs: 10_000 });
    }
    return res;
  };

  let requesting = false;
  const request = async (): Promise<void> => {
    if (requesting) return;
    requesting = true;
    try {
      // Synchronous on purpose: a P-256 key takes well under a millisecond, and the async form would
      // start libuv's thread pool (four more threads) in a process that otherwise never needs it.
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const body: CertificateApiRequest = {
        namespace: node.namespace,
        service: node.service,
        proxyId: node.id,
        csr: await createCsr(privateKey, publicKey, `${node.service}.${node.namespace}`.slice(0, 64)),
      };
      const res = await call('POST', CERTIFICATES_PATH, body);
      if (!res.ok) throw new Error(`the CA answered ${res.status}: ${res.body.slice(0, 300)}`);
      const issued = JSON.parse(res.body) as IssuedCertificate;
      checkIssued(issued, node, createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })), clock.now());
      if (stopped) return;
      current = {
        identity: issued.identity,
        key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
        certificate: issued.certificate,
        trustBundle: issued.trustBundle,
        notBefore: issued.notBefore,
        notAfter: issued.notAfter,
        serial: issued.serial,
      };
      lastError = undefined;
      backoff.reset();
      log.info('certificate issued', { identity: issued.identity, serial: issued.serial, notAfter: new Date(issued.notAfter).toISOString() });
      options.onCredentials(current);
      const now = clock.now();
      schedule(Math.max(1_000, issued.notBefore + (issued.notAfter - issued.notBefore) * renewAt - now));
    } catch (err) {
      if (stopped) return;
      lastError = `could not get a certificate from ${options.controlUrl}: ${errorMessage(err)}`;
      // Retry soon, but never later than what keeps the current certificate from expiring first.
      let delay = backoff.next();
      if (current) delay = Math.min(delay, Math.max(1_000, (current.notAfter - clock.now()) / 4));
      log.warn('certificate request failed', { err: errorMessage(err), retryInMs: delay, expiresAt: current ? new Date(current.notAfter).toISOString() : undefined });
      schedule(delay);
    } finally {
      requesting = false;
    }
  };

  const checkTrust = async (): Promise<void> => {
    if (!current || stopped) return;
    try {
      const res = await call('GET', CERTIFICATES_BUNDLE_PATH);
      if (!res.ok) throw new Error(`the CA answered ${res.status}: ${res.body.slice(0, 300)}`);
      const { trustBundle } = JSON.parse(res.body) as { trustBundle: string };
      if (current && trustBundle.trim() !== current.trustBundle.trim()) {
        log.warn('the CA has a new trust bundle; renewing the certificate now');
        schedule(0);
      }
    } catch (err) {
      log.warn('could not check the CA trust bundle', { err: errorMessage(err) });
    }
  };

  void request();
  return {
    current: () => current,
    checkTrust,
    renewNow: () => void request(),
    lastError: () => lastError,
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}

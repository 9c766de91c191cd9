// The sidecar's side of workload identity: makes a fresh P-256 key, asks the control plane's CA to
// certify it with a CSR (POST /v1/certificates; the join token the first time, a proof of the current
// certificate after), checks what comes back, and renews once half of the life it had left has
// passed (or sooner after a failure), so no certificate expires under traffic; and renews at once
// when the control plane announces new roots or a new issuer (a root rotation).

import { X509Certificate, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { NodeInfo } from '../../config/snapshot-types.ts';
import type { TrustMessage } from '../../config/stream-protocol.ts';
import { CERTIFICATES_BUNDLE_PATH, CERTIFICATES_PATH, parseSpiffeId, type CertificateApiRequest, type IssuedCertificate } from '../../config/identity.ts';
import { createBackoff } from '../../lib/backoff.ts';
import { systemClock, type Clock, type Timer } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import { httpCall } from '../../lib/http-call.ts';
import type { Logger } from '../../lib/log.ts';
import { certificateIdentity, type Credentials } from '../transport/mesh-tls.ts';
import type { ControlTarget } from './control-target.ts';
import { createControlAuth, createCsr, type ControlAuth } from './control-auth.ts';

export interface CertificateClientOptions {
  readonly controlUrl: string;
  /** Several control-plane replicas (`--control a,b`): calls go to the current one, and a replica that cannot be reached is reported. */
  readonly control?: ControlTarget;
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
  /**
   * The control plane's trust state (stream message `trust`): renews at once (after a short jitter)
   * when the bundle holds other roots than this sidecar's, or the leaf is not from `issuer`.
   */
  trustChanged(trust: TrustMessage): void;
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
  // The leaf, then any intermediates of an operator CA, each issued by the next.
  const chain = splitPem(issued.certificate).map((pem) => new X509Certificate(pem));
  const cert = chain[0];
  if (!cert) throw new Error('the answer holds no certificate');
  if (certificateIdentity({ subjectaltname: cert.subjectAltName }) !== issued.identity) throw new Error(`the certificate's SAN (${cert.subjectAltName}) does not name ${issued.identity}`);
  if (!cert.publicKey.equals(publicKey)) throw new Error('the certificate is not for the key this sidecar sent');
  const roots = splitPem(issued.trustBundle).map((pem) => new X509Certificate(pem));
  if (roots.length === 0) throw new Error('the trust bundle holds no certificate');
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) throw new Error(`certificate ${i + 1} of the chain is not issued by certificate ${i + 2}`);
  }
  const top = chain[chain.length - 1]!;
  if (!roots.some((root) => top.checkIssued(root) && top.verify(root.publicKey))) throw new Error('the certificate is not signed by the trust bundle');
  if (Date.parse(cert.validTo) <= now) throw new Error(`the certificate expired at ${cert.validTo}`);
}

export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The roots of a bundle as a comparable key: their SHA-256 fingerprints, sorted. */
function bundleKey(bundle: string): string {
  return splitPem(bundle).map((pem) => new X509Certificate(pem).fingerprint256).sort().join(',');
}

/** Answers after which the next request goes to the next --control URL (ControlTarget.failed). */
const FAILOVER_STATUSES: ReadonlySet<number> = new Set([404, 502, 503, 504]);

/** Whether these credentials are what the control plane's trust state asks for. */
export function matchesTrust(credentials: Pick<Credentials, 'certificate' | 'trustBundle'>, trust: TrustMessage): boolean {
  if (bundleKey(credentials.trustBundle) !== bundleKey(trust.trustBundle)) return false;
  const leaf = new X509Certificate(splitPem(credentials.certificate)[0] ?? credentials.certificate);
  const issuer = new X509Certificate(trust.issuer);
  return leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey);
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
  let inFlight = false;
  /** The latest trust state announced; checked again after each issue. */
  let trust: TrustMessage | undefined;
  /** Counts trust announcements, so that a renewal that did not match is retried only for a newer one. */
  let trustSeq = 0;
  let requestSeq = -1;

  const schedule = (ms: number): void => {
    timer?.cancel();
    if (!stopped) timer = clock.setTimeout(() => void request(), ms);
  };

  const auth = options.auth ?? createControlAuth({ token: options.token, credentials: () => current });
  /** A call with the current certificate's proof, and once more with the token when the control plane refuses the proof (a new CA, an expired certificate). */
  const call = async (method: string, path: string, body?: unknown) => {
    const base = options.control?.current() ?? options.controlUrl;
    const url = new URL(path, base);
    const headers = await auth.headers(method, url.pathname + url.search);
    let res;
    try {
      res = await httpCall(url, { method, headers, json: body, timeoutMs: 10_000 });
    } catch (err) {
      // Unreachable (not an answer): the next attempt goes to another replica.
      options.control?.failed(base);
      throw err;
    }
    if (res.status === 401 && current && auth.hasToken()) {
      log.warn('the control plane refused this certificate as a credential; using the token', { status: res.status });
      res = await httpCall(url, { method, headers: auth.tokenHeaders(), json: body, timeoutMs: 10_000 });
    }
    // An answer that says this URL cannot serve the CA (a replica shutting down or cut off from its
    // store: 503; a gateway in front of a dead one: 502, 504; something that is not a weft control
    // plane: 404) moves on too, as the config stream does for any answer but 200: otherwise a
    // sidecar whose first --control URL answers so would never get its first certificate.
    if (FAILOVER_STATUSES.has(res.status)) options.control?.failed(base);
    return res;
  };

  /** Renew soon (jittered, so a rotation does not bring every sidecar to the CA in the same millisecond) unless the credentials already match. */
  const renewIfStale = (): void => {
    if (!current || !trust || inFlight || stopped) return;
    let stale: boolean;
    try {
      stale = !matchesTrust(current, trust);
    } catch (err) {
      log.warn('cannot read the announced trust state', { err: errorMessage(err) });
      return;
    }
    if (!stale) return;
    log.info('the CA announced new roots or a new issuer; renewing the certificate now');
    schedule(Math.floor(Math.random() * 500));
  };

  const request = async (): Promise<void> => {
    if (inFlight) return;
    inFlight = true;
    requestSeq = trustSeq;
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
      // Half of the life left from now, not from notBefore: the CA backdates notBefore for clock
      // skew (60 s), which would otherwise make a short-lived certificate renew at once.
      const now = clock.now();
      schedule(Math.max(1_000, (issued.notAfter - now) * renewAt));
      inFlight = false;
      // A trust change announced while this request was on its way may need another round; the
      // same announcement twice would loop (a CA that answers otherwise than it announces).
      if (requestSeq !== trustSeq) renewIfStale();
    } catch (err) {
      inFlight = false;
      if (stopped) return;
      lastError = `could not get a certificate from ${options.control?.current() ?? options.controlUrl}: ${errorMessage(err)}`;
      // Retry soon, but never later than what keeps the current certificate from expiring first.
      let delay = backoff.next();
      if (current) delay = Math.min(delay, Math.max(1_000, (current.notAfter - clock.now()) / 4));
      log.warn('certificate request failed', { err: errorMessage(err), retryInMs: delay, expiresAt: current ? new Date(current.notAfter).toISOString() : undefined });
      schedule(delay);
    } finally {
      inFlight = false;
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
    trustChanged(t) {
      trust = t;
      trustSeq++;
      renewIfStale();
    },
    lastError: () => lastError,
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}

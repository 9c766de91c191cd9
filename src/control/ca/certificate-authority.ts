// The control plane's certificate authority for automatic mutual TLS: keeps the mesh's root key and
// certificate in <dataDir>/ca/ and issues each sidecar a short-lived SPIFFE certificate for the
// public key it sends (POST /v1/certificates, see src/config/identity.ts for the contract).

import { generateKeyPairSync, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, open as openFile, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { WeftError, errorMessage } from '../../lib/errors.ts';
import {
  DEFAULT_TRUST_DOMAIN,
  TRUST_DOMAIN,
  spiffeId,
  type CertificateRequest,
  type IssuedCertificate,
} from '../../config/identity.ts';
import {
  acceptLeafPublicKey,
  createLeafCertificate,
  createRootCertificate,
  keyIdentifier,
  randomSerial,
  readCertificateInfo,
  serialHex,
  toPem,
  wholeSeconds,
  type Issuer,
} from './x509.ts';

export const DEFAULT_LEAF_TTL_SECONDS = 24 * 3600;
/**
 * Down to 5 s so that tests can watch sidecars rotate; anything under 10 minutes is for tests
 * only (every sidecar would be back for a new certificate every few minutes).
 */
export const MIN_LEAF_TTL_SECONDS = 5;
export const MAX_LEAF_TTL_SECONDS = 30 * 24 * 3600;
export const ROOT_VALIDITY_DAYS = 3650;
/** Leaves start this much in the past, so a peer whose clock runs a little behind accepts them. */
export const CLOCK_SKEW_MS = 60_000;

export const CA_DIR = 'ca';
export const CA_KEY_FILE = 'ca-key.pem';
export const CA_CERT_FILE = 'ca-cert.pem';

export interface CertificateAuthorityOptions {
  /** The control plane's data directory; the CA lives in its `ca/` subdirectory. */
  readonly dataDir: string;
  readonly trustDomain?: string;
  readonly leafTtlSeconds?: number;
  readonly clock?: Clock;
  readonly log?: Logger;
}

export interface CaSettings {
  readonly trustDomain: string;
  readonly leafTtlSeconds: number;
}

/** Checks the CA's settings, defaults filled; throws WEFT_ERR_CA_CONFIG before anything is opened. */
export function checkCaSettings(o: { trustDomain?: string; leafTtlSeconds?: number }): CaSettings {
  const trustDomain = o.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (typeof trustDomain !== 'string' || !TRUST_DOMAIN.test(trustDomain)) {
    throw new WeftError('WEFT_ERR_CA_CONFIG', `trust domain must be a lower-case DNS-like name (letters, digits, '.', '-', '_'), got ${JSON.stringify(trustDomain)}`, 400);
  }
  const leafTtlSeconds = o.leafTtlSeconds ?? DEFAULT_LEAF_TTL_SECONDS;
  if (!Number.isInteger(leafTtlSeconds) || leafTtlSeconds < MIN_LEAF_TTL_SECONDS || leafTtlSeconds > MAX_LEAF_TTL_SECONDS) {
    throw new WeftError('WEFT_ERR_CA_CONFIG', `certificate TTL must be a whole number of seconds from ${MIN_LEAF_TTL_SECONDS} to ${MAX_LEAF_TTL_SECONDS} (30 days), got ${leafTtlSeconds}`, 400);
  }
  return { trustDomain, leafTtlSeconds };
}

function loadError(file: string, why: string): WeftError {
  return new WeftError(
    'WEFT_ERR_CA_LOAD',
    `cannot use the mesh CA: ${file}: ${why}. Every sidecar trusts this CA, so weft will not replace it; ` +
      `restore the file, or remove both ${CA_KEY_FILE} and ${CA_CERT_FILE} to create a new CA (every sidecar then needs new certificates)`,
    500,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw loadError(path, errorMessage(err));
  }
}

/** Write to a temporary file, flush, then rename: a crash leaves the old state or the new, never half a key. */
async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
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

export class CertificateAuthority {
  readonly trustDomain: string;
  readonly leafTtlSeconds: number;
  /** The root's validity, epoch ms. */
  readonly rootNotBefore: number;
  readonly rootNotAfter: number;
  readonly #issuer: Issuer;
  readonly #rootPem: string;
  readonly #clock: Clock;
  readonly #log: Logger;

  private constructor(settings: CaSettings, root: X509Certificate, issuer: Issuer, clock: Clock, log: Logger) {
    this.trustDomain = settings.trustDomain;
    this.leafTtlSeconds = settings.leafTtlSeconds;
    this.rootNotBefore = root.validFromDate.getTime();
    this.rootNotAfter = root.validToDate.getTime();
    this.#rootPem = toPem(Buffer.from(root.raw));
    this.#issuer = issuer;
    this.#clock = clock;
    this.#log = log;
  }

  /** Loads the CA from `<dataDir>/ca/`, or creates it there on first start. */
  static async open(options: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    const settings = checkCaSettings(options);
    const clock = options.clock ?? systemClock;
    const log = options.log ?? createLogger('ca');
    const dir = join(options.dataDir, CA_DIR);
    const keyPath = join(dir, CA_KEY_FILE);
    const certPath = join(dir, CA_CERT_FILE);
    const [haveKey, haveCert] = await Promise.all([exists(keyPath), exists(certPath)]);
    if (!haveKey && !haveCert) return CertificateAuthority.#create(settings, dir, keyPath, certPath, clock, log);
    if (!haveKey) throw loadError(keyPath, `missing, but ${certPath} exists`);
    if (!haveCert) throw loadError(certPath, `missing, but ${keyPath} exists`);

    const keyMode = (await stat(keyPath)).mode & 0o777;
    if (keyMode & 0o077) log.warn('CA private key is readable by others; chmod 600 it', { path: keyPath, mode: keyMode.toString(8) });
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: await readFile(keyPath, 'utf8'), format: 'pem' });
    } catch (err) {
      throw loadError(keyPath, `not a PEM private key (${errorMessage(err)})`);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw loadError(keyPath, `must be an EC P-256 key, found ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trimEnd());
    }
    let root: X509Certificate;
    let info;
    try {
      root = new X509Certificate(await readFile(certPath));
      info = readCertificateInfo(Buffer.from(root.raw));
    } catch (err) {
      throw loadError(certPath, `not a PEM certificate (${errorMessage(err)})`);
    }
    if (!root.ca) throw loadError(certPath, 'is not a CA certificate (basicConstraints CA:TRUE missing)');
    if (!root.checkPrivateKey(key)) throw loadError(certPath, `does not match the private key in ${keyPath}`);

    // The trust domain lives in the leaves' SANs, not in the root, so a changed setting still works;
    // the root's name just tells of the domain it was made for.
    if (!root.subject.includes(`(${settings.trustDomain})`)) {
      log.warn('the mesh CA was created for another trust domain; it keeps signing, for the new one', { path: certPath, subject: root.subject.replace(/\n/g, ', '), trustDomain: settings.trustDomain });
    }
    const ca = new CertificateAuthority(settings, root, { key, subject: info.subject, keyId: info.subjectKeyId ?? keyIdentifier(info.spki) }, clock, log);
    const left = ca.rootNotAfter - clock.now();
    if (left <= 0) log.error('the mesh root CA has expired; no certificates can be issued', { path: certPath, notAfter: root.validToDate.toISOString() });
    else if (left < 30 * 86_400_000) log.warn('the mesh root CA expires soon', { path: certPath, notAfter: root.validToDate.toISOString() });
    log.info('loaded mesh CA', { path: certPath, trustDomain: settings.trustDomain, notAfter: root.validToDate.toISOString(), fingerprint256: root.fingerprint256 });
    return ca;
  }

  static async #create(settings: CaSettings, dir: string, keyPath: string, certPath: string, clock: Clock, log: Logger): Promise<CertificateAuthority> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = clock.now();
    const der = createRootCertificate({
      key: privateKey,
      subject: { organization: 'weft', commonName: `weft mesh root CA (${settings.trustDomain})` },
      notBefore: wholeSeconds(now - CLOCK_SKEW_MS),
      notAfter: wholeSeconds(now + ROOT_VALIDITY_DAYS * 86_400_000),
      serial: randomSerial(),
    });
    // The key first: a crash in between leaves a key without a certificate, which open() refuses
    // loudly rather than a certificate whose key is lost.
    await writeFileAtomic(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    await writeFileAtomic(certPath, toPem(der), 0o644);
    const root = new X509Certificate(der);
    const info = readCertificateInfo(der);
    log.info('created a new mesh CA', { path: certPath, trustDomain: settings.trustDomain, notAfter: root.validToDate.toISOString(), fingerprint256: root.fingerprint256 });
    return new CertificateAuthority(settings, root, { key: privateKey, subject: info.subject, keyId: info.subjectKeyId! }, clock, log);
  }

  /** The root certificate(s) every sidecar trusts, PEM. */
  trustBundle(): string {
    return this.#rootPem;
  }

  /**
   * A leaf certificate for the request's workload and public key. Throws WeftError
   * WEFT_ERR_CA_INVALID_REQUEST (400, path `publicKey`) for a key it does not accept, and
   * WEFT_ERR_CA_EXPIRED (503) once the root has expired.
   */
  issue(request: CertificateRequest): IssuedCertificate {
    const spki = acceptLeafPublicKey(request.publicKey);
    const now = this.#clock.now();
    const identity = spiffeId({ trustDomain: this.trustDomain, namespace: request.namespace, service: request.service });
    const notBefore = wholeSeconds(Math.max(now - CLOCK_SKEW_MS, this.rootNotBefore));
    // A leaf never outlives its root: past that, no peer could verify it anyway.
    const wanted = now + this.leafTtlSeconds * 1000;
    const notAfter = wholeSeconds(Math.min(wanted, this.rootNotAfter));
    if (notAfter.getTime() <= Math.max(now, notBefore.getTime())) {
      throw new WeftError('WEFT_ERR_CA_EXPIRED', `the mesh root CA expired at ${new Date(this.rootNotAfter).toISOString()}; no certificates can be issued`, 503);
    }
    const serial = randomSerial();
    // ub-common-name is 64 characters; the identity is in the SAN anyway, the CN is for humans.
    const fullName = `${request.service}.${request.namespace}`;
    const der = createLeafCertificate({
      issuer: this.#issuer,
      spki,
      subject: { organization: 'weft', commonName: fullName.length <= 64 ? fullName : request.service },
      uri: identity,
      notBefore,
      notAfter,
      serial,
    });
    const issued: IssuedCertificate = {
      identity,
      certificate: toPem(der),
      trustBundle: this.#rootPem,
      notBefore: notBefore.getTime(),
      notAfter: notAfter.getTime(),
      serial: serialHex(serial),
    };
    this.#log.info('issued certificate', {
      proxyId: request.proxyId,
      identity,
      serial: issued.serial,
      notAfter: notAfter.toISOString(),
      cappedByRoot: wanted > this.rootNotAfter ? true : undefined,
    });
    return issued;
  }
}

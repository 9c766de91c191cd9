// The control plane's certificate authority for automatic mutual TLS: keeps the mesh's root key and
// certificate in <dataDir>/ca/ (or signs with an operator's root or intermediate, --ca-cert/--ca-key),
// issues each sidecar a short-lived SPIFFE certificate for the public key it sends (POST
// /v1/certificates, see src/config/identity.ts), and rotates its root in three phases (ca rotate).

import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock, type Timer } from '../../lib/clock.ts';
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
  randomSerial,
  serialHex,
  wholeSeconds,
  type Root,
} from './certificate-builder.ts';
import { loadOperatorCa, type OperatorCaFiles } from './operator-ca.ts';
import { CA_CERT_FILE, CA_DIR, CA_KEY_FILE, CLOCK_SKEW_MS, createRoot, exists, loadError, loadRoot, writeFileAtomic } from './root-files.ts';

export type { OperatorCaFiles } from './operator-ca.ts';
export { CA_CERT_FILE, CA_DIR, CA_KEY_FILE, CLOCK_SKEW_MS, ROOT_VALIDITY_DAYS } from './root-files.ts';

export const DEFAULT_LEAF_TTL_SECONDS = 24 * 3600;
/**
 * Down to 5 s so that tests can watch sidecars rotate; anything under 10 minutes is for tests
 * only (every sidecar would be back for a new certificate every few minutes).
 */
export const MIN_LEAF_TTL_SECONDS = 5;
export const MAX_LEAF_TTL_SECONDS = 30 * 24 * 3600;
/** How often a rotation in progress checks whether it can move on (besides after each issue). */
export const ROTATION_CHECK_MS = 1_000;
/**
 * A phase moves on only this long after the last certificate it issued: the CA records a proxy as
 * holding the new bundle when it answers, so this covers the answer's way back and the proxy putting
 * it in force on every thread, before any peer may present a leaf of the new root.
 */
export const ROTATION_SETTLE_MS = 2_000;

/** The new root during a rotation; it becomes ca-key.pem / ca-cert.pem when the old one retires. */
export const NEXT_KEY_FILE = 'next-key.pem';
export const NEXT_CERT_FILE = 'next-cert.pem';
export const ROTATION_FILE = 'rotation.json';
/** Which proxy holds a leaf of which root and trusts which roots: what a rotation waits on. */
export const LEAVES_FILE = 'leaves.json';

/**
 * Where a root rotation stands. `idle`: one root. `distributing` (phase 1): the bundle holds the old
 * and the new root, leaves are still issued under the old one, until every proxy holding a leaf has
 * received the two-root bundle. `reissuing` (phase 2): leaves are issued under the new root and
 * proxies renew at once, until no proxy holds a leaf of the old root. Then (phase 3) the old root
 * leaves the bundle and its key is deleted: `idle` again.
 */
export type RotationPhase = 'idle' | 'distributing' | 'reissuing';

export interface CertificateAuthorityOptions {
  /** The control plane's data directory; the CA lives in its `ca/` subdirectory. */
  readonly dataDir: string;
  readonly trustDomain?: string;
  readonly leafTtlSeconds?: number;
  /** Sign with the operator's root or intermediate instead of weft's own root (never copied). */
  readonly operator?: OperatorCaFiles;
  /**
   * The root is shared by control-plane replicas through the store (see shared-root.ts): a rotation
   * run by one replica would leave the others signing under the old root, so it is refused.
   */
  readonly sharedRoot?: boolean;
  readonly clock?: Clock;
  readonly log?: Logger;
}

export interface CaSettings {
  readonly trustDomain: string;
  readonly leafTtlSeconds: number;
}

/** What proxies are told of on their stream: the roots to trust, and the CA certificate that signs leaves now. */
export interface TrustState {
  /** Root certificates, PEM, concatenated. */
  readonly trustBundle: string;
  /** The CA certificate leaves are issued under now (a root or an operator's intermediate), PEM. */
  readonly issuer: string;
}

export interface CertificateSummary {
  readonly subject: string;
  readonly fingerprint256: string;
  readonly serial: string;
  /** ISO 8601. */
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface CaStatus {
  readonly trustDomain: string;
  /** `weft`: weft's own root in DATA_DIR/ca; `operator`: --ca-cert/--ca-key. */
  readonly source: 'weft' | 'operator';
  readonly leafTtlSeconds: number;
  readonly phase: RotationPhase;
  /** The roots of the trust bundle; `signing` marks the one leaves chain to now. */
  readonly roots: readonly (CertificateSummary & { readonly role: 'current' | 'next'; readonly signing: boolean })[];
  /** The operator's intermediates, signer first (empty for a root that signs itself). */
  readonly intermediates: readonly CertificateSummary[];
  readonly rotation?: {
    readonly startedAt: string;
    readonly phaseSince: string;
    /** Proxies (ids) whose current leaf holds the phase back: without the new root (phase 1), under the old root (phase 2). */
    readonly waitingFor: readonly string[];
    /** When the phase moves on at the latest: once the leaves it waits for have expired. */
    readonly deadline: string;
  };
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

/** What a proxy was last given: the roots it trusts (fingerprints) and the root its leaf chains to. */
interface LeafRecord {
  readonly roots: readonly string[];
  readonly issuer: string;
  readonly notAfter: number;
}

interface RotationFile {
  readonly phase: 'distributing' | 'reissuing' | 'retiring';
  readonly startedAt: number;
  readonly phaseSince: number;
  /** The new root's fingerprint (next-cert.pem). */
  readonly next: string;
}

function summary(cert: X509Certificate): CertificateSummary {
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    fingerprint256: cert.fingerprint256,
    serial: cert.serialNumber,
    notBefore: cert.validFromDate.toISOString(),
    notAfter: cert.validToDate.toISOString(),
  };
}

export class CertificateAuthority {
  readonly trustDomain: string;
  readonly leafTtlSeconds: number;
  readonly source: 'weft' | 'operator';
  #sharedRoot = false;
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #intermediates: readonly X509Certificate[];
  #current: Root;
  #next: Root | undefined;
  #phase: RotationPhase = 'idle';
  #startedAt = 0;
  #phaseSince = 0;
  /** When a proxy the phase waited for last got its certificate (epoch ms): the phase settles for ROTATION_SETTLE_MS after it. */
  #lastUnblockedAt = 0;
  readonly #leaves = new Map<string, LeafRecord>();
  /** Leaves issued before this instant (a CA from before leaves.json) are unknown: a phase waits one TTL past it. */
  #trackedSince = 0;
  readonly #listeners = new Set<(trust: TrustState) => void>();
  #timer: Timer | undefined;
  #busy: Promise<void> = Promise.resolve();
  #saving: Promise<void> | undefined;
  #dirty = false;
  #closed = false;

  private constructor(settings: CaSettings, source: 'weft' | 'operator', dir: string, current: Root, intermediates: readonly X509Certificate[], clock: Clock, log: Logger) {
    this.trustDomain = settings.trustDomain;
    this.leafTtlSeconds = settings.leafTtlSeconds;
    this.source = source;
    this.#dir = dir;
    this.#current = current;
    this.#intermediates = intermediates;
    this.#clock = clock;
    this.#log = log;
  }

  /** The validity of the root leaves are issued under now, epoch ms. */
  get rootNotBefore(): number {
    return this.#signingRoot().cert.validFromDate.getTime();
  }
  get rootNotAfter(): number {
    return this.#signingRoot().cert.validToDate.getTime();
  }

  /**
   * Loads the CA from `<dataDir>/ca/`, or creates it there on first start; with `operator`, checks
   * and uses the operator's CA instead (see loadOperatorCa for its errors). Resumes a rotation that
   * was in progress. Throws WEFT_ERR_CA_CONFIG for bad settings, WEFT_ERR_CA_LOAD for broken files.
   */
  static async open(options: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    const settings = checkCaSettings(options);
    const clock = options.clock ?? systemClock;
    const log = options.log ?? createLogger('ca');
    const dir = join(options.dataDir, CA_DIR);
    if (options.operator) {
      const { root, intermediates } = await loadOperatorCa(options.operator, clock.now());
      const ca = new CertificateAuthority(settings, 'operator', dir, root, intermediates, clock, log);
      log.info('using the operator CA', { certFile: options.operator.certFile, root: root.cert.subject.replace(/\n/g, ', '), intermediates: intermediates.length, notAfter: root.cert.validToDate.toISOString() });
      ca.#warnExpiry();
      return ca;
    }
    const keyPath = join(dir, CA_KEY_FILE);
    const certPath = join(dir, CA_CERT_FILE);
    const rotationPath = join(dir, ROTATION_FILE);
    let rotation: RotationFile | undefined;
    if (await exists(rotationPath)) {
      try {
        rotation = JSON.parse(await readFile(rotationPath, 'utf8')) as RotationFile;
      } catch (err) {
        throw loadError(rotationPath, `not valid JSON (${errorMessage(err)})`);
      }
      if (!['distributing', 'reissuing', 'retiring'].includes(rotation?.phase) || typeof rotation.next !== 'string' || !Number.isFinite(rotation.startedAt) || !Number.isFinite(rotation.phaseSince)) {
        throw loadError(rotationPath, 'is not a rotation state weft wrote (phase, next, startedAt, phaseSince)');
      }
      if (rotation.phase === 'retiring') {
        await CertificateAuthority.#finishRetire(dir);
        rotation = undefined;
      }
    }
    const [haveKey, haveCert] = await Promise.all([exists(keyPath), exists(certPath)]);
    let created = false;
    let current: Root;
    if (!haveKey && !haveCert) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      current = await createRoot(keyPath, certPath, settings.trustDomain, clock.now());
      created = true;
      log.info('created a new mesh CA', { path: certPath, trustDomain: settings.trustDomain, notAfter: current.cert.validToDate.toISOString(), fingerprint256: current.fingerprint });
    } else {
      if (!haveKey) throw loadError(keyPath, `missing, but ${certPath} exists`);
      if (!haveCert) throw loadError(certPath, `missing, but ${keyPath} exists`);
      current = await loadRoot(keyPath, certPath, log);
      // The trust domain lives in the leaves' SANs, not in the root, so a changed setting still works;
      // the root's name just tells of the domain it was made for.
      if (!current.cert.subject.includes(`(${settings.trustDomain})`)) {
        log.warn('the mesh CA was created for another trust domain; it keeps signing, for the new one', { path: certPath, subject: current.cert.subject.replace(/\n/g, ', '), trustDomain: settings.trustDomain });
      }
      log.info('loaded mesh CA', { path: certPath, trustDomain: settings.trustDomain, notAfter: current.cert.validToDate.toISOString(), fingerprint256: current.fingerprint });
    }
    const ca = new CertificateAuthority(settings, 'weft', dir, current, [], clock, log);
    ca.#sharedRoot = options.sharedRoot === true;
    await ca.#loadLeaves(created);
    if (rotation) {
      const next = await loadRoot(join(dir, NEXT_KEY_FILE), join(dir, NEXT_CERT_FILE), log);
      if (next.fingerprint !== rotation.next) throw loadError(join(dir, NEXT_CERT_FILE), `is not the root ${ROTATION_FILE} names (${rotation.next})`);
      ca.#next = next;
      ca.#phase = rotation.phase as RotationPhase;
      ca.#startedAt = rotation.startedAt;
      ca.#phaseSince = rotation.phaseSince;
      log.info('resuming the root rotation', { phase: ca.#phase, next: next.fingerprint });
      ca.#scheduleCheck();
    } else {
      // A rotation that crashed before it was recorded: its new root was never handed out.
      for (const f of [NEXT_KEY_FILE, NEXT_CERT_FILE]) await unlink(join(dir, f)).catch(() => {});
    }
    ca.#warnExpiry();
    return ca;
  }

  #warnExpiry(): void {
    const left = this.rootNotAfter - this.#clock.now();
    const notAfter = new Date(this.rootNotAfter).toISOString();
    if (left <= 0) this.#log.error('the mesh root CA has expired; no certificates can be issued', { notAfter });
    else if (left < 30 * 86_400_000) this.#log.warn('the mesh root CA expires soon', { notAfter });
  }

  /** Phase 3's file moves, idempotent so that a restart in the middle finishes them. */
  static async #finishRetire(dir: string): Promise<void> {
    // The key first: a crash in between leaves the new key beside the old certificate, and the
    // next open (rotation.json still says retiring) moves the certificate too.
    if (await exists(join(dir, NEXT_KEY_FILE))) await rename(join(dir, NEXT_KEY_FILE), join(dir, CA_KEY_FILE));
    if (await exists(join(dir, NEXT_CERT_FILE))) await rename(join(dir, NEXT_CERT_FILE), join(dir, CA_CERT_FILE));
    await unlink(join(dir, ROTATION_FILE)).catch(() => {});
  }

  async #loadLeaves(created: boolean): Promise<void> {
    const now = this.#clock.now();
    const path = join(this.#dir, LEAVES_FILE);
    try {
      const saved = JSON.parse(await readFile(path, 'utf8')) as { trackedSince: number; leaves: Record<string, LeafRecord> };
      this.#trackedSince = saved.trackedSince;
      for (const [id, r] of Object.entries(saved.leaves)) if (r.notAfter > now) this.#leaves.set(id, r);
    } catch (err) {
      // No record (or a broken one): leaves issued until now are unknown, so a rotation waits a TTL.
      this.#trackedSince = created ? 0 : now;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#log.warn('ignoring a broken leaves file', { path, err: errorMessage(err) });
      this.#saveLeaves();
    }
  }

  /** Coalesced writes of leaves.json: one in flight, the latest state written last. */
  #saveLeaves(): void {
    if (this.source !== 'weft') return;
    this.#dirty = true;
    this.#saving ??= (async () => {
      while (this.#dirty) {
        this.#dirty = false;
        const now = this.#clock.now();
        const leaves: Record<string, LeafRecord> = {};
        // Expired leaves are forgotten here too, so the map stays bounded by the live proxies.
        for (const [id, r] of this.#leaves) {
          if (r.notAfter > now) leaves[id] = r;
          else this.#leaves.delete(id);
        }
        try {
          await writeFileAtomic(join(this.#dir, LEAVES_FILE), JSON.stringify({ trackedSince: this.#trackedSince, leaves }), 0o600);
        } catch (err) {
          this.#log.warn('cannot record issued leaves', { err: errorMessage(err) });
        }
      }
      this.#saving = undefined;
    })();
  }

  #signingRoot(): Root {
    return this.#phase === 'reissuing' ? this.#next! : this.#current;
  }

  #bundleRoots(): Root[] {
    return this.#next ? [this.#current, this.#next] : [this.#current];
  }

  /** The root certificate(s) every sidecar trusts, PEM. */
  trustBundle(): string {
    return this.#bundleRoots().map((r) => r.pem).join('');
  }

  /** What proxies must hold: the bundle, and the CA certificate that signs leaves now. */
  trust(): TrustState {
    const signer = this.#signingRoot().signer;
    return { trustBundle: this.trustBundle(), issuer: signer.certificate.toString('pem') + '\n' };
  }

  /** Called with the new TrustState each time the bundle or the signing CA changes. Returns the unsubscribe. */
  onTrustChange(listener: (trust: TrustState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #announce(): void {
    const trust = this.trust();
    for (const l of this.#listeners) {
      try {
        l(trust);
      } catch (err) {
        this.#log.warn('trust listener failed', { err: errorMessage(err) });
      }
    }
  }

  /**
   * A leaf certificate for the request's workload and public key, PEM, followed by the operator's
   * intermediates when there are any. Throws WeftError WEFT_ERR_CA_INVALID_REQUEST (400, path
   * `publicKey`) for a key it does not accept, and WEFT_ERR_CA_EXPIRED (503) once the root has expired.
   */
  async issue(request: CertificateRequest): Promise<IssuedCertificate> {
    const spki = acceptLeafPublicKey(request.publicKey);
    const root = this.#signingRoot();
    const signer = root.signer;
    const issuerCert = signer.certificate;
    const bundleRoots = this.#bundleRoots();
    const now = this.#clock.now();
    const identity = spiffeId({ trustDomain: this.trustDomain, namespace: request.namespace, service: request.service });
    // A leaf lies within its issuer's validity (and its root's): past that, no peer could verify it.
    const limitFrom = Math.max(issuerCert.notBefore.getTime(), root.cert.validFromDate.getTime());
    const limitTo = Math.min(issuerCert.notAfter.getTime(), root.cert.validToDate.getTime());
    const notBefore = wholeSeconds(Math.max(now - CLOCK_SKEW_MS, limitFrom));
    const wanted = now + this.leafTtlSeconds * 1000;
    const notAfter = wholeSeconds(Math.min(wanted, limitTo));
    if (notAfter.getTime() <= Math.max(now, notBefore.getTime())) {
      throw new WeftError('WEFT_ERR_CA_EXPIRED', `the mesh CA expired at ${new Date(limitTo).toISOString()}; no certificates can be issued`, 503);
    }
    const serial = randomSerial();
    // ub-common-name is 64 characters; the identity is in the SAN anyway, the CN is for humans.
    const fullName = `${request.service}.${request.namespace}`;
    const leaf = await createLeafCertificate({
      signer,
      spki,
      commonName: fullName.length <= 64 ? fullName : request.service,
      uri: identity,
      notBefore,
      notAfter,
      serial,
    });
    const issued: IssuedCertificate = {
      identity,
      certificate: leaf + signer.chainPem,
      trustBundle: bundleRoots.map((r) => r.pem).join(''),
      notBefore: notBefore.getTime(),
      notAfter: notAfter.getTime(),
      serial: serialHex(serial),
    };
    const previous = this.#leaves.get(request.proxyId);
    if (previous && this.#blocks(previous)) this.#lastUnblockedAt = this.#clock.now();
    this.#leaves.set(request.proxyId, { roots: bundleRoots.map((r) => r.fingerprint), issuer: root.fingerprint, notAfter: notAfter.getTime() });
    this.#saveLeaves();
    this.#log.info('issued certificate', {
      proxyId: request.proxyId,
      identity,
      serial: issued.serial,
      notAfter: notAfter.toISOString(),
      cappedByRoot: wanted > limitTo ? true : undefined,
    });
    if (this.#phase !== 'idle') void this.#check();
    return issued;
  }

  // ── rotation ────────────────────────────────────────────────────────────────────────────────

  /**
   * Starts a root rotation (phase 1): a new P-256 root is created and joins the trust bundle.
   * Throws WEFT_ERR_CA_ROTATION_IN_PROGRESS (409) while one runs, WEFT_ERR_CA_ROTATE_OPERATOR (409)
   * for an operator CA (the operator issues its own new root), WEFT_ERR_CA_ROTATE_REPLICATED (409)
   * for a root shared by control-plane replicas on etcd (not supported yet).
   */
  async rotate(): Promise<CaStatus> {
    if (this.source === 'operator') {
      throw new WeftError('WEFT_ERR_CA_ROTATE_OPERATOR', 'the CA is the operator\'s (--ca-cert/--ca-key): weft cannot make a new root for it', 409);
    }
    if (this.#sharedRoot) {
      throw new WeftError('WEFT_ERR_CA_ROTATE_REPLICATED', 'the root is shared by control-plane replicas on etcd: a rotation is not supported there yet (use an operator CA to replace roots)', 409);
    }
    await this.#serial(async () => {
      if (this.#phase !== 'idle') throw new WeftError('WEFT_ERR_CA_ROTATION_IN_PROGRESS', `a root rotation is already in progress (phase ${this.#phase})`, 409);
      const now = this.#clock.now();
      const next = await createRoot(join(this.#dir, NEXT_KEY_FILE), join(this.#dir, NEXT_CERT_FILE), this.trustDomain, now, true);
      await this.#writeRotation({ phase: 'distributing', startedAt: now, phaseSince: now, next: next.fingerprint });
      this.#next = next;
      this.#phase = 'distributing';
      this.#startedAt = now;
      this.#phaseSince = now;
      this.#log.info('root rotation started: the new root joins the trust bundle', { next: next.fingerprint, notAfter: next.cert.validToDate.toISOString() });
    });
    this.#announce();
    this.#scheduleCheck();
    void this.#check();
    return this.status();
  }

  async #writeRotation(r: RotationFile): Promise<void> {
    await writeFileAtomic(join(this.#dir, ROTATION_FILE), JSON.stringify(r), 0o600);
  }

  /** Runs rotation steps one at a time. */
  #serial(step: () => Promise<void>): Promise<void> {
    const run = this.#busy.then(step);
    this.#busy = run.catch(() => {});
    return run;
  }

  #scheduleCheck(): void {
    this.#timer?.cancel();
    if (this.#closed || this.#phase === 'idle') return;
    this.#timer = this.#clock.setTimeout(() => {
      void this.#check().finally(() => this.#scheduleCheck());
    }, ROTATION_CHECK_MS);
  }

  /** The proxies whose current leaf holds this phase back, and when the last of those leaves expires. */
  #blocking(now: number): { ids: string[]; deadline: number } {
    const ids: string[] = [];
    let deadline = this.#trackedSince > 0 ? this.#trackedSince + this.leafTtlSeconds * 1000 : 0;
    for (const [id, r] of this.#leaves) {
      if (r.notAfter <= now) {
        this.#leaves.delete(id);
        continue;
      }
      if (this.#blocks(r)) {
        ids.push(id);
        deadline = Math.max(deadline, r.notAfter);
      }
    }
    return { ids: ids.sort(), deadline: Math.max(deadline, this.#phaseSince, this.#lastUnblockedAt + ROTATION_SETTLE_MS) };
  }

  /** Whether a proxy's leaf holds the current phase back: no new root in its bundle (phase 1), a leaf of the old root (phase 2). */
  #blocks(r: LeafRecord): boolean {
    if (this.#phase === 'distributing') return !r.roots.includes(this.#next!.fingerprint);
    if (this.#phase === 'reissuing') return r.issuer === this.#current.fingerprint;
    return false;
  }

  /**
   * Moves the rotation on when nothing holds it back; runs after every issue and every
   * ROTATION_CHECK_MS while a rotation is in progress. Never throws (a failed step is logged and retried).
   */
  checkRotation(): Promise<void> {
    return this.#check();
  }

  #check(): Promise<void> {
    const step = this.#serial(async () => {
      if (this.#closed || this.#phase === 'idle') return;
      const now = this.#clock.now();
      const { ids, deadline } = this.#blocking(now);
      if (ids.length > 0 || now < deadline) return;
      if (this.#phase === 'distributing') {
        await this.#writeRotation({ phase: 'reissuing', startedAt: this.#startedAt, phaseSince: now, next: this.#next!.fingerprint });
        this.#phase = 'reissuing';
        this.#phaseSince = now;
        this.#log.info('root rotation phase 2: every proxy trusts the new root; leaves are now issued under it');
      } else {
        const retired = this.#current;
        await this.#writeRotation({ phase: 'retiring', startedAt: this.#startedAt, phaseSince: now, next: this.#next!.fingerprint });
        await CertificateAuthority.#finishRetire(this.#dir);
        this.#current = this.#next!;
        this.#next = undefined;
        this.#phase = 'idle';
        this.#phaseSince = now;
        this.#log.info('root rotation done: the old root left the trust bundle and its key was deleted', { retired: retired.fingerprint, root: this.#current.fingerprint });
      }
      this.#announce();
    });
    return step.catch((err: unknown) => this.#log.warn('root rotation step failed; retrying', { err: errorMessage(err) }));
  }

  /** The roots, their expiry, the signing CA and where a rotation stands (GET /v1/ca). */
  status(): CaStatus {
    const now = this.#clock.now();
    const signing = this.#signingRoot();
    const roots = this.#bundleRoots().map((r) => ({ ...summary(r.cert), role: r === this.#current ? ('current' as const) : ('next' as const), signing: r === signing }));
    let rotation: CaStatus['rotation'];
    if (this.#phase !== 'idle') {
      const { ids, deadline } = this.#blocking(now);
      rotation = { startedAt: new Date(this.#startedAt).toISOString(), phaseSince: new Date(this.#phaseSince).toISOString(), waitingFor: ids.slice(0, 100), deadline: new Date(deadline).toISOString() };
    }
    return {
      trustDomain: this.trustDomain,
      source: this.source,
      leafTtlSeconds: this.leafTtlSeconds,
      phase: this.#phase,
      roots,
      intermediates: this.#intermediates.map(summary),
      rotation,
    };
  }

  /** Stops the rotation timer and waits for pending writes. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    await this.#busy;
    await this.#saving;
  }
}

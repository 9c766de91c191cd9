// Verifies a proxy's proof of possession (`Authorization: Weft-Proof <JWS>`, src/config/control-auth.ts):
// the certificate chain in `x5c` ends in the mesh's trust bundle and is valid now, the leaf names a
// workload of this trust domain, the JWS is signed by the leaf's key, and it is for this request, fresh and unused.

import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import { WeftError } from '../../lib/errors.ts';
import { parseSpiffeId, type WorkloadIdentity } from '../../config/identity.ts';
import { MAX_PROOF_BYTES, PROOF_MAX_AGE_SECONDS, PROOF_TYPE, type ProofClaims } from '../../config/control-auth.ts';

/** What a valid proof establishes about its sender. */
export interface ProvenProxy extends WorkloadIdentity {
  /** The SPIFFE ID in the leaf's URI SAN. */
  readonly identity: string;
  /** Hex SHA-256 of the leaf's SubjectPublicKeyInfo: binds proxy ids to the key that proved them. */
  readonly keyId: string;
  /** Hex serial of the leaf. */
  readonly serial: string;
  readonly notAfter: number;
}

const ALGORITHMS = ['ES256', 'ES384', 'RS256', 'PS256'];
const MAX_CHAIN = 4;

function refused(why: string): WeftError {
  // One code for every failure: the reason is in the message (no secret there), for the operator.
  return new WeftError('WEFT_ERR_AUTH_BAD_PROOF', `certificate proof refused: ${why}`, 401);
}

/** Hex SHA-256 of a public key's DER SubjectPublicKeyInfo. */
export function keyIdOf(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

function uriSansOf(cert: X509Certificate): string[] {
  const out: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) if (part.startsWith('URI:')) out.push(part.slice(4));
  return out;
}

export interface ProofVerifierOptions {
  readonly trustDomain: string;
  /** The CA's current trust bundle, PEM (read on each call: a rotation changes it). */
  readonly trustBundle: () => string;
  readonly now: () => number;
}

export class ProofVerifier {
  readonly #o: ProofVerifierOptions;
  #bundleText = '';
  #roots: X509Certificate[] = [];
  /** jti → when it may be forgotten (epoch ms); a proof cannot be replayed while it is fresh. */
  readonly #seen = new Map<string, number>();

  constructor(options: ProofVerifierOptions) {
    this.#o = options;
  }

  #trusted(): X509Certificate[] {
    const text = this.#o.trustBundle();
    if (text !== this.#bundleText) {
      this.#bundleText = text;
      this.#roots = (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((pem) => new X509Certificate(pem));
    }
    return this.#roots;
  }

  /**
   * The proxy a proof authenticates, for a request `method` `target` (path and query). Throws
   * WeftError WEFT_ERR_AUTH_BAD_PROOF (401) for anything amiss.
   */
  async verify(jws: string, method: string, target: string): Promise<ProvenProxy> {
    if (jws.length > MAX_PROOF_BYTES) throw refused(`larger than ${MAX_PROOF_BYTES} bytes`);
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(jws);
    } catch {
      throw refused('not a compact JWS');
    }
    if (header.typ !== PROOF_TYPE) throw refused(`typ must be ${PROOF_TYPE}`);
    const x5c = header.x5c;
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN || !x5c.every((c) => typeof c === 'string')) throw refused(`x5c must hold 1 to ${MAX_CHAIN} certificates`);
    let chain: X509Certificate[];
    try {
      chain = x5c.map((c) => new X509Certificate(Buffer.from(c, 'base64')));
    } catch {
      throw refused('x5c holds something that is not a DER certificate');
    }
    const now = this.#o.now();
    const leaf = chain[0]!;
    // The chain: each certificate signed by the next one given, until one the trust bundle signed.
    const roots = this.#trusted();
    let current = leaf;
    let anchored = false;
    for (let depth = 0; depth < MAX_CHAIN && !anchored; depth++) {
      if (Date.parse(current.validFrom) > now || Date.parse(current.validTo) <= now) throw refused(`certificate ${current.serialNumber} is not valid now (${current.validFrom} to ${current.validTo})`);
      if (roots.some((r) => current.checkIssued(r) && current.verify(r.publicKey))) anchored = true;
      else {
        const next = chain.slice(1).find((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
        if (!next) break;
        current = next;
      }
    }
    if (!anchored) throw refused('the certificate chain does not end in the mesh trust bundle');
    if (leaf.ca) throw refused('the leaf is a CA certificate');
    const uris = uriSansOf(leaf);
    const id = uris.length === 1 ? parseSpiffeId(uris[0]!) : undefined;
    if (!id) throw refused('the certificate names no single weft SPIFFE ID');
    if (id.trustDomain !== this.#o.trustDomain) throw refused(`the certificate is for trust domain ${id.trustDomain}, not ${this.#o.trustDomain}`);

    let claims: ProofClaims;
    try {
      const { payload } = await compactVerify(jws, leaf.publicKey, { algorithms: ALGORITHMS });
      claims = JSON.parse(new TextDecoder().decode(payload)) as ProofClaims;
    } catch {
      throw refused('the signature does not verify with the certificate key');
    }
    if (claims === null || typeof claims !== 'object') throw refused('the payload is not a JSON object');
    if (claims.htm !== method || claims.htu !== target) throw refused('it was made for another request');
    const ageSeconds = now / 1000 - Number(claims.iat);
    if (!Number.isFinite(ageSeconds) || Math.abs(ageSeconds) > PROOF_MAX_AGE_SECONDS) throw refused(`iat must be within ${PROOF_MAX_AGE_SECONDS}s of now`);
    if (typeof claims.jti !== 'string' || claims.jti.length < 8 || claims.jti.length > 64) throw refused('jti must be 8 to 64 characters');
    this.#forget(now);
    const jtiKey = `${keyIdOf(leaf.publicKey)}/${claims.jti}`;
    if (this.#seen.has(jtiKey)) throw refused('this proof was already used');
    this.#seen.set(jtiKey, now + 2 * PROOF_MAX_AGE_SECONDS * 1000);
    return { ...id, identity: uris[0]!, keyId: keyIdOf(leaf.publicKey), serial: leaf.serialNumber, notAfter: Date.parse(leaf.validTo) };
  }

  #forget(now: number): void {
    // Insertion order is expiry order (a constant window), so the oldest are at the front.
    for (const [k, until] of this.#seen) {
      if (until > now && this.#seen.size < 100_000) break;
      this.#seen.delete(k);
    }
  }
}

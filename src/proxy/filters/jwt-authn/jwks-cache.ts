// The issuers' public keys for the jwt-authn filter: one entry per `jwksUri`, fetched in the
// background, refreshed every 10 minutes, refetched (at most once per 30 s) when a token names an
// unknown key id; a failed fetch keeps the last good keys. Shared by every snapshot of a data plane.

import type { Clock, Timer } from '../../../lib/clock.ts';
import { systemClock } from '../../../lib/clock.ts';
import { http } from '../../../lib/node-http.ts';
import { createLogger } from '../../../lib/log.ts';
import type { JsonWebKeySet } from '../../../config/kinds/request-authentication.ts';

/** Keys are refreshed this often (Istio's default is 20 min; keys rotate rarely, revocation matters). */
export const JWKS_REFRESH_MS = 10 * 60_000;
/** A failed fetch is tried again after this, while no keys are known. */
export const JWKS_RETRY_MS = 5_000;
/** An unknown `kid` triggers a refetch at most this often per URI, so bogus tokens cannot flood the issuer. */
export const JWKS_UNKNOWN_KID_COOLDOWN_MS = 30_000;
/** One fetch's deadline; also how long the first request waits for the first keys. */
export const JWKS_FETCH_TIMEOUT_MS = 5_000;
const MAX_JWKS_BYTES = 256 * 1024;

const log = createLogger('jwks');

/** GETs a JWKS document; rejects on a network error, a non-2xx status, an oversized or non-JSON body. */
export type JwksFetcher = (uri: string, timeoutMs: number) => Promise<unknown>;

export interface JwksEntry {
  /** The last good key set, if any fetch succeeded. */
  keys(): JsonWebKeySet | undefined;
  /** Resolves when the first fetch is over (keys or not); resolves at once when keys are known. */
  ready(): Promise<void>;
  /** Asks for a refetch because a token named an unknown kid; resolves true when one ran and gave keys. */
  refetchForUnknownKid(): Promise<boolean>;
  /** The last fetch's error (for the 401's message), undefined after a success. */
  lastError(): string | undefined;
  /** Resolves when no fetch is in flight (tests wait on it instead of on time). */
  idle(): Promise<void>;
}

/** Checks a fetched document: `{keys: [...]}` with at least one object. Keys it cannot use are skipped later by jose. */
function asKeySet(doc: unknown): JsonWebKeySet {
  if (doc === null || typeof doc !== 'object' || !Array.isArray((doc as { keys?: unknown }).keys)) throw new Error('not a JSON Web Key Set ({"keys": [...]})');
  const keys = ((doc as { keys: unknown[] }).keys).filter((k): k is Record<string, unknown> => k !== null && typeof k === 'object' && !Array.isArray(k));
  // Symmetric or private material has no place in a public key set: never use it.
  const usable = keys.filter((k) => (k.kty === 'RSA' || k.kty === 'EC' || k.kty === 'OKP') && k.d === undefined);
  if (usable.length === 0) throw new Error('the key set holds no public RSA, EC or OKP key');
  return { keys: usable };
}

/** The default fetcher: node:http, or node:https (loaded only when an https URI is in use). */
export const fetchJwks: JwksFetcher = (uri, timeoutMs) =>
  new Promise((resolve, reject) => {
    const url = new URL(uri);
    const client = url.protocol === 'https:' ? (process.getBuiltinModule('node:https') as typeof import('node:https')) : http;
    const req = client.request(url, { method: 'GET', headers: { accept: 'application/json' }, agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_JWKS_BYTES) req.destroy(new Error(`the key set is larger than ${MAX_JWKS_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return reject(new Error(`HTTP ${status}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new Error('the body is not JSON'));
        }
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end();
  });

class RemoteEntry implements JwksEntry {
  readonly uri: string;
  readonly cache: JwksCache;
  current: JsonWebKeySet | undefined = undefined;
  error: string | undefined = undefined;
  inflight: Promise<boolean> | undefined = undefined;
  first: Promise<void>;
  timer: Timer | undefined = undefined;
  lastUnknownKidFetch = -Infinity;
  closed = false;

  constructor(uri: string, cache: JwksCache) {
    this.uri = uri;
    this.cache = cache;
    this.first = this.fetch().then(() => undefined);
  }

  keys(): JsonWebKeySet | undefined {
    return this.current;
  }

  lastError(): string | undefined {
    return this.error;
  }

  ready(): Promise<void> {
    return this.current ? Promise.resolve() : this.first;
  }

  async idle(): Promise<void> {
    while (this.inflight) await this.inflight;
  }

  /** One fetch at a time; schedules the next (refresh, or retry while keys are missing). */
  fetch(): Promise<boolean> {
    if (this.inflight) return this.inflight;
    this.inflight = this.cache.fetcher(this.uri, JWKS_FETCH_TIMEOUT_MS)
      .then((doc) => {
        this.current = asKeySet(doc);
        this.error = undefined;
        return true;
      })
      .catch((err: unknown) => {
        // Keep the last good keys: an issuer's outage must not turn every valid token away.
        this.error = err instanceof Error ? err.message : String(err);
        log.warn('JWKS fetch failed', { uri: this.uri, error: this.error, keptKeys: this.current !== undefined });
        return false;
      })
      .finally(() => {
        this.inflight = undefined;
        this.schedule();
      });
    return this.inflight;
  }

  schedule(): void {
    this.timer?.cancel();
    if (this.closed) return;
    this.timer = this.cache.clock.setTimeout(() => void this.fetch(), this.current ? JWKS_REFRESH_MS : JWKS_RETRY_MS);
  }

  refetchForUnknownKid(): Promise<boolean> {
    const now = this.cache.clock.now();
    if (this.inflight) return this.inflight;
    if (now - this.lastUnknownKidFetch < JWKS_UNKNOWN_KID_COOLDOWN_MS) return Promise.resolve(false);
    this.lastUnknownKidFetch = now;
    return this.fetch();
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }
}

/** Entries by URI; `retain` after each snapshot stops the ones no rule uses any more. */
export class JwksCache {
  readonly clock: Clock;
  readonly fetcher: JwksFetcher;
  readonly #entries = new Map<string, RemoteEntry>();

  constructor(options: { clock?: Clock; fetcher?: JwksFetcher } = {}) {
    this.clock = options.clock ?? systemClock;
    this.fetcher = options.fetcher ?? fetchJwks;
  }

  /** The entry for `uri`, created (and its first fetch started) on first use. */
  get(uri: string): JwksEntry {
    let e = this.#entries.get(uri);
    if (!e) this.#entries.set(uri, (e = new RemoteEntry(uri, this)));
    return e;
  }

  /** Drops the entries whose URI is not in `uris`. */
  retain(uris: Iterable<string>): void {
    const keep = new Set(uris);
    for (const [uri, e] of this.#entries) {
      if (!keep.has(uri)) {
        e.close();
        this.#entries.delete(uri);
      }
    }
  }

  close(): void {
    this.retain([]);
  }
}

/** An inline key set as an entry: always ready, never refetched. */
export function staticJwks(keys: JsonWebKeySet): JwksEntry {
  return { keys: () => keys, ready: () => Promise.resolve(), refetchForUnknownKid: () => Promise.resolve(false), lastError: () => undefined, idle: () => Promise.resolve() };
}

// API tokens of the control plane: admin tokens (people and tools, role admin or read-only) and join
// tokens (a proxy's first certificate, for one service and namespace, expiring). Only a SHA-256 of
// each secret is stored; the token text is shown once, when it is created (POST /v1/tokens).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { WeftError, invalid } from '../../lib/errors.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT } from '../../config/validate.ts';
import { DEFAULT_NAMESPACE } from '../../config/resource.ts';
import type { Store, StoredToken } from '../store/store.ts';

export type AdminRole = 'admin' | 'read-only';
export const ADMIN_ROLES: readonly AdminRole[] = ['admin', 'read-only'];

/** Longer than any token weft makes (~70 characters); anything larger is refused unread. */
export const MAX_TOKEN_LENGTH = 512;
/** Join tokens: 1 h unless asked otherwise, at most 30 days. */
export const DEFAULT_JOIN_TTL_SECONDS = 3600;
export const MAX_TOKEN_TTL_SECONDS = 30 * 86_400;

/** `weft-admin.<id>.<secret>` / `weft-join.<id>.<secret>`: id 12 hex digits, secret 32 random bytes base64url. */
const TOKEN_FORMAT = /^weft-(admin|join)\.([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export interface ParsedToken {
  readonly kind: 'admin' | 'join';
  readonly id: string;
  readonly secret: string;
}

/** The parts of a weft token, or undefined when the text is not one (an operator's `--token` may be anything). */
export function parseToken(text: string): ParsedToken | undefined {
  if (text.length > MAX_TOKEN_LENGTH) return undefined;
  const m = TOKEN_FORMAT.exec(text);
  return m ? { kind: m[1] as 'admin' | 'join', id: m[2]!, secret: m[3]! } : undefined;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Constant-time comparison of two secrets of any length (compares their digests). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** What POST /v1/tokens accepts: `{role}` for an admin token, `{service, namespace?}` for a join token. */
export interface TokenRequest {
  readonly kind: 'admin' | 'join';
  readonly role?: AdminRole;
  readonly service?: string;
  readonly namespace?: string;
  /** Admin tokens: absent means no expiry. Join tokens: default DEFAULT_JOIN_TTL_SECONDS. */
  readonly ttlSeconds?: number;
  readonly description?: string;
}

/** Validates a POST /v1/tokens body; throws WEFT_ERR_AUTH_INVALID_TOKEN_REQUEST (400) with field paths. */
export function validateTokenRequest(raw: unknown): TokenRequest {
  const c = new Checker();
  const body = c.object(raw, '');
  if (body) {
    c.noUnknown(body, '', ['role', 'service', 'namespace', 'ttlSeconds', 'description']);
    const role = c.oneOf(body.role, 'role', ADMIN_ROLES);
    const service = c.string(body.service, 'service', { pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    const namespace = c.string(body.namespace, 'namespace', { pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    const ttlSeconds = c.integer(body.ttlSeconds, 'ttlSeconds', { min: 1, max: MAX_TOKEN_TTL_SECONDS });
    const description = c.string(body.description, 'description', { max: 200 });
    if (role === undefined && service === undefined) c.fail('', 'give either role (an admin token) or service (a join token)');
    if (role !== undefined && service !== undefined) c.fail('role', 'an admin token has no service; give role or service, not both');
    if (role !== undefined && namespace !== undefined) c.fail('namespace', 'only join tokens (service) have a namespace');
    if (!c.errors.length) {
      return service !== undefined
        ? { kind: 'join', service, namespace: namespace ?? DEFAULT_NAMESPACE, ttlSeconds: ttlSeconds ?? DEFAULT_JOIN_TTL_SECONDS, description }
        : { kind: 'admin', role, ttlSeconds, description };
    }
  }
  throw invalid('WEFT_ERR_AUTH_INVALID_TOKEN_REQUEST', `invalid token request: ${c.errors.map((e) => `${e.path || 'body'}: ${e.message}`).join('; ')}`, c.errors);
}

/** A token as the API shows it: everything but the secret's digest. */
export type TokenInfo = Omit<StoredToken, 'secretSha256' | 'createdAt' | 'expiresAt'> & { readonly createdAt: string; readonly expiresAt?: string };

export function tokenInfo(t: StoredToken): TokenInfo {
  const { secretSha256: _digest, createdAt, expiresAt, ...rest } = t;
  return { ...rest, createdAt: new Date(createdAt).toISOString(), ...(expiresAt !== undefined ? { expiresAt: new Date(expiresAt).toISOString() } : {}) };
}

/** Why a presented token was not accepted; each a stable code, all 401. */
export type TokenRefusal = 'malformed' | 'unknown' | 'expired';

/**
 * The control plane's tokens, held in memory and written through to the store. Lookups are by the
 * token's public id, then a constant-time comparison of the secret's digest.
 */
export class TokenStore {
  readonly #store: Store;
  readonly #tokens = new Map<string, StoredToken>();

  private constructor(store: Store) {
    this.#store = store;
  }

  static async open(store: Store): Promise<TokenStore> {
    const ts = new TokenStore(store);
    // Tokens created or revoked through another control-plane replica (etcd) count here at once.
    store.watch((event) => {
      if (event.type === 'token-put') ts.#tokens.set(event.token.id, event.token);
      else if (event.type === 'token-delete') ts.#tokens.delete(event.id);
    });
    for (const t of await store.listTokens()) ts.#tokens.set(t.id, t);
    return ts;
  }

  /** Makes a token; the returned `token` text is the only copy of its secret. */
  async create(request: TokenRequest, now: number): Promise<{ token: string; stored: StoredToken }> {
    let id: string;
    do id = randomBytes(6).toString('hex');
    while (this.#tokens.has(id));
    const secret = randomBytes(32).toString('base64url');
    const stored: StoredToken = {
      id,
      kind: request.kind,
      ...(request.kind === 'admin' ? { role: request.role ?? 'admin' } : { service: request.service, namespace: request.namespace ?? DEFAULT_NAMESPACE }),
      secretSha256: sha256Hex(secret),
      createdAt: now,
      ...(request.ttlSeconds !== undefined ? { expiresAt: now + request.ttlSeconds * 1000 } : {}),
      ...(request.description !== undefined ? { description: request.description } : {}),
    };
    await this.#store.putToken(stored);
    this.#tokens.set(id, stored);
    return { token: `weft-${stored.kind}.${id}.${secret}`, stored };
  }

  /** The stored token the text names if its secret matches and it has not expired, else why not. */
  verify(text: string, now: number): StoredToken | TokenRefusal {
    const parsed = parseToken(text);
    if (!parsed) return 'malformed';
    const stored = this.#tokens.get(parsed.id);
    const want = Buffer.from(stored?.secretSha256 ?? '0'.repeat(64), 'hex');
    // Compared even for an unknown id, so that timing does not tell which ids exist.
    const same = timingSafeEqual(createHash('sha256').update(parsed.secret).digest(), want);
    if (!stored || !same || stored.kind !== parsed.kind) return 'unknown';
    if (stored.expiresAt !== undefined && stored.expiresAt <= now) return 'expired';
    return stored;
  }

  list(): StoredToken[] {
    return [...this.#tokens.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  hasAdmin(): boolean {
    for (const t of this.#tokens.values()) if (t.kind === 'admin' && t.role === 'admin') return true;
    return false;
  }

  /** Throws WEFT_ERR_AUTH_TOKEN_NOT_FOUND (404) when there is no such token. */
  async revoke(id: string): Promise<StoredToken> {
    const stored = this.#tokens.get(id);
    if (!stored) throw new WeftError('WEFT_ERR_AUTH_TOKEN_NOT_FOUND', `no token with id ${JSON.stringify(id)}`, 404);
    await this.#store.deleteToken(id);
    this.#tokens.delete(id);
    return stored;
  }
}

// Who is calling the control plane's API and what they may do there: the `Authorization` header
// becomes a Caller (admin token, join token, proxy certificate proof, or nobody), and each route is
// allowed by role. Scope checks inside a route (which service a proxy may touch) use the same Caller.

import { WeftError } from '../../lib/errors.ts';
import { PROOF_SCHEME } from '../../config/control-auth.ts';
import type { AdminRole, TokenStore } from './tokens.ts';
import { MAX_TOKEN_LENGTH, secretsEqual } from './tokens.ts';
import type { ProofVerifier, ProvenProxy } from './proof.ts';

export type Caller =
  /** No credentials, and the control plane runs with --insecure: allowed everything, as before auth existed. */
  | { readonly kind: 'insecure' }
  | { readonly kind: 'anonymous' }
  /** A person or a tool. `tokenId` is `bootstrap` for the operator's --token. */
  | { readonly kind: 'admin'; readonly role: AdminRole; readonly tokenId: string }
  /** A proxy before its first certificate. */
  | { readonly kind: 'join'; readonly tokenId: string; readonly service: string; readonly namespace: string }
  /** A proxy proving its certificate. */
  | ({ readonly kind: 'proxy' } & ProvenProxy);

export interface AuthenticatorOptions {
  readonly insecure: boolean;
  /** The operator's bootstrap admin token (--token / WEFT_TOKEN), compared in constant time. */
  readonly bootstrapToken?: string;
  readonly tokens: TokenStore;
  readonly proofs: ProofVerifier;
  readonly now: () => number;
}

function unauthorized(code: string, message: string): WeftError {
  return new WeftError(code, message, 401);
}

/**
 * The caller of one request. Throws WeftError (401) for a credential that is present but bad:
 * WEFT_ERR_AUTH_BAD_TOKEN (malformed or unknown), WEFT_ERR_AUTH_TOKEN_EXPIRED,
 * WEFT_ERR_AUTH_TOKEN_TOO_LARGE, WEFT_ERR_AUTH_BAD_PROOF, WEFT_ERR_AUTH_SCHEME. A bad credential
 * is refused even in --insecure mode: whoever sent it meant to be someone.
 */
export async function authenticate(o: AuthenticatorOptions, authorization: string | undefined, method: string, target: string): Promise<Caller> {
  if (authorization === undefined || authorization === '') return o.insecure ? { kind: 'insecure' } : { kind: 'anonymous' };
  if (authorization.length > MAX_TOKEN_LENGTH + 16 && !authorization.startsWith(`${PROOF_SCHEME} `)) {
    throw unauthorized('WEFT_ERR_AUTH_TOKEN_TOO_LARGE', `the Authorization header is larger than ${MAX_TOKEN_LENGTH} bytes`);
  }
  const space = authorization.indexOf(' ');
  const scheme = space === -1 ? authorization : authorization.slice(0, space);
  const value = space === -1 ? '' : authorization.slice(space + 1).trim();
  if (scheme === PROOF_SCHEME) return { kind: 'proxy', ...(await o.proofs.verify(value, method, target)) };
  if (scheme.toLowerCase() !== 'bearer') throw unauthorized('WEFT_ERR_AUTH_SCHEME', `the Authorization scheme must be Bearer or ${PROOF_SCHEME}`);
  if (o.bootstrapToken !== undefined && secretsEqual(value, o.bootstrapToken)) return { kind: 'admin', role: 'admin', tokenId: 'bootstrap' };
  const found = o.tokens.verify(value, o.now());
  if (found === 'expired') throw unauthorized('WEFT_ERR_AUTH_TOKEN_EXPIRED', 'the token has expired; create a new one (weft token create)');
  if (typeof found === 'string') throw unauthorized('WEFT_ERR_AUTH_BAD_TOKEN', 'the token is not one this control plane issued (check WEFT_TOKEN or --token)');
  if (found.kind === 'join') return { kind: 'join', tokenId: found.id, service: found.service!, namespace: found.namespace! };
  return { kind: 'admin', role: found.role ?? 'read-only', tokenId: found.id };
}

/** The routes a proxy uses. Anything else is for people and tools. */
const PROXY_ROUTES: readonly { method: string; path: RegExp }[] = [
  { method: 'POST', path: /^\/v1\/certificates$/ },
  { method: 'GET', path: /^\/v1\/certificates\/bundle$/ },
  { method: 'POST', path: /^\/v1\/stream$/ },
  { method: 'POST', path: /^\/v1\/catalog\/instances$/ },
  { method: 'GET', path: /^\/v1\/catalog\/instances\/[^/]+\/[^/]+\/[^/]+$/ },
  { method: 'PUT', path: /^\/v1\/catalog\/instances\/[^/]+\/[^/]+\/[^/]+\/heartbeat$/ },
  { method: 'DELETE', path: /^\/v1\/catalog\/instances\/[^/]+\/[^/]+\/[^/]+$/ },
];
/** A join token only gets the first certificate (and the bundle that verifies it). */
const JOIN_ROUTES = PROXY_ROUTES.slice(0, 2);

function forbidden(message: string): WeftError {
  return new WeftError('WEFT_ERR_AUTH_FORBIDDEN', message, 403);
}

/**
 * Whether the caller may call this route at all; throws WEFT_ERR_AUTH_REQUIRED (401) for nobody
 * and WEFT_ERR_AUTH_FORBIDDEN (403) for a caller whose role does not reach it. `pathname` has no query.
 */
export function authorizeRoute(caller: Caller, method: string, pathname: string): void {
  switch (caller.kind) {
    case 'insecure':
      return;
    case 'anonymous':
      throw unauthorized('WEFT_ERR_AUTH_REQUIRED', 'this control plane requires a credential: set WEFT_TOKEN (an admin token) or --token');
    case 'admin':
      if (caller.role === 'admin' || method === 'GET' || method === 'HEAD') return;
      throw forbidden(`a read-only token may only read (GET), not ${method} ${pathname}`);
    case 'join':
      if (JOIN_ROUTES.some((r) => r.method === method && r.path.test(pathname))) return;
      throw forbidden(`a join token only obtains a proxy's first certificate (POST /v1/certificates), not ${method} ${pathname}`);
    case 'proxy':
      if (PROXY_ROUTES.some((r) => r.method === method && r.path.test(pathname))) return;
      throw forbidden(`a proxy certificate (${caller.identity}) may not ${method} ${pathname}`);
  }
}

/**
 * The one workload a caller may act for, or undefined for callers that may act for any (admins,
 * --insecure). Read-only admins never reach a write.
 */
export function callerScope(caller: Caller): { service: string; namespace: string; identity?: string } | undefined {
  if (caller.kind === 'join') return { service: caller.service, namespace: caller.namespace };
  if (caller.kind === 'proxy') return { service: caller.service, namespace: caller.namespace, identity: caller.identity };
  return undefined;
}

/** Throws WEFT_ERR_AUTH_FORBIDDEN (403) when a scoped caller acts on another service than its own. */
export function requireScope(caller: Caller, namespace: string, service: string, what: string): void {
  const scope = callerScope(caller);
  if (scope && (scope.namespace !== namespace || scope.service !== service)) {
    throw forbidden(`${caller.kind === 'join' ? 'this join token is' : `this proxy (${scope.identity}) is`} for service ${scope.service} in namespace ${scope.namespace}; it may not ${what} for ${service} in ${namespace}`);
  }
}

const callers = new WeakMap<object, Caller>();

/** Attaches the authenticated caller to its request (the control plane does, before routing). */
export function setCaller(req: object, caller: Caller): void {
  callers.set(req, caller);
}

/** The caller of a request; `anonymous` when none was attached (a route reached without the control plane's check). */
export function callerOf(req: object): Caller {
  return callers.get(req) ?? { kind: 'anonymous' };
}

// One JWT checked against one issuer's rule with jose: signature (RS/PS/ES/EdDSA, by the key the
// `kid` names), issuer, audience, exp and nbf with a 60 s clock skew (RFC 7519 §4.1.4-5). Failures
// come back as a short reason for the 401, never with the token in it.

import type { JsonWebKeySet, JwtRule } from '../../../config/kinds/request-authentication.ts';

/** Tolerated clock difference between the issuer and this sidecar for exp and nbf, in seconds. */
export const JWT_CLOCK_SKEW_S = 60;
/** Only asymmetric algorithms: `none` and HMAC (a shared secret) are never accepted. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export type JwtFailure = 'expired' | 'not yet valid' | 'wrong issuer' | 'wrong audience' | 'bad signature' | 'unknown key id' | 'algorithm not allowed' | 'malformed';

export type VerifyResult = { readonly ok: true; readonly claims: Record<string, unknown> } | { readonly ok: false; readonly failure: JwtFailure };

type Jose = typeof import('jose');
let jose: Jose | undefined;
/** jose is loaded at the first verification, so a sidecar without RequestAuthentication never loads it. */
export async function loadJose(): Promise<Jose> {
  return (jose ??= await import('jose'));
}

type KeyResolver = ReturnType<Jose['createLocalJWKSet']>;
const resolvers = new WeakMap<JsonWebKeySet, KeyResolver>();

function resolverFor(j: Jose, keys: JsonWebKeySet): KeyResolver {
  let r = resolvers.get(keys);
  if (!r) resolvers.set(keys, (r = j.createLocalJWKSet(keys as never)));
  return r;
}

/** jose's error codes → the reason named in the 401. */
function failureOf(err: unknown): JwtFailure {
  const e = err as { code?: string; claim?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return e.claim === 'nbf' ? 'not yet valid' : e.claim === 'iss' ? 'wrong issuer' : e.claim === 'aud' ? 'wrong audience' : 'malformed';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad signature';
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'unknown key id';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'algorithm not allowed';
    default:
      return 'malformed';
  }
}

/** Verifies `token` with `keys` under `rule`; `nowMs` is the clock's time. */
export async function verifyJwt(token: string, rule: JwtRule, keys: JsonWebKeySet, nowMs: number): Promise<VerifyResult> {
  const j = await loadJose();
  try {
    const { payload } = await j.jwtVerify(token, resolverFor(j, keys), {
      issuer: rule.issuer,
      ...(rule.audiences.length ? { audience: [...rule.audiences] } : {}),
      clockTolerance: JWT_CLOCK_SKEW_S,
      algorithms: JWT_ALGORITHMS,
      currentDate: new Date(nowMs),
    });
    return { ok: true, claims: payload as Record<string, unknown> };
  } catch (err) {
    return { ok: false, failure: failureOf(err) };
  }
}

/** The unverified `iss` of a compact JWS, to pick the rule; undefined when the token is not a JWT. */
export function peekIssuer(token: string): { iss: string | undefined } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
    const iss = (payload as { iss?: unknown }).iss;
    return { iss: typeof iss === 'string' ? iss : undefined };
  } catch {
    return undefined;
  }
}

// RequestAuthentication (weft.dev/v1alpha1): which JWTs the sidecars of the targeted Services accept
// and verify on inbound requests (Istio's RequestAuthentication and JWTRule field names). Read by the
// snapshot builder, checked again by the proxy, run by src/proxy/filters/jwt-authn/.

import { createPublicKey } from 'node:crypto';
import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, join } from '../validate.ts';
import { readTargetRefs, type TargetRef } from './backend-policy.ts';

/** Where a token is read from: a header, after stripping `prefix` (Istio `JWTHeader`). */
export interface JwtHeaderLocation {
  /** Header name, lower case. */
  readonly name: string;
  /** Stripped from the value before decoding, e.g. `Bearer ` (compared case-insensitively). */
  readonly prefix?: string;
}

/** One claim copied into a request header for the app (Istio `ClaimToHeader`). */
export interface ClaimToHeader {
  /** Header name, lower case. */
  readonly header: string;
  /** Claim name; `a.b` names a nested claim. */
  readonly claim: string;
}

/** A JSON Web Key Set (RFC 7517 §5) holding public keys only. */
export interface JsonWebKeySet {
  readonly keys: readonly Readonly<Record<string, unknown>>[];
}

/** One trusted issuer (Istio `JWTRule`). Exactly one of `jwksUri` and `jwks`. */
export interface JwtRule {
  /** Must equal the token's `iss` claim (RFC 7519 §4.1.1). */
  readonly issuer: string;
  /** The token's `aud` must contain one of these (RFC 7519 §4.1.3); empty: `aud` is not checked. */
  readonly audiences: readonly string[];
  /** http(s) URL of the issuer's JWKS, fetched by the sidecar, cached and refreshed. */
  readonly jwksUri?: string;
  /** Inline key set. */
  readonly jwks?: JsonWebKeySet;
  /** Default: `Authorization: Bearer <token>`. */
  readonly fromHeaders: readonly JwtHeaderLocation[];
  /** Query parameters holding the token; default none. */
  readonly fromParams: readonly string[];
  readonly outputClaimToHeaders: readonly ClaimToHeader[];
  /** Default false: the token is removed before the request reaches the app. */
  readonly forwardOriginalToken: boolean;
}

export interface RequestAuthenticationSpec {
  readonly targetRefs: readonly TargetRef[];
  readonly jwtRules: readonly JwtRule[];
}

export const DEFAULT_JWT_HEADER: JwtHeaderLocation = { name: 'authorization', prefix: 'Bearer ' };

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const PARAM_NAME = /^[A-Za-z0-9._~-]{1,128}$/;
const CLAIM_NAME = /^[^\s]{1,256}$/;
/** Headers a claim may never overwrite: the sidecar's own, hop-by-hop and framing fields. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'x-forwarded-client-cert', 'x-weft-source']);
/** JWK members that only a private or symmetric key has: a JWKS here holds public keys only. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/** Checks one JWK: a public RSA, EC or OKP key that node:crypto can load. */
function checkJwk(c: Checker, raw: unknown, path: string): Record<string, unknown> | undefined {
  const key = c.object(raw, path);
  if (!key) return undefined;
  const secret = PRIVATE_MEMBERS.find((m) => key[m] !== undefined);
  if (secret) {
    c.fail(join(path, secret), 'a JWKS must hold public keys only: remove the private or symmetric key material');
    return undefined;
  }
  const kty = c.oneOf(key.kty, join(path, 'kty'), ['RSA', 'EC', 'OKP'], { required: true });
  if (kty === undefined) return undefined;
  c.string(key.kid, join(path, 'kid'), { max: 256 });
  c.string(key.alg, join(path, 'alg'), { max: 32 });
  try {
    createPublicKey({ key: key as never, format: 'jwk' });
  } catch {
    c.fail(path, `is not a usable ${kty} public key`);
    return undefined;
  }
  return key;
}

/** A JWKS given inline, as a JSON string (as Istio writes it) or an object; normalized to an object. */
function readJwks(c: Checker, raw: unknown, path: string): JsonWebKeySet | undefined {
  let value = raw;
  if (typeof raw === 'string') {
    if (raw.length > 64 * 1024) {
      c.fail(path, 'must be at most 65536 characters');
      return undefined;
    }
    try {
      value = JSON.parse(raw);
    } catch {
      c.fail(path, 'must be a JSON Web Key Set ({"keys": [...]}): not valid JSON');
      return undefined;
    }
  }
  const set = c.object(value, path);
  if (!set) return undefined;
  const keys: Record<string, unknown>[] = [];
  (c.array(set.keys, join(path, 'keys'), { required: true, min: 1, max: 32 }) ?? []).forEach((k, i) => {
    const key = checkJwk(c, k, join(join(path, 'keys'), i));
    if (key) keys.push(key);
  });
  return { keys };
}

function readUri(c: Checker, raw: unknown, path: string): string | undefined {
  const s = c.string(raw, path, { max: 2048 });
  if (s === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    c.fail(path, `must be an absolute http or https URL, got ${JSON.stringify(s.slice(0, 80))}`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') c.fail(path, `must be an http or https URL, got scheme ${url.protocol}`);
  // Credentials in a URL end up in logs and config dumps.
  else if (url.username || url.password) c.fail(path, 'must not carry credentials (user:password@)');
  else return url.href;
  return undefined;
}

/** One JWT rule at `path`; shared by the API's validator and the proxy's snapshot check. */
export function readJwtRule(c: Checker, raw: unknown, path: string): JwtRule | undefined {
  const r = c.object(raw, path);
  if (!r) return undefined;
  c.noUnknown(r, path, ['issuer', 'audiences', 'jwksUri', 'jwks', 'fromHeaders', 'fromParams', 'outputClaimToHeaders', 'forwardOriginalToken']);
  const issuer = c.string(r.issuer, join(path, 'issuer'), { required: true, max: 1024 });
  const audiences: string[] = [];
  (c.array(r.audiences, join(path, 'audiences'), { max: 64 }) ?? []).forEach((a, i) => {
    const s = c.string(a, join(join(path, 'audiences'), i), { required: true, max: 1024 });
    if (s !== undefined) audiences.push(s);
  });
  const jwksUri = readUri(c, r.jwksUri, join(path, 'jwksUri'));
  const jwks = r.jwks === undefined ? undefined : readJwks(c, r.jwks, join(path, 'jwks'));
  if (r.jwksUri === undefined && r.jwks === undefined) c.fail(path, 'give jwksUri or jwks: the keys the issuer signs with');
  if (r.jwksUri !== undefined && r.jwks !== undefined) c.fail(join(path, 'jwks'), 'give jwksUri or jwks, not both');

  let fromHeaders: JwtHeaderLocation[] = [DEFAULT_JWT_HEADER];
  if (r.fromHeaders !== undefined) {
    fromHeaders = [];
    const hp = join(path, 'fromHeaders');
    (c.array(r.fromHeaders, hp, { min: 1, max: 8 }) ?? []).forEach((rawH, i) => {
      const p = join(hp, i);
      const h = c.object(rawH, p);
      if (!h) return;
      c.noUnknown(h, p, ['name', 'prefix']);
      const name = c.string(h.name, join(p, 'name'), { required: true, pattern: HEADER_NAME, patternHint: 'an HTTP header name' });
      const prefix = c.string(h.prefix, join(p, 'prefix'), { max: 64 });
      if (name !== undefined && RESERVED_HEADERS.has(name.toLowerCase())) c.fail(join(p, 'name'), `${name} cannot carry a token`);
      else if (name !== undefined) fromHeaders.push({ name: name.toLowerCase(), ...(prefix ? { prefix } : {}) });
    });
  }
  const fromParams: string[] = [];
  (c.array(r.fromParams, join(path, 'fromParams'), { max: 8 }) ?? []).forEach((rawP, i) => {
    const s = c.string(rawP, join(join(path, 'fromParams'), i), { required: true, pattern: PARAM_NAME, patternHint: 'a query parameter name (letters, digits, ._~-)' });
    if (s !== undefined) fromParams.push(s);
  });
  const outputClaimToHeaders: ClaimToHeader[] = [];
  const op = join(path, 'outputClaimToHeaders');
  (c.array(r.outputClaimToHeaders, op, { max: 32 }) ?? []).forEach((rawO, i) => {
    const p = join(op, i);
    const o = c.object(rawO, p);
    if (!o) return;
    c.noUnknown(o, p, ['header', 'claim']);
    const header = c.string(o.header, join(p, 'header'), { required: true, pattern: HEADER_NAME, patternHint: 'an HTTP header name' });
    const claim = c.string(o.claim, join(p, 'claim'), { required: true, pattern: CLAIM_NAME, patternHint: 'a claim name without spaces (a.b for a nested claim)' });
    const lower = header?.toLowerCase();
    if (lower !== undefined && (RESERVED_HEADERS.has(lower) || lower.startsWith(':') || fromHeaders.some((h) => h.name === lower))) c.fail(join(p, 'header'), `${header} is reserved or carries the token`);
    else if (lower !== undefined && claim !== undefined) outputClaimToHeaders.push({ header: lower, claim });
  });
  const forwardOriginalToken = c.boolean(r.forwardOriginalToken, join(path, 'forwardOriginalToken')) ?? false;
  if (issuer === undefined) return undefined;
  return { issuer, audiences, ...(jwksUri && { jwksUri }), ...(jwks && { jwks }), fromHeaders, fromParams, outputClaimToHeaders, forwardOriginalToken };
}

/** The jwtRules list at `path`: at least one, issuers distinct. */
export function readJwtRules(c: Checker, raw: unknown, path: string): JwtRule[] {
  const rules: JwtRule[] = [];
  (c.array(raw, path, { required: true, min: 1, max: 16 }) ?? []).forEach((rawRule, i) => {
    const rule = readJwtRule(c, rawRule, join(path, i));
    if (!rule) return;
    if (rules.some((r) => r.issuer === rule.issuer)) c.fail(join(join(path, i), 'issuer'), `issuer ${JSON.stringify(rule.issuer)} is already given by another rule`);
    else rules.push(rule);
  });
  return rules;
}

function validateSpec(raw: unknown, path: string): ValidationResult<RequestAuthenticationSpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['targetRefs', 'jwtRules']);
  const targetRefs = readTargetRefs(c, spec.targetRefs, join(path, 'targetRefs'));
  const jwtRules = readJwtRules(c, spec.jwtRules, join(path, 'jwtRules'));
  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { targetRefs, jwtRules } };
}

export const requestAuthenticationType: ResourceType<RequestAuthenticationSpec> = {
  kind: 'RequestAuthentication',
  apiVersion: 'weft.dev/v1alpha1',
  plural: 'requestauthentications',
  aliases: ['requestauthentication', 'ra', 'jwt'],
  namespaced: true,
  validateSpec,
};

// The jwt-authn inbound filter (RequestAuthentication): finds a JWT where the rules say, verifies it
// against its issuer's rule and keys, and gives later filters its principal and claims. A request
// without a token passes (no request principal); a present but bad token is 401 `jwt-invalid`.

import type { ClaimToHeader, JwtRule } from '../../../config/kinds/request-authentication.ts';
import type { RequestAuthenticationSnapshot } from '../../../config/snapshot-types.ts';
import type { Clock } from '../../../lib/clock.ts';
import { systemClock } from '../../../lib/clock.ts';
import type { FilterReply, FilterResult, InboundFilter, InboundRequest } from '../inbound-filter.ts';
import { JwksCache, staticJwks, type JwksEntry } from './jwks-cache.ts';
import { peekIssuer, verifyJwt, type JwtFailure } from './verify.ts';

/** A token longer than this is refused unread (a JWT with a few claims is well under 2 KiB). */
export const MAX_TOKEN_BYTES = 8 * 1024;

interface CompiledRule {
  readonly rule: JwtRule;
  readonly keys: JwksEntry;
  /** The locations this rule reads (locationKey): a token elsewhere is not this issuer's. */
  readonly locations: ReadonlySet<string>;
}

/** Where a token may be: a header (with its prefix) or a query parameter. */
type Location = { readonly header: string; readonly prefix: string | undefined } | { readonly param: string };

function locationKey(l: Location): string {
  return 'header' in l ? `h:${l.header}:${l.prefix ?? ''}` : `p:${l.param}`;
}

function describeLocation(l: Location): string {
  return 'header' in l ? `header ${l.header}` : `query parameter ${l.param}`;
}

/** The parsed config: every location, the rules by issuer, the claim headers. */
export interface JwtAuthnConfig {
  readonly locations: readonly Location[];
  readonly byIssuer: ReadonlyMap<string, CompiledRule>;
  /** Every `outputClaimToHeaders` header: incoming copies are always removed, so no caller can forge one. */
  readonly outputHeaders: readonly string[];
}

/** Parses the RequestAuthentications of a service once per snapshot; undefined when there are none. */
export function parseJwtAuthnConfig(policies: readonly RequestAuthenticationSnapshot[] | undefined, cache: JwksCache): JwtAuthnConfig | undefined {
  if (!policies?.length) return undefined;
  const byIssuer = new Map<string, CompiledRule>();
  const locations: Location[] = [];
  const outputHeaders = new Set<string>();
  const seen = new Set<string>();
  for (const p of policies) {
    for (const rule of p.jwtRules) {
      const own: Location[] = [...rule.fromHeaders.map((h) => ({ header: h.name, prefix: h.prefix })), ...rule.fromParams.map((param) => ({ param }))];
      // Two policies naming one issuer: the oldest one's rule is used (policies come oldest first).
      if (!byIssuer.has(rule.issuer)) byIssuer.set(rule.issuer, { rule, keys: rule.jwks ? staticJwks(rule.jwks) : cache.get(rule.jwksUri!), locations: new Set(own.map(locationKey)) });
      for (const l of own) {
        const key = locationKey(l);
        if (!seen.has(key)) {
          seen.add(key);
          locations.push(l);
        }
      }
      for (const o of rule.outputClaimToHeaders) outputHeaders.add(o.header);
    }
  }
  return { locations, byIssuer, outputHeaders: [...outputHeaders] };
}

/** The JWKS URIs a snapshot's rules use (for JwksCache.retain). */
export function jwksUris(policies: readonly RequestAuthenticationSnapshot[] | undefined): string[] {
  return (policies ?? []).flatMap((p) => p.jwtRules.flatMap((r) => (r.jwksUri ? [r.jwksUri] : [])));
}

function headerValue(req: InboundRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function queryParam(target: string, name: string): string | undefined {
  const q = target.indexOf('?');
  if (q === -1) return undefined;
  return new URLSearchParams(target.slice(q + 1)).get(name) ?? undefined;
}

/** The target without the parameter `name` (the token must not reach the app unless asked). */
function withoutParam(target: string, name: string): string {
  const q = target.indexOf('?');
  const params = new URLSearchParams(target.slice(q + 1));
  params.delete(name);
  const rest = params.toString();
  return target.slice(0, q) + (rest ? `?${rest}` : '');
}

type Found = { readonly token: string; readonly location: Location };

/** The token, if any; an error when two different tokens are given (which one would count is ambiguous). */
function findToken(config: JwtAuthnConfig, req: InboundRequest): Found | FilterReply | undefined {
  let found: Found | undefined;
  for (const location of config.locations) {
    let token: string | undefined;
    if ('header' in location) {
      const v = headerValue(req, location.header);
      if (v === undefined) continue;
      if (location.prefix) {
        if (v.length < location.prefix.length || v.slice(0, location.prefix.length).toLowerCase() !== location.prefix.toLowerCase()) continue;
        token = v.slice(location.prefix.length).trim();
      } else token = v.trim();
    } else {
      token = queryParam(req.target, location.param);
    }
    if (!token) continue;
    if (found && found.token !== token) return invalid('malformed', 'more than one token in the request');
    found ??= { token, location };
  }
  return found;
}

function invalid(failure: JwtFailure | 'keys unavailable', detail?: string): FilterReply {
  return {
    status: 401,
    reason: 'jwt-invalid',
    message: `the request's JWT is rejected: ${failure}${detail ? ` (${detail})` : ''}`,
    // RFC 6750 §3: a rejected bearer token is answered with the challenge and error="invalid_token".
    headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${failure}"` },
  };
}

/** Printable ASCII only: a claim must never split or add a header line. */
const SAFE_HEADER_VALUE = /^[\x20-\x7e\t]*$/;

/** A claim as a header value: strings, numbers and booleans, or a list of them joined by `,`. */
function claimValue(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  let v: unknown = claims[name];
  if (v === undefined && name.includes('.')) {
    v = claims;
    for (const part of name.split('.')) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
  }
  const scalar = (x: unknown): string | undefined => (typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined);
  const s = Array.isArray(v) ? (v.every((x) => scalar(x) !== undefined) ? v.map(scalar).join(',') : undefined) : scalar(v);
  return s !== undefined && s.length <= 4096 && SAFE_HEADER_VALUE.test(s) ? s : undefined;
}

function edits(req: InboundRequest): Record<string, string | undefined> {
  return (req.headerEdits ??= {});
}

/** The filter. `clock` is for exp/nbf (tests); the keys come from the cache the config was parsed with. */
export function createJwtAuthnFilter(config: JwtAuthnConfig, clock: Clock = systemClock): InboundFilter {
  const verified = (req: InboundRequest, found: Found, rule: JwtRule, claims: Record<string, unknown>): undefined => {
    const iss = typeof claims.iss === 'string' ? claims.iss : rule.issuer;
    const sub = typeof claims.sub === 'string' ? claims.sub : '';
    req.auth = { principal: `${iss}/${sub}`, claims };
    if (!rule.forwardOriginalToken) {
      if ('header' in found.location) edits(req)[found.location.header] = undefined;
      else req.target = withoutParam(req.target, found.location.param);
    }
    for (const o of rule.outputClaimToHeaders as readonly ClaimToHeader[]) {
      const v = claimValue(claims, o.claim);
      if (v !== undefined) edits(req)[o.header] = v;
    }
    return undefined;
  };

  const verify = async (req: InboundRequest, found: Found, compiled: CompiledRule): Promise<FilterReply | undefined> => {
    let keys = compiled.keys.keys();
    if (!keys) {
      // The first request may wait for the first fetch (bounded by its deadline), never longer.
      await compiled.keys.ready();
      keys = compiled.keys.keys();
      if (!keys) return invalid('keys unavailable', `the issuer's key set could not be fetched: ${compiled.keys.lastError() ?? 'no answer'}`);
    }
    let result = await verifyJwt(found.token, compiled.rule, keys, clock.now());
    if (!result.ok && result.failure === 'unknown key id' && (await compiled.keys.refetchForUnknownKid())) {
      // Keys rotate: a kid we have not seen may be in the issuer's current set.
      const fresh = compiled.keys.keys();
      if (fresh && fresh !== keys) result = await verifyJwt(found.token, compiled.rule, fresh, clock.now());
    }
    if (!result.ok) return invalid(result.failure);
    return verified(req, found, compiled.rule, result.claims);
  };

  return {
    name: 'jwt-authn',
    run(req): FilterResult {
      // Whatever the caller wrote in a claim header is dropped, token or not.
      for (const h of config.outputHeaders) edits(req)[h] = undefined;
      const found = findToken(config, req);
      if (found === undefined) return undefined;
      if ('status' in found) return found;
      if (found.token.length > MAX_TOKEN_BYTES) return invalid('malformed', `longer than ${MAX_TOKEN_BYTES} bytes`);
      const peek = peekIssuer(found.token);
      if (peek === undefined) return invalid('malformed', 'not a signed JWT (header.payload.signature)');
      const compiled = peek.iss === undefined ? undefined : config.byIssuer.get(peek.iss);
      if (!compiled) return invalid('wrong issuer', peek.iss === undefined ? 'no iss claim' : `issuer ${JSON.stringify(peek.iss.slice(0, 100))} is not trusted here`);
      if (!compiled.locations.has(locationKey(found.location))) return invalid('wrong issuer', `tokens of issuer ${JSON.stringify(compiled.rule.issuer)} are not read from the ${describeLocation(found.location)}`);
      return verify(req, found, compiled);
    },
  };
}

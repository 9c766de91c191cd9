// AuthorizationPolicy (weft.dev/v1alpha1): who may call the Services it targets, judged by the
// target's sidecar on every inbound request from the caller's mutual-TLS identity, its JWT (after
// RequestAuthentication), method, path, port and headers. Field names and semantics follow Istio's
// AuthorizationPolicy (flattened: `from[].principals`, not `from[].source.principals`).

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from '../validate.ts';
import { readTargetRefs, type TargetRef } from './backend-policy.ts';

/** Istio's actions: DENY wins, ALLOW must match when any targets the workload, AUDIT only records. */
export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT';
export const AUTHORIZATION_ACTIONS: readonly AuthorizationAction[] = ['ALLOW', 'DENY', 'AUDIT'];

/**
 * Where a request comes from; every field given must match, a list matches any of its entries, a
 * `not…` list matches when no entry does. String patterns are exact, `prefix*`, `*suffix` or `*`
 * (present at all).
 */
export interface AuthorizationSource {
  /** The caller's SPIFFE ID proved in mutual TLS (Istio `principals`). */
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  /** The first name of `principals`, kept so stored policies stay valid: the same meaning. */
  readonly identities?: readonly string[];
  /** Namespaces of the caller's SPIFFE ID. */
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  /** `iss/sub` of the request's verified JWT (RequestAuthentication). */
  readonly requestPrincipals?: readonly string[];
  readonly notRequestPrincipals?: readonly string[];
}

/** What a request asks for; every field given must match. */
export interface AuthorizationOperation {
  /** HTTP methods, upper case. */
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  /** Normalized paths without the query: exact, a prefix (`/api/` then `*`), a suffix (`*` then `.png`) or `*`. */
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
  /** The port of the app the sidecar serves (the instance's target port), as in Istio. */
  readonly ports?: readonly number[];
  readonly notPorts?: readonly number[];
}

/**
 * One `when` condition (Istio's keys): `request.headers[NAME]`, `request.auth.claims[NAME]` (nested:
 * `request.auth.claims[a][b]`; a list claim matches when one entry does), `request.auth.principal`,
 * `request.auth.audiences`, `request.auth.presenter`, `source.principal`, `source.namespace`.
 * Matches when the value matches one of `values` (if given) and none of `notValues` (if given).
 */
export interface AuthorizationCondition {
  readonly key: string;
  readonly values?: readonly string[];
  readonly notValues?: readonly string[];
}

/** Matches when one of `from` matches (or it is absent), one of `to` (or absent) and every `when`. */
export interface AuthorizationRule {
  readonly from?: readonly AuthorizationSource[];
  readonly to?: readonly AuthorizationOperation[];
  readonly when?: readonly AuthorizationCondition[];
}

export interface AuthorizationPolicySpec {
  readonly targetRefs: readonly TargetRef[];
  readonly action: AuthorizationAction;
  /** A policy without rules matches nothing: ALLOW then allows nothing (deny all), DENY denies nothing. */
  readonly rules: readonly AuthorizationRule[];
}

const METHOD = /^[A-Z]{1,20}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const PATTERN_HINT = 'exact, prefix* , *suffix or *';

/** A `*` may only start or end a pattern (or be all of it), as in Istio. */
export function patternProblem(s: string, what: string): string | undefined {
  if (s === '*') return undefined;
  const inner = s.slice(1, -1);
  if (inner.includes('*') || (s.startsWith('*') && s.endsWith('*'))) return `a ${what} pattern is ${PATTERN_HINT}, got ${JSON.stringify(s)}`;
  return undefined;
}

type FieldCheck = (value: string) => string | undefined;

function stringList(c: Checker, raw: unknown, path: string, check: FieldCheck): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = c.array(raw, path, { min: 1, max: 64 }) ?? [];
  const out: string[] = [];
  list.forEach((item, i) => {
    const s = c.string(item, join(path, i), { required: true, max: 512 });
    if (s === undefined) return;
    const problem = check(s);
    if (problem) c.fail(join(path, i), problem);
    else out.push(s);
  });
  return out;
}

/** Ports as numbers or numeric strings (Istio writes them as strings), normalized to numbers. */
function portList(c: Checker, raw: unknown, path: string): number[] | undefined {
  if (raw === undefined) return undefined;
  const out: number[] = [];
  (c.array(raw, path, { min: 1, max: 64 }) ?? []).forEach((item, i) => {
    const n = typeof item === 'string' && /^[0-9]{1,5}$/.test(item) ? Number(item) : item;
    const port = c.integer(n, join(path, i), { required: true, min: 1, max: 65535 });
    if (port !== undefined) out.push(port);
  });
  return out;
}

const checkPrincipal: FieldCheck = (id) =>
  id === '*' || id.startsWith('*') || id.startsWith('spiffe://') ? patternProblem(id, 'principal') : `must be a SPIFFE ID (spiffe://…), ${PATTERN_HINT}, got ${JSON.stringify(id)}`;
const checkNamespace: FieldCheck = (ns) => (DNS_LABEL.test(ns) ? undefined : `must be ${DNS_LABEL_HINT}, got ${JSON.stringify(ns)}`);
const checkRequestPrincipal: FieldCheck = (p) => patternProblem(p, 'request principal');
const checkMethod: FieldCheck = (m) => (METHOD.test(m) ? undefined : `must be an HTTP method in upper case, got ${JSON.stringify(m)}`);
const checkPath: FieldCheck = (p) => (!p.startsWith('/') && !p.startsWith('*') ? `must start with / (or * for a suffix), got ${JSON.stringify(p)}` : patternProblem(p, 'path'));
const checkValue: FieldCheck = (v) => patternProblem(v, 'value');

const SOURCE_FIELDS: readonly [keyof AuthorizationSource, FieldCheck][] = [
  ['principals', checkPrincipal],
  ['notPrincipals', checkPrincipal],
  ['identities', checkPrincipal],
  ['namespaces', checkNamespace],
  ['notNamespaces', checkNamespace],
  ['requestPrincipals', checkRequestPrincipal],
  ['notRequestPrincipals', checkRequestPrincipal],
];
const OPERATION_FIELDS: readonly [keyof AuthorizationOperation, FieldCheck][] = [
  ['methods', checkMethod],
  ['notMethods', checkMethod],
  ['paths', checkPath],
  ['notPaths', checkPath],
];

/** Reads a `from` or `to` list: objects whose fields are all optional lists, at least one given. */
function readMatchers<T>(c: Checker, raw: unknown, path: string, names: string, fields: readonly [string, FieldCheck][], ports: boolean): T[] | undefined {
  if (raw === undefined) return undefined;
  const out: T[] = [];
  const known = [...fields.map(([f]) => f), ...(ports ? ['ports', 'notPorts'] : [])];
  (c.array(raw, path, { min: 1, max: 32 }) ?? []).forEach((rawEntry, i) => {
    const ep = join(path, i);
    const e = c.object(rawEntry, ep);
    if (!e) return;
    c.noUnknown(e, ep, known);
    const entry: Record<string, unknown> = {};
    for (const [field, check] of fields) {
      const list = stringList(c, e[field], join(ep, field), check);
      if (list !== undefined) entry[field] = list;
    }
    if (ports) {
      for (const field of ['ports', 'notPorts']) {
        const list = portList(c, e[field], join(ep, field));
        if (list !== undefined) entry[field] = list;
      }
    }
    if (Object.keys(entry).length === 0 && Object.keys(e).length === 0) c.fail(ep, `names no ${names}: give at least one of ${known.join(', ')}`);
    out.push(entry as T);
  });
  return out;
}

/** `request.headers[x-user]` → header; `request.auth.claims[a][b]` → claim path. */
export type ConditionKey =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'claim'; readonly path: readonly string[] }
  | { readonly kind: 'request.auth.principal' | 'request.auth.audiences' | 'request.auth.presenter' | 'source.principal' | 'source.namespace' };

const PLAIN_KEYS = ['request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'source.principal', 'source.namespace'] as const;

/** Parses a `when` key; undefined when it is not one weft knows. */
export function parseConditionKey(key: string): ConditionKey | undefined {
  if ((PLAIN_KEYS as readonly string[]).includes(key)) return { kind: key as (typeof PLAIN_KEYS)[number] };
  const header = /^request\.headers\[([^\]]+)\]$/.exec(key);
  if (header) return HEADER_NAME.test(header[1]!) ? { kind: 'header', name: header[1]!.toLowerCase() } : undefined;
  const claims = /^request\.auth\.claims((?:\[[^\][]{1,128}\]){1,8})$/.exec(key);
  if (claims) return { kind: 'claim', path: claims[1]!.slice(1, -1).split('][') };
  return undefined;
}

function readCondition(c: Checker, raw: unknown, path: string): AuthorizationCondition | undefined {
  const o = c.object(raw, path);
  if (!o) return undefined;
  c.noUnknown(o, path, ['key', 'values', 'notValues']);
  const key = c.string(o.key, join(path, 'key'), { required: true, max: 512 });
  if (key !== undefined && parseConditionKey(key) === undefined) {
    c.fail(join(path, 'key'), `must be request.headers[NAME], request.auth.claims[NAME]…, ${PLAIN_KEYS.join(', ')}; got ${JSON.stringify(key)}`);
  }
  const values = stringList(c, o.values, join(path, 'values'), checkValue);
  const notValues = stringList(c, o.notValues, join(path, 'notValues'), checkValue);
  if (values === undefined && notValues === undefined && o.values === undefined && o.notValues === undefined) c.fail(path, 'give values, notValues or both');
  if (key === undefined) return undefined;
  return { key, ...(values && { values }), ...(notValues && { notValues }) };
}

/** One rule at `path`; shared by the API's validator and the proxy's snapshot check. */
export function readAuthorizationRule(c: Checker, raw: unknown, path: string): AuthorizationRule | undefined {
  const r = c.object(raw, path);
  if (!r) return undefined;
  c.noUnknown(r, path, ['from', 'to', 'when']);
  const from = readMatchers<AuthorizationSource>(c, r.from, join(path, 'from'), 'source', SOURCE_FIELDS, false);
  const to = readMatchers<AuthorizationOperation>(c, r.to, join(path, 'to'), 'operation', OPERATION_FIELDS, true);
  let when: AuthorizationCondition[] | undefined;
  if (r.when !== undefined) {
    when = [];
    (c.array(r.when, join(path, 'when'), { min: 1, max: 32 }) ?? []).forEach((rawCond, i) => {
      const cond = readCondition(c, rawCond, join(join(path, 'when'), i));
      if (cond) when!.push(cond);
    });
  }
  return { ...(from && { from }), ...(to && { to }), ...(when && { when }) };
}

/** The rules list at `path` (at most 64). */
export function readAuthorizationRules(c: Checker, raw: unknown, path: string): AuthorizationRule[] {
  const rules: AuthorizationRule[] = [];
  (c.array(raw, path, { max: 64 }) ?? []).forEach((rawRule, i) => {
    const rule = readAuthorizationRule(c, rawRule, join(path, i));
    if (rule) rules.push(rule);
  });
  return rules;
}

function validateSpec(raw: unknown, path: string): ValidationResult<AuthorizationPolicySpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['targetRefs', 'action', 'rules']);
  const targetRefs = readTargetRefs(c, spec.targetRefs, join(path, 'targetRefs'));
  const action = c.oneOf(spec.action, join(path, 'action'), AUTHORIZATION_ACTIONS) ?? 'ALLOW';
  const rules = readAuthorizationRules(c, spec.rules, join(path, 'rules'));
  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { targetRefs, action, rules } };
}

export const authorizationPolicyType: ResourceType<AuthorizationPolicySpec> = {
  kind: 'AuthorizationPolicy',
  apiVersion: 'weft.dev/v1alpha1',
  plural: 'authorizationpolicies',
  aliases: ['authorizationpolicy', 'authz'],
  namespaced: true,
  validateSpec,
};

// AuthorizationPolicy (weft.dev/v1alpha1): who may call the Services it targets, judged by the
// target's sidecar on every inbound request from the caller's mutual-TLS identity, method and path.
// DENY policies win; when any ALLOW policy targets a service, a request must match one of them.

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from '../validate.ts';
import { readTargetRefs, type TargetRef } from './backend-policy.ts';

export type AuthorizationAction = 'ALLOW' | 'DENY';
export const AUTHORIZATION_ACTIONS: readonly AuthorizationAction[] = ['ALLOW', 'DENY'];

/** Where a request comes from; every field given must match, a list matches any of its entries. */
export interface AuthorizationSource {
  /** SPIFFE IDs, exact, or ending in `*` for a prefix (`spiffe://weft.local/ns/shop/*`). */
  readonly identities?: readonly string[];
  /** Namespaces of the caller's identity. */
  readonly namespaces?: readonly string[];
}

/** What a request asks for; every field given must match. */
export interface AuthorizationOperation {
  /** HTTP methods, upper case. */
  readonly methods?: readonly string[];
  /** Paths, exact, or ending in `*` for a prefix (`/api/*`); the query is not part of the path. */
  readonly paths?: readonly string[];
}

/** Matches when one of `from` matches (or `from` is absent) and one of `to` matches (or absent). */
export interface AuthorizationRule {
  readonly from?: readonly AuthorizationSource[];
  readonly to?: readonly AuthorizationOperation[];
}

export interface AuthorizationPolicySpec {
  readonly targetRefs: readonly TargetRef[];
  readonly action: AuthorizationAction;
  /** A policy without rules matches nothing: ALLOW then allows nothing (deny all), DENY denies nothing. */
  readonly rules: readonly AuthorizationRule[];
}

const METHOD = /^[A-Z]{1,20}$/;
const PATTERN_HINT = 'exact, or ending in * for a prefix';

function stringList(c: Checker, raw: unknown, path: string, check: (s: string) => string | undefined): string[] | undefined {
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

/** A `*` may only end a pattern: a prefix match, nothing cleverer. */
function pattern(s: string, what: string): string | undefined {
  const star = s.indexOf('*');
  return star !== -1 && star !== s.length - 1 ? `a ${what} pattern is ${PATTERN_HINT}, got ${JSON.stringify(s)}` : undefined;
}

type FieldCheck = (value: string) => string | undefined;

/**
 * `from` and `to` share a shape: a list of objects, each with two optional string lists of which at
 * least one is given. Reads one such list; `names` says what an entry is, for the error.
 */
function readMatchers<A extends string, B extends string>(c: Checker, raw: unknown, path: string, names: string, a: [A, FieldCheck], b: [B, FieldCheck]): Partial<Record<A | B, string[]>>[] | undefined {
  if (raw === undefined) return undefined;
  const out: Partial<Record<A | B, string[]>>[] = [];
  (c.array(raw, path, { min: 1, max: 32 }) ?? []).forEach((rawEntry, i) => {
    const ep = join(path, i);
    const e = c.object(rawEntry, ep);
    if (!e) return;
    c.noUnknown(e, ep, [a[0], b[0]]);
    const first = stringList(c, e[a[0]], join(ep, a[0]), a[1]);
    const second = stringList(c, e[b[0]], join(ep, b[0]), b[1]);
    if (first === undefined && second === undefined) c.fail(ep, `names no ${names}: give ${a[0]}, ${b[0]} or both`);
    out.push({ ...(first && { [a[0]]: first }), ...(second && { [b[0]]: second }) } as Partial<Record<A | B, string[]>>);
  });
  return out;
}

const checkIdentity: FieldCheck = (id) => (!id.startsWith('spiffe://') ? `must be a SPIFFE ID (spiffe://…), ${PATTERN_HINT}, got ${JSON.stringify(id)}` : pattern(id, 'identity'));
const checkNamespace: FieldCheck = (ns) => (DNS_LABEL.test(ns) ? undefined : `must be ${DNS_LABEL_HINT}, got ${JSON.stringify(ns)}`);
const checkMethod: FieldCheck = (m) => (METHOD.test(m) ? undefined : `must be an HTTP method in upper case, got ${JSON.stringify(m)}`);
const checkPath: FieldCheck = (p) => (!p.startsWith('/') ? `must start with /, got ${JSON.stringify(p)}` : pattern(p, 'path'));

function readRule(c: Checker, raw: unknown, path: string): AuthorizationRule | undefined {
  const r = c.object(raw, path);
  if (!r) return undefined;
  c.noUnknown(r, path, ['from', 'to']);
  const from: AuthorizationSource[] | undefined = readMatchers(c, r.from, join(path, 'from'), 'source', ['identities', checkIdentity], ['namespaces', checkNamespace]);
  const to: AuthorizationOperation[] | undefined = readMatchers(c, r.to, join(path, 'to'), 'operation', ['methods', checkMethod], ['paths', checkPath]);
  return { ...(from && { from }), ...(to && { to }) };
}

function validateSpec(raw: unknown, path: string): ValidationResult<AuthorizationPolicySpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['targetRefs', 'action', 'rules']);
  const targetRefs = readTargetRefs(c, spec.targetRefs, join(path, 'targetRefs'));
  const action = c.oneOf(spec.action, join(path, 'action'), AUTHORIZATION_ACTIONS) ?? 'ALLOW';
  const rules: AuthorizationRule[] = [];
  const rulesPath = join(path, 'rules');
  (c.array(spec.rules, rulesPath, { max: 64 }) ?? []).forEach((rawRule, i) => {
    const rule = readRule(c, rawRule, join(rulesPath, i));
    if (rule) rules.push(rule);
  });
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

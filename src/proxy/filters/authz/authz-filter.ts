// The authz inbound filter (AuthorizationPolicy): the policies targeting this sidecar's service,
// compiled once per snapshot into matchers; each request is judged after jwt-authn by its caller's
// identity, JWT, method, normalized path, port and headers (Istio's evaluation order below).

import type { AuthorizationCondition, AuthorizationOperation, AuthorizationRule, AuthorizationSource } from '../../../config/kinds/authorization-policy.ts';
import { parseConditionKey } from '../../../config/kinds/authorization-policy.ts';
import type { AuthorizationSnapshot } from '../../../config/snapshot-types.ts';
import { parseSpiffeId } from '../../../config/identity.ts';
import type { FilterReply, InboundFilter, InboundRequest } from '../inbound-filter.ts';

type Match = (value: string | undefined) => boolean;
type RequestMatch = (req: InboundRequest) => boolean;

/**
 * Istio's string match: exact, `prefix*`, `*suffix`, or `*` (any value present). An absent value
 * (no identity, no JWT, no such header) matches no pattern.
 */
export function patternMatch(patterns: readonly string[]): Match {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  let any = false;
  for (const p of patterns) {
    if (p === '*') any = true;
    else if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else if (p.startsWith('*')) suffixes.push(p.slice(1));
    else exact.add(p);
  }
  return (value) => value !== undefined && (any || exact.has(value) || prefixes.some((p) => value.startsWith(p)) || suffixes.some((s) => value.endsWith(s)));
}

/** `values` must match (when given) and `notValues` must not (when given). */
function positiveNegative(values: readonly string[] | undefined, notValues: readonly string[] | undefined): Match | undefined {
  const yes = values && patternMatch(values);
  const no = notValues && patternMatch(notValues);
  if (!yes && !no) return undefined;
  return (v) => (!yes || yes(v)) && (!no || !no(v));
}

/**
 * positiveNegative for a value that may be a list (a list claim, several audiences), as Istio
 * matches list claims: `values` needs one entry matching, `notValues` needs no entry matching.
 */
function listMatch(values: readonly string[] | undefined, notValues: readonly string[] | undefined): (list: readonly string[] | undefined) => boolean {
  const yes = values && patternMatch(values);
  const no = notValues && patternMatch(notValues);
  return (list) => (!yes || (list !== undefined && list.some((v) => yes(v)))) && (!no || list === undefined || !list.some((v) => no(v)));
}

const peerNamespace = (peer: string | undefined): string | undefined => (peer === undefined ? undefined : parseSpiffeId(peer)?.namespace);

function sourceMatch(source: AuthorizationSource): RequestMatch {
  const checks: RequestMatch[] = [];
  // `identities` is the first name of `principals`: both are the caller's SPIFFE ID.
  const principals = source.principals || source.identities ? [...(source.principals ?? []), ...(source.identities ?? [])] : undefined;
  const principal = positiveNegative(principals, source.notPrincipals);
  if (principal) checks.push((r) => principal(r.peer));
  const namespace = positiveNegative(source.namespaces, source.notNamespaces);
  if (namespace) checks.push((r) => namespace(peerNamespace(r.peer)));
  const requestPrincipal = positiveNegative(source.requestPrincipals, source.notRequestPrincipals);
  if (requestPrincipal) checks.push((r) => requestPrincipal(r.auth?.principal));
  return (r) => checks.every((c) => c(r));
}

function operationMatch(op: AuthorizationOperation): RequestMatch {
  const checks: RequestMatch[] = [];
  const method = positiveNegative(op.methods, op.notMethods);
  if (method) checks.push((r) => method(r.method));
  const path = positiveNegative(op.paths, op.notPaths);
  if (path) checks.push((r) => path(r.path));
  if (op.ports) {
    const ports = new Set(op.ports);
    checks.push((r) => ports.has(r.port));
  }
  if (op.notPorts) {
    const notPorts = new Set(op.notPorts);
    checks.push((r) => !notPorts.has(r.port));
  }
  return (r) => checks.every((c) => c(r));
}

function headerValue(r: InboundRequest, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** A claim by path (`[a][b]`): strings as they are, numbers and booleans as text, a list as its entries. */
function claimValues(r: InboundRequest, path: readonly string[]): string[] | undefined {
  let v: unknown = r.auth?.claims;
  for (const part of path) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
  const text = (x: unknown): string | undefined => (typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined);
  if (Array.isArray(v)) return v.map(text).filter((x): x is string => x !== undefined);
  const t = text(v);
  return t === undefined ? undefined : [t];
}

function conditionMatch(cond: AuthorizationCondition): RequestMatch {
  const key = parseConditionKey(cond.key);
  const m = positiveNegative(cond.values, cond.notValues) ?? (() => true);
  const list = listMatch(cond.values, cond.notValues);
  switch (key?.kind) {
    case 'header':
      return (r) => m(headerValue(r, key.name));
    case 'claim':
      return (r) => list(claimValues(r, key.path));
    case 'request.auth.principal':
      return (r) => m(r.auth?.principal);
    case 'request.auth.audiences':
      return (r) => list(claimValues(r, ['aud']));
    case 'request.auth.presenter':
      return (r) => list(claimValues(r, ['azp']));
    case 'source.principal':
      return (r) => m(r.peer);
    case 'source.namespace':
      return (r) => m(peerNamespace(r.peer));
    default:
      // The validator refuses unknown keys; a rule with one can never match.
      return () => false;
  }
}

function ruleMatch(rule: AuthorizationRule): RequestMatch {
  const from = rule.from?.map(sourceMatch);
  const to = rule.to?.map(operationMatch);
  const when = rule.when?.map(conditionMatch);
  return (r) => (!from || from.some((m) => m(r))) && (!to || to.some((m) => m(r))) && (!when || when.every((m) => m(r)));
}

interface Compiled {
  readonly name: string;
  /** Index of the first matching rule, or -1. */
  readonly match: (r: InboundRequest) => number;
}

function compile(policy: AuthorizationSnapshot): Compiled {
  const rules = policy.rules.map(ruleMatch);
  return { name: policy.name, match: (r) => rules.findIndex((m) => m(r)) };
}

/** What the authorizer decided: why a request is refused (or undefined), and the AUDIT policies it matched. */
export interface AuthorizationDecision {
  readonly denied: string | undefined;
  readonly audited: readonly string[];
}

export interface Authorizer {
  check(r: InboundRequest): AuthorizationDecision;
}

const NO_AUDIT: readonly string[] = [];
const PASS: AuthorizationDecision = { denied: undefined, audited: NO_AUDIT };

/**
 * Istio's order: AUDIT policies are only recorded; a matching DENY refuses; with ALLOW policies one
 * must match; with none, MeshConfig's default decides (ALLOW, or DENY when `defaultDeny`).
 * Undefined when there is nothing to judge (no policy, default allow): every request passes.
 */
export function createAuthorizer(policies: readonly AuthorizationSnapshot[] | undefined, defaultDeny = false): Authorizer | undefined {
  if (!policies?.length && !defaultDeny) return undefined;
  const all = policies ?? [];
  const audit = all.filter((p) => p.action === 'AUDIT').map(compile);
  const deny = all.filter((p) => p.action === 'DENY').map(compile);
  const allow = all.filter((p) => p.action === 'ALLOW').map(compile);
  const allowNames = allow.map((p) => p.name).join(', ');
  return {
    check(r) {
      let audited = NO_AUDIT;
      for (const p of audit) if (p.match(r) !== -1) audited = audited === NO_AUDIT ? [p.name] : [...audited, p.name];
      const decide = (denied: string | undefined): AuthorizationDecision => (denied === undefined && audited === NO_AUDIT ? PASS : { denied, audited });
      const who = `${r.peer ?? 'a plaintext caller (no identity)'}${r.auth ? ` with JWT principal ${r.auth.principal}` : ''}`;
      for (const p of deny) {
        const rule = p.match(r);
        if (rule !== -1) return decide(`${r.method} ${r.path} from ${who} is denied by AuthorizationPolicy ${p.name} (rule ${rule})`);
      }
      if (allow.length === 0) return decide(defaultDeny ? `${r.method} ${r.path} from ${who} is denied by default deny (MeshConfig authorization.defaultAction: DENY, and no ALLOW policy targets this service)` : undefined);
      for (const p of allow) if (p.match(r) !== -1) return decide(undefined);
      return decide(`${r.method} ${r.path} from ${who} matches no rule of the AuthorizationPolicies that allow calls here (${allowNames})`);
    },
  };
}

/** Hooks for what AUDIT matches produce: a log line and a counter per policy. */
export interface AuditSink {
  (policy: string, r: InboundRequest, denied: boolean): void;
}

export function createAuthzFilter(authorizer: Authorizer, onAudit?: AuditSink): InboundFilter {
  return {
    name: 'authz',
    run(r): FilterReply | undefined {
      const d = authorizer.check(r);
      if (onAudit) for (const p of d.audited) onAudit(p, r, d.denied !== undefined);
      return d.denied === undefined ? undefined : { status: 403, reason: 'authz-denied', message: d.denied };
    },
  };
}

// Inbound authorization: the AuthorizationPolicies targeting this sidecar's own service, compiled
// once per snapshot into matchers; each inbound request is judged by the caller's proven identity
// (none over plaintext), its method and its path. DENY wins; with any ALLOW policy, one must match.

import type { AuthorizationOperation, AuthorizationRule, AuthorizationSource } from '../../config/kinds/authorization-policy.ts';
import type { AuthorizationSnapshot } from '../../config/snapshot-types.ts';
import { parseSpiffeId } from '../../config/identity.ts';

/**
 * The path policies judge: without the query, percent-encoded unreserved characters decoded
 * (`%2e` is `.`), repeated slashes merged and `.`/`..` segments resolved (RFC 3986, 5.2.4), so
 * `/api/..//admin/x` and `/%61dmin/x` are judged as the `/admin/x` an app would serve. Encoded
 * slashes (`%2F`) and backslashes stay as they are: apps disagree on what they mean.
 */
export function authorizationPath(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  if (path.includes('%')) path = path.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => (UNRESERVED.test(String.fromCharCode(parseInt(hex, 16))) ? String.fromCharCode(parseInt(hex, 16)) : m));
  if (!path.includes('//') && !path.includes('/.')) return path;
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '..') out.pop();
    else if (s !== '.' && (s !== '' || i === segments.length - 1)) out.push(s);
  }
  const last = segments[segments.length - 1];
  // `/a/..` and `/a/.` name a directory: keep the trailing slash.
  return '/' + out.join('/') + ((last === '..' || last === '.') && out.length ? '/' : '');
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

export interface Authorizer {
  /** Undefined when the request may pass; otherwise why it may not (for the 403's message). */
  check(identity: string | undefined, method: string, path: string): string | undefined;
}

type Match = (value: string) => boolean;
type RequestMatch = (identity: string | undefined, method: string, path: string) => boolean;

/** Exact, or a prefix when the pattern ends in `*`. */
function patternMatch(patterns: readonly string[]): Match {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (value) => exact.has(value) || prefixes.some((p) => value.startsWith(p));
}

function sourceMatch(source: AuthorizationSource): (identity: string | undefined) => boolean {
  const identities = source.identities && patternMatch(source.identities);
  const namespaces = source.namespaces && new Set(source.namespaces);
  // A plaintext caller proved nothing: it matches no source.
  return (identity) => {
    if (identity === undefined) return false;
    if (identities && !identities(identity)) return false;
    if (namespaces && !namespaces.has(parseSpiffeId(identity)?.namespace ?? '')) return false;
    return true;
  };
}

function operationMatch(op: AuthorizationOperation): (method: string, path: string) => boolean {
  const methods = op.methods && new Set(op.methods);
  const paths = op.paths && patternMatch(op.paths);
  return (method, path) => (!methods || methods.has(method)) && (!paths || paths(path));
}

function ruleMatch(rule: AuthorizationRule): RequestMatch {
  const from = rule.from?.map(sourceMatch);
  const to = rule.to?.map(operationMatch);
  return (identity, method, path) => (!from || from.some((m) => m(identity))) && (!to || to.some((m) => m(method, path)));
}

interface Compiled {
  readonly name: string;
  /** Index of the first matching rule, or -1. */
  readonly match: (identity: string | undefined, method: string, path: string) => number;
}

function compile(policy: AuthorizationSnapshot): Compiled {
  const rules = policy.rules.map(ruleMatch);
  return { name: policy.name, match: (identity, method, path) => rules.findIndex((r) => r(identity, method, path)) };
}

/** Undefined when no policy targets the service: then every request passes, as before any policy. */
export function createAuthorizer(policies: readonly AuthorizationSnapshot[] | undefined): Authorizer | undefined {
  if (!policies?.length) return undefined;
  const deny = policies.filter((p) => p.action === 'DENY').map(compile);
  const allow = policies.filter((p) => p.action === 'ALLOW').map(compile);
  const allowNames = allow.map((p) => p.name).join(', ');
  return {
    check(identity, method, path) {
      const who = identity ?? 'a plaintext caller (no identity)';
      for (const p of deny) {
        const rule = p.match(identity, method, path);
        if (rule !== -1) return `${method} ${path} from ${who} is denied by AuthorizationPolicy ${p.name} (rule ${rule})`;
      }
      if (allow.length === 0) return undefined;
      for (const p of allow) if (p.match(identity, method, path) !== -1) return undefined;
      return `${method} ${path} from ${who} matches no rule of the AuthorizationPolicies that allow calls here (${allowNames})`;
    },
  };
}

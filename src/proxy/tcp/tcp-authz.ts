// Connection-level authorization for TCP carried through the mesh: the server sidecar judges each
// `weft-tcp` connection (before it dials the app) with the service's AuthorizationPolicies, reading
// only what a TCP connection carries — the caller's mTLS identity (principals, namespaces) and the port.

import type { AuthorizationCondition, AuthorizationOperation, AuthorizationRule, AuthorizationSource } from '../../config/kinds/authorization-policy.ts';
import type { AuthorizationSnapshot } from '../../config/snapshot-types.ts';
import { createAuthorizer, type AuthorizationDecision } from '../filters/authz/authz-filter.ts';
import { createInboundRequest } from '../filters/inbound-filter.ts';

/** `when` keys a TCP connection can answer (Istio's L4 attributes). */
const L4_CONDITION_KEYS = new Set(['source.principal', 'source.namespace']);

/** The L4 part of a source: request principals come from a JWT, which a TCP connection has none of. */
function l4Source(s: AuthorizationSource): { source: AuthorizationSource; http: boolean } {
  const { requestPrincipals, notRequestPrincipals, ...rest } = s;
  return { source: rest, http: requestPrincipals !== undefined || notRequestPrincipals !== undefined };
}

function l4Operation(o: AuthorizationOperation): { operation: AuthorizationOperation; http: boolean } {
  const { methods, notMethods, paths, notPaths, ...rest } = o;
  return { operation: rest, http: [methods, notMethods, paths, notPaths].some((v) => v !== undefined) };
}

/**
 * A rule as it applies to a TCP connection (Istio's rule for TCP traffic): its HTTP-only fields
 * (methods, paths, request principals, `when` on request attributes) cannot be evaluated. In an
 * ALLOW or AUDIT policy such a rule matches no connection (undefined: dropped); in a DENY policy
 * those fields are ignored and the rule matches on its L4 fields alone — failing closed.
 */
export function l4Rule(rule: AuthorizationRule, action: AuthorizationSnapshot['action']): AuthorizationRule | undefined {
  let http = false;
  const from = rule.from?.map((s) => {
    const r = l4Source(s);
    http ||= r.http;
    return r.source;
  });
  const to = rule.to?.map((o) => {
    const r = l4Operation(o);
    http ||= r.http;
    return r.operation;
  });
  const when: AuthorizationCondition[] | undefined = rule.when?.filter((c) => {
    const l4 = L4_CONDITION_KEYS.has(c.key);
    http ||= !l4;
    return l4;
  });
  if (http && action !== 'DENY') return undefined;
  return { ...(from && { from }), ...(to && { to }), ...(when?.length ? { when } : {}) };
}

export interface TcpAuthorizer {
  /** Why the connection from `peer` (undefined: plaintext) is refused, or undefined to let it through. */
  check(peer: string | undefined): AuthorizationDecision;
}

/**
 * The service's policies compiled for TCP connections to the app port `port` (AuthorizationPolicy
 * `ports`), with MeshConfig's default action. Undefined when nothing is to be judged.
 */
export function createTcpAuthorizer(policies: readonly AuthorizationSnapshot[] | undefined, defaultDeny: boolean, port: number): TcpAuthorizer | undefined {
  const l4 = policies?.map((p) => ({ ...p, rules: p.rules.flatMap((r) => l4Rule(r, p.action) ?? []) }));
  const authorizer = createAuthorizer(l4, defaultDeny);
  if (!authorizer) return undefined;
  return {
    check: (peer) => authorizer.check(createInboundRequest('TCP', '', '', {}, peer, port)),
  };
}

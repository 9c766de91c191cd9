// TCPRoute (gateway.networking.k8s.io/v1alpha2), mesh (GAMMA) use: attached to a Service port by
// parentRefs, it decides which backend Services a client sidecar's TCP connections to that port go
// to, split by weight per connection (a connection carries nothing else to match on).

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, join } from '../validate.ts';
import { MAX_BACKEND_REFS, MAX_RULES, checkBackendRefs, checkParentRefs, checkRuleName, checkUniqueRuleNames, compact, type BackendRef, type ParentRef } from './route-common.ts';

/** The Gateway API ships TCPRoute in its experimental channel only, at v1alpha2. */
export const TCP_ROUTE_API_VERSION = 'gateway.networking.k8s.io/v1alpha2';

export interface TCPRouteRule {
  /** Optional (Gateway API SectionName rules); unique within the route; the metrics' `rule` label. */
  readonly name?: string;
  /** Where connections go, split by `weight` (default 1; 0 sends none). One to 16 entries. */
  readonly backendRefs: readonly BackendRef[];
}

export interface TCPRouteSpec {
  /** Services (group "", kind Service; with or without port) whose connections the route governs. */
  readonly parentRefs: readonly ParentRef[];
  /**
   * One to 16 rules. A mesh connection has nothing to match on, so the first rule governs every
   * connection; later rules are accepted (the specification allows them) and never used.
   */
  readonly rules: readonly TCPRouteRule[];
}

function checkRule(c: Checker, raw: unknown, path: string): TCPRouteRule | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  const before = c.errors.length;
  c.noUnknown(obj, path, ['name', 'backendRefs']);
  const name = checkRuleName(c, obj.name, join(path, 'name'));
  const bp = join(path, 'backendRefs');
  // The specification: MinItems=1, MaxItems=16.
  if (obj.backendRefs === undefined || (Array.isArray(obj.backendRefs) && obj.backendRefs.length === 0)) c.fail(bp, `must list 1 to ${MAX_BACKEND_REFS} backendRefs`);
  const backendRefs = checkBackendRefs(c, obj.backendRefs, bp);
  if (c.errors.length !== before) return undefined;
  return compact({ name, backendRefs });
}

/** The one validator of a TCPRoute's spec (API and builder); errors name their field paths. */
export function validateTcpRouteSpec(raw: unknown, path: string): ValidationResult<TCPRouteSpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['parentRefs', 'rules']);
  const parentRefs = checkParentRefs(c, spec.parentRefs, join(path, 'parentRefs'));
  const rp = join(path, 'rules');
  const rules: TCPRouteRule[] = [];
  const names: (string | undefined)[] = [];
  (c.array(spec.rules, rp, { required: true, min: 1, max: MAX_RULES }) ?? []).forEach((r, i) => {
    const rule = checkRule(c, r, join(rp, i));
    const obj = r as { name?: unknown } | null;
    names.push(typeof obj?.name === 'string' ? obj.name : undefined);
    if (rule) rules.push(rule);
  });
  checkUniqueRuleNames(c, names, rp);
  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { parentRefs, rules } };
}

export const tcpRouteType: ResourceType<TCPRouteSpec> = {
  kind: 'TCPRoute',
  apiVersion: TCP_ROUTE_API_VERSION,
  plural: 'tcproutes',
  aliases: ['tcproute'],
  namespaced: true,
  validateSpec: validateTcpRouteSpec,
};

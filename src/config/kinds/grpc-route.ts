// GRPCRoute (gateway.networking.k8s.io/v1), mesh (GAMMA) use: attached to a Service by parentRefs,
// it decides how a client's outbound proxy matches gRPC calls (service, method, headers) and splits them.

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, join } from '../validate.ts';
import {
  GATEWAY_API_VERSION,
  MAX_FILTERS,
  MAX_RULES,
  MAX_TOTAL_MATCHES,
  STRING_MATCH_TYPES,
  checkBackendRefs,
  checkFilterEnvelope,
  checkHeaderModifier,
  checkHostnames,
  checkParentRefs,
  checkRegex,
  checkExtensionRef,
  checkRequestMirror,
  checkRuleName,
  checkStringMatches,
  checkUniqueRuleNames,
  compact,
  type BackendRef,
  type HeaderMatch,
  type HeaderModifier,
  type ParentRef,
  type ExtensionRef,
  type RequestMirror,
  type StringMatchType,
} from './route-common.ts';

export const MAX_GRPC_MATCHES_PER_RULE = 8;

/** Upstream's character rules for Exact matches: a dotted proto service name and a method name. */
const GRPC_SERVICE = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

export interface GRPCMethodMatch {
  readonly type: StringMatchType;
  /** Fully qualified proto service, e.g. `helloworld.Greeter`; absent matches any service. */
  readonly service?: string;
  /** Method name, e.g. `SayHello`; absent matches any method. */
  readonly method?: string;
}

export interface GRPCRouteMatch {
  /** Absent: every service and method. */
  readonly method?: GRPCMethodMatch;
  /** All must match (AND); names compared case-insensitively. */
  readonly headers: readonly HeaderMatch[];
}

export type GRPCRouteFilter =
  | { readonly type: 'RequestHeaderModifier'; readonly requestHeaderModifier: HeaderModifier }
  | { readonly type: 'ResponseHeaderModifier'; readonly responseHeaderModifier: HeaderModifier }
  | { readonly type: 'RequestMirror'; readonly requestMirror: RequestMirror }
  | { readonly type: 'ExtensionRef'; readonly extensionRef: ExtensionRef };

export type GRPCRouteFilterType = GRPCRouteFilter['type'];

export interface GRPCRouteRule {
  readonly name?: string;
  /** Any one must match (OR); empty matches every call. */
  readonly matches: readonly GRPCRouteMatch[];
  readonly filters: readonly GRPCRouteFilter[];
  readonly backendRefs: readonly BackendRef[];
}

export interface GRPCRouteSpec {
  readonly parentRefs: readonly ParentRef[];
  readonly hostnames: readonly string[];
  readonly rules: readonly GRPCRouteRule[];
}

const FILTER_FIELDS = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  ExtensionRef: 'extensionRef',
} as const satisfies Record<GRPCRouteFilterType, string>;

function checkMethodMatch(c: Checker, raw: unknown, path: string): GRPCMethodMatch | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['type', 'service', 'method']);
  const before = c.errors.length;
  const type = c.oneOf(obj.type, join(path, 'type'), STRING_MATCH_TYPES) ?? 'Exact';
  const sp = join(path, 'service');
  const mp = join(path, 'method');
  const service = c.string(obj.service, sp, { required: obj.service !== undefined, max: 1024 });
  const method = c.string(obj.method, mp, { required: obj.method !== undefined, max: 1024 });
  if (obj.service === undefined && obj.method === undefined) c.fail(path, 'must set service, method or both');
  if (type === 'Exact') {
    if (service !== undefined && !GRPC_SERVICE.test(service)) {
      c.fail(sp, `must be a proto service name such as "helloworld.Greeter" (letters, digits, _ and dots), got ${JSON.stringify(service)}`);
    }
    if (method !== undefined && !GRPC_METHOD.test(method)) {
      c.fail(mp, `must be a method name such as "SayHello" (letters, digits and _), got ${JSON.stringify(method)}`);
    }
  } else {
    if (service !== undefined) checkRegex(c, service, sp);
    if (method !== undefined) checkRegex(c, method, mp);
  }
  if (c.errors.length !== before) return undefined;
  return compact({ type, service, method });
}

function checkMatch(c: Checker, raw: unknown, path: string): GRPCRouteMatch | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['method', 'headers']);
  const method = obj.method === undefined ? undefined : checkMethodMatch(c, obj.method, join(path, 'method'));
  const headers = checkStringMatches(c, obj.headers, join(path, 'headers'), { caseInsensitiveNames: true, maxValue: 4096 });
  return compact({ method, headers });
}

function checkFilter(c: Checker, raw: unknown, path: string): GRPCRouteFilter | undefined {
  const env = checkFilterEnvelope(c, raw, path, FILTER_FIELDS);
  if (!env) return undefined;
  const cp = join(path, FILTER_FIELDS[env.type]);
  switch (env.type) {
    case 'RequestHeaderModifier': {
      const m = checkHeaderModifier(c, env.config, cp);
      return m && { type: env.type, requestHeaderModifier: m };
    }
    case 'ResponseHeaderModifier': {
      const m = checkHeaderModifier(c, env.config, cp);
      return m && { type: env.type, responseHeaderModifier: m };
    }
    case 'RequestMirror': {
      const m = checkRequestMirror(c, env.config, cp);
      return m && { type: env.type, requestMirror: m };
    }
    case 'ExtensionRef': {
      const r = checkExtensionRef(c, env.config, cp);
      return r && { type: env.type, extensionRef: r };
    }
  }
}

function checkRule(c: Checker, raw: unknown, path: string): GRPCRouteRule | undefined {
  const obj = c.object(raw, path);
  if (!obj) return undefined;
  c.noUnknown(obj, path, ['name', 'matches', 'filters', 'backendRefs']);
  const before = c.errors.length;
  const name = checkRuleName(c, obj.name, join(path, 'name'));

  const mp = join(path, 'matches');
  const matches: GRPCRouteMatch[] = [];
  (c.array(obj.matches, mp, { max: MAX_GRPC_MATCHES_PER_RULE }) ?? []).forEach((m, i) => {
    const match = checkMatch(c, m, join(mp, i));
    if (match) matches.push(match);
  });

  const fp = join(path, 'filters');
  const filters: GRPCRouteFilter[] = [];
  const firstOfType = new Map<GRPCRouteFilterType, number>();
  (c.array(obj.filters, fp, { max: MAX_FILTERS }) ?? []).forEach((f, i) => {
    const filter = checkFilter(c, f, join(fp, i));
    if (!filter) return;
    const first = firstOfType.get(filter.type);
    // Header modifiers may appear once per rule; RequestMirror may repeat.
    if (first !== undefined && filter.type !== 'RequestMirror') {
      c.fail(join(join(fp, i), 'type'), `${filter.type} may appear only once per rule (first at ${join(fp, first)})`);
    }
    if (first === undefined) firstOfType.set(filter.type, i);
    filters.push(filter);
  });

  const backendRefs = checkBackendRefs(c, obj.backendRefs, join(path, 'backendRefs'));
  if (c.errors.length !== before) return undefined;
  return compact({ name, matches, filters, backendRefs });
}

function validateSpec(raw: unknown, path: string): ValidationResult<GRPCRouteSpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['parentRefs', 'hostnames', 'rules']);
  const parentRefs = checkParentRefs(c, spec.parentRefs, join(path, 'parentRefs'));
  const hostnames = checkHostnames(c, spec.hostnames, join(path, 'hostnames'));

  const rp = join(path, 'rules');
  const rules: GRPCRouteRule[] = [];
  const names: (string | undefined)[] = [];
  let totalMatches = 0;
  (c.array(spec.rules, rp, { max: MAX_RULES }) ?? []).forEach((r, i) => {
    const rule = checkRule(c, r, join(rp, i));
    const obj = r as { name?: unknown; matches?: unknown } | null;
    names.push(typeof obj?.name === 'string' ? obj.name : undefined);
    totalMatches += Array.isArray(obj?.matches) ? obj.matches.length : 0;
    if (rule) rules.push(rule);
  });
  checkUniqueRuleNames(c, names, rp);
  if (totalMatches > MAX_TOTAL_MATCHES) c.fail(rp, `must have at most ${MAX_TOTAL_MATCHES} matches across all rules, got ${totalMatches}`);

  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { parentRefs, hostnames, rules } };
}

export const grpcRouteType: ResourceType<GRPCRouteSpec> = {
  kind: 'GRPCRoute',
  apiVersion: GATEWAY_API_VERSION,
  plural: 'grpcroutes',
  aliases: ['grpcroute'],
  namespaced: true,
  validateSpec,
};

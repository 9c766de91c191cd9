// Route attachment for the snapshot builder (Gateway API, mesh/GAMMA semantics): which HTTPRoutes and
// GRPCRoutes govern one proxy's calls to one Service, with every backendRef resolved to a Service of
// the snapshot or to the reason its share of requests gets 500. Pure: resources in, snapshot out.

import type { Resource } from '../../config/resource.ts';
import type { RouteBackendSnapshot, RouteRuleSnapshot, RouteSnapshot, SnapshotRouteFilter, TcpRouteSnapshot } from '../../config/snapshot-types.ts';
import type { TCPRouteSpec } from '../../config/kinds/tcp-route.ts';
import type { HTTPRouteFilter, HTTPRouteSpec } from '../../config/kinds/http-route.ts';
import type { GRPCRouteFilter, GRPCRouteSpec } from '../../config/kinds/grpc-route.ts';
import type { FaultInjectionSpec } from '../../config/kinds/fault-injection.ts';
import { compact, isServiceRef, type BackendRef, type ParentRef } from '../../config/kinds/route-common.ts';
import { grantsServiceReference, type ReferenceGrantSpec } from '../../config/kinds/reference-grant.ts';
import type { NodeScope } from './node-key.ts';

type RouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute';
type RouteSpec = HTTPRouteSpec | GRPCRouteSpec | TCPRouteSpec;

/** The Services a route can resolve against: `namespace/name` → its port numbers. */
export type ServicePorts = ReadonlyMap<string, readonly number[]>;

/** The routing resources of a build, sorted once: routes in the Gateway API's order, grants by namespace. */
export interface RoutingIndex {
  readonly routes: readonly Resource[];
  /** TCPRoutes, in the same order. */
  readonly tcpRoutes: readonly Resource[];
  /** FaultInjection specs by `namespace/name`, for ExtensionRef filters. */
  readonly faults: ReadonlyMap<string, FaultInjectionSpec>;
  readonly grants: readonly { namespace: string; spec: ReferenceGrantSpec }[];
}

/** Gateway API precedence across routes: the oldest first, then "{namespace}/{name}" alphabetically. */
function routeOrder(a: Resource, b: Resource): number {
  return (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`);
}

export function routingIndex(resources: readonly Resource[]): RoutingIndex {
  const routes = resources.filter((r) => r.kind === 'HTTPRoute' || r.kind === 'GRPCRoute').sort(routeOrder);
  const tcpRoutes = resources.filter((r) => r.kind === 'TCPRoute').sort(routeOrder);
  const grants = resources.filter((r) => r.kind === 'ReferenceGrant').map((r) => ({ namespace: r.metadata.namespace, spec: r.spec as ReferenceGrantSpec }));
  const faults = new Map(resources.filter((r) => r.kind === 'FaultInjection').map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, r.spec as FaultInjectionSpec]));
  return { routes, tcpRoutes, grants, faults };
}

/** An ExtensionRef filter replaced by the FaultInjection it names (in the route's namespace), or marked unresolved. */
function resolveFilter(filter: HTTPRouteFilter | GRPCRouteFilter, kind: RouteKind, namespace: string, index: RoutingIndex, services: ServicePorts): SnapshotRouteFilter {
  if (filter.type === 'RequestMirror') return { ...filter, backend: resolveBackend({ ...filter.requestMirror.backendRef, weight: 1 }, kind, namespace, index, services) };
  if (filter.type !== 'ExtensionRef') return filter;
  const ref = `${filter.extensionRef.kind}/${namespace}/${filter.extensionRef.name}`;
  const fault = filter.extensionRef.kind === 'FaultInjection' ? index.faults.get(`${namespace}/${filter.extensionRef.name}`) : undefined;
  return fault === undefined ? { type: 'UnresolvedExtensionRef', ref } : { type: 'FaultInjection', faultInjection: fault, ref };
}

/** The parentRefs of `route` that attach it to the Service `namespace/name` (mesh parentRefs: kind Service). */
export function parentRefsTo(route: Resource, name: string, namespace: string): ParentRef[] {
  const spec = route.spec as RouteSpec;
  return spec.parentRefs.filter((p) => p.kind === 'Service' && p.name === name && (p.namespace ?? route.metadata.namespace) === namespace);
}

/**
 * The routes that govern calls from a proxy in `scope.namespace` to the Service `namespace/name`
 * (GAMMA, GEP-1426): routes in the Service's namespace (producer routes) govern every client; routes
 * in the client's own namespace (consumer routes) govern only that namespace's clients, and once one
 * exists the producer routes no longer apply to them. A parentRef port the Service lacks attaches
 * nothing. Undefined when no route is attached.
 */
export function routesFor(name: string, namespace: string, scope: NodeScope, index: RoutingIndex, services: ServicePorts): RouteSnapshot[] | undefined {
  const { governing, attached } = governingRoutes(index.routes, name, namespace, scope, services);
  if (governing.length === 0) return undefined;
  const out: RouteSnapshot[] = [];
  for (const route of governing) {
    const rules = compileRules(route, index, services);
    for (const parent of attached(route)) {
      const snapshot: RouteSnapshot = { name: `${route.metadata.namespace}/${route.metadata.name}`, kind: route.kind as RouteSnapshot['kind'], rules };
      out.push(parent.port === undefined ? snapshot : { ...snapshot, port: parent.port });
    }
  }
  return out;
}

/** GAMMA attachment shared by every route kind: consumer routes of the client's namespace, else producer routes. */
function governingRoutes(routes: readonly Resource[], name: string, namespace: string, scope: NodeScope, services: ServicePorts): { governing: Resource[]; attached: (route: Resource) => ParentRef[] } {
  const ports = services.get(`${namespace}/${name}`) ?? [];
  const attached = (route: Resource): ParentRef[] => parentRefsTo(route, name, namespace).filter((p) => p.port === undefined || ports.includes(p.port));
  const consumer = scope.namespace !== namespace ? routes.filter((r) => r.metadata.namespace === scope.namespace && attached(r).length > 0) : [];
  const governing = consumer.length > 0 ? consumer : routes.filter((r) => r.metadata.namespace === namespace && attached(r).length > 0);
  return { governing, attached };
}

/**
 * The TCPRoutes that govern a proxy's TCP connections to the Service `namespace/name`, with the same
 * GAMMA attachment as routesFor; each carries its first rule's backends, resolved. A connection has
 * nothing to match on, so for one port the oldest route in force wins (the proxy takes the first
 * entry for the port). Undefined when none is attached.
 */
export function tcpRoutesFor(name: string, namespace: string, scope: NodeScope, index: RoutingIndex, services: ServicePorts): TcpRouteSnapshot[] | undefined {
  const { governing, attached } = governingRoutes(index.tcpRoutes, name, namespace, scope, services);
  if (governing.length === 0) return undefined;
  const out: TcpRouteSnapshot[] = [];
  for (const route of governing) {
    const rule = (route.spec as TCPRouteSpec).rules[0];
    if (!rule) continue;
    const backends = rule.backendRefs.map((ref) => resolveBackend(ref, 'TCPRoute', route.metadata.namespace, index, services));
    for (const parent of attached(route)) {
      const snapshot: TcpRouteSnapshot = { name: `${route.metadata.namespace}/${route.metadata.name}`, rule: rule.name ?? '0', backends };
      out.push(parent.port === undefined ? snapshot : { ...snapshot, port: parent.port });
    }
  }
  return out.length ? out : undefined;
}

/** The Services TCPRoutes send connections to: a proxy needs them even outside its upstream list. */
export function tcpRouteTargets(routes: readonly TcpRouteSnapshot[]): Set<string> {
  const out = new Set<string>();
  for (const route of routes) for (const b of route.backends) if (b.service) out.add(`${b.service.namespace}/${b.service.name}`);
  return out;
}

function compileRules(route: Resource, index: RoutingIndex, services: ServicePorts): RouteRuleSnapshot[] {
  const kind = route.kind as RouteKind;
  const spec = route.spec as HTTPRouteSpec | GRPCRouteSpec;
  return spec.rules.map((rule, i) => {
    const backends = rule.backendRefs.map((ref) => resolveBackend(ref, kind, route.metadata.namespace, index, services));
    const base = { name: rule.name ?? String(i), filters: rule.filters.map((f) => resolveFilter(f, kind, route.metadata.namespace, index, services)), backends };
    if (kind === 'GRPCRoute') return { ...base, grpcMatches: (rule as GRPCRouteSpec['rules'][number]).matches };
    const httpRule = rule as HTTPRouteSpec['rules'][number];
    const out: RouteRuleSnapshot = { ...base, matches: httpRule.matches };
    return httpRule.timeouts || httpRule.retry ? compact({ ...out, timeouts: httpRule.timeouts, retry: httpRule.retry }) : out;
  });
}

/**
 * One backendRef (Gateway API BackendObjectReference) resolved: a core Service that exists, in the
 * route's namespace or one whose ReferenceGrant allows it; otherwise the ResolvedRefs reason.
 */
export function resolveBackend(ref: BackendRef, routeKind: RouteKind, routeNamespace: string, index: RoutingIndex, services: ServicePorts): RouteBackendSnapshot {
  const namespace = ref.namespace ?? routeNamespace;
  const written = `${ref.group ? `${ref.group}/` : ''}${ref.kind}/${namespace}/${ref.name}${ref.port ? `:${ref.port}` : ''}`;
  if (!isServiceRef(ref)) return { weight: ref.weight, ref: written, unresolved: 'InvalidKind' };
  if (namespace !== routeNamespace && !grantsServiceReference(index.grants, routeKind, routeNamespace, namespace, ref.name)) {
    return { weight: ref.weight, ref: written, unresolved: 'RefNotPermitted' };
  }
  const ports = services.get(`${namespace}/${ref.name}`);
  if (ports === undefined || (ref.port !== undefined && !ports.includes(ref.port))) return { weight: ref.weight, ref: written, unresolved: 'BackendNotFound' };
  const service = ref.port === undefined ? { name: ref.name, namespace } : { name: ref.name, namespace, port: ref.port };
  return { weight: ref.weight, ref: written, service };
}

/** The Services that routes send traffic to (backends and mirrors): a proxy needs them even outside its upstream list. */
export function routeTargets(routes: readonly RouteSnapshot[]): Set<string> {
  const out = new Set<string>();
  for (const route of routes) {
    for (const rule of route.rules) {
      for (const b of rule.backends) if (b.service) out.add(`${b.service.namespace}/${b.service.name}`);
      for (const f of rule.filters) if (f.type === 'RequestMirror' && f.backend.service) out.add(`${f.backend.service.namespace}/${f.backend.service.name}`);
    }
  }
  return out;
}

/** A Gateway API Condition as route status reports it. */
export interface RouteCondition {
  readonly type: 'Accepted' | 'ResolvedRefs';
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

/** Gateway API RouteStatus: one entry per parentRef, written by weft's mesh controller. */
export interface RouteStatus {
  readonly parents: readonly { readonly parentRef: ParentRef; readonly controllerName: string; readonly conditions: readonly RouteCondition[] }[];
}

export const CONTROLLER_NAME = 'weft.dev/mesh';

/**
 * The status of one HTTPRoute, GRPCRoute or TCPRoute, computed from what is stored now (the Gateway API's
 * conditions and reasons): per parentRef, Accepted (the Service and port exist: else
 * NoMatchingParent) and ResolvedRefs (every backendRef and mirror resolves: else the first
 * failure's reason, InvalidKind, RefNotPermitted or BackendNotFound, and ExtensionRef filters that
 * name nothing as BackendNotFound too).
 */
export function routeStatus(route: Resource, index: RoutingIndex, services: ServicePorts): RouteStatus {
  const kind = route.kind as RouteKind;
  const spec = route.spec as RouteSpec;
  const ns = route.metadata.namespace;
  const problems: string[] = [];
  let reason = 'ResolvedRefs';
  for (const [i, rule] of spec.rules.entries()) {
    const refs: { ref: BackendRef; where: string }[] = rule.backendRefs.map((ref, j) => ({ ref, where: `rules[${i}].backendRefs[${j}]` }));
    const filters = 'filters' in rule ? (rule.filters as readonly (HTTPRouteFilter | GRPCRouteFilter)[]) : [];
    filters.forEach((f, j) => {
      if (f.type === 'RequestMirror') refs.push({ ref: { ...f.requestMirror.backendRef, weight: 1 }, where: `rules[${i}].filters[${j}].requestMirror.backendRef` });
      if (f.type === 'ExtensionRef' && resolveFilter(f, kind, ns, index, services).type === 'UnresolvedExtensionRef') {
        if (reason === 'ResolvedRefs') reason = 'BackendNotFound';
        problems.push(`rules[${i}].filters[${j}]: ${f.extensionRef.kind} ${ns}/${f.extensionRef.name} not found`);
      }
    });
    for (const { ref, where } of refs) {
      const resolved = resolveBackend(ref, kind, ns, index, services);
      if (resolved.unresolved === undefined) continue;
      if (reason === 'ResolvedRefs') reason = resolved.unresolved;
      problems.push(`${where}: ${resolved.ref}: ${resolved.unresolved}`);
    }
  }
  const resolvedRefs: RouteCondition = problems.length === 0
    ? { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'every reference resolves' }
    : { type: 'ResolvedRefs', status: 'False', reason, message: problems.join('; ') };
  return {
    parents: spec.parentRefs.map((parentRef) => {
      const target = `${parentRef.namespace ?? ns}/${parentRef.name}`;
      const ports = services.get(target);
      const accepted: RouteCondition =
        ports === undefined
          ? { type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: `Service ${target} does not exist` }
          : parentRef.port !== undefined && !ports.includes(parentRef.port)
            ? { type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: `Service ${target} has no port ${parentRef.port}` }
            : { type: 'Accepted', status: 'True', reason: 'Accepted', message: `attached to Service ${target}${parentRef.port !== undefined ? ` port ${parentRef.port}` : ''}` };
      return { parentRef, controllerName: CONTROLLER_NAME, conditions: [accepted, resolvedRefs] };
    }),
  };
}

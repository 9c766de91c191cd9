// The snapshot builder: a pure function from stored resources, catalog instances and a node's scope
// to the services that proxy needs (ports, endpoints, the BackendPolicy in force, the authorization
// and request-authentication policies its sidecars enforce). No I/O, no clock. Only instances that
// prove their own service's identity receive mesh traffic (see endpointFor).

import type { InstanceState } from '../../config/catalog-types.ts';
import type { Resource } from '../../config/resource.ts';
import type { EndpointSnapshot, MtlsMode, ServicePortSnapshot, ServiceSnapshot } from '../../config/snapshot-types.ts';
import { DEFAULT_BACKEND_POLICY, completeTimeouts, type BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import type { ServiceSpec } from '../../config/kinds/service.ts';
import type { MeshConfigSpec } from '../../config/kinds/mesh-config.ts';
import type { ObservabilitySnapshot } from '../../config/kinds/mesh-config-observability.ts';
import type { AuthorizationPolicySpec } from '../../config/kinds/authorization-policy.ts';
import type { RequestAuthenticationSpec } from '../../config/kinds/request-authentication.ts';
import type { RateLimitPolicySpec } from '../../config/kinds/rate-limit-policy.ts';
import { compareServices } from '../../config/service-order.ts';
import { snapshotHash } from '../../config/snapshot-hash.ts';
import { DEFAULT_TRUST_DOMAIN, spiffeId } from '../../config/identity.ts';
import type { NodeScope } from './node-key.ts';
import { routesFor, routeTargets, routingIndex, tcpRoutesFor, tcpRouteTargets } from './routes.ts';
import type { RouteSnapshot, TcpRouteSnapshot } from '../../config/snapshot-types.ts';

export interface BuildInput {
  readonly resources: readonly Resource[];
  readonly instances: readonly InstanceState[];
  /** The mesh's SPIFFE trust domain (default weft.local): an endpoint's identity must be in it. */
  readonly trustDomain?: string;
}

export interface SnapshotContent {
  readonly hash: string;
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  readonly mtlsMode: MtlsMode;
  readonly services: readonly ServiceSnapshot[];
  /** MeshConfig accessLog and tracing, for every proxy alike; absent when neither is set. */
  readonly observability?: ObservabilitySnapshot;
}

export interface ServiceModel {
  readonly name: string;
  readonly namespace: string;
  readonly ports: readonly { name: string; port: number; protocol: ServicePortSnapshot['protocol']; targetPort: number | string }[];
  readonly members: readonly InstanceState[];
}

/** All services of the mesh, declared (Service resources) and implicit (registered instances). */
export function serviceModels(input: BuildInput): ServiceModel[] {
  const byService = new Map<string, InstanceState[]>();
  for (const inst of input.instances) {
    const key = `${inst.namespace}/${inst.service}`;
    let list = byService.get(key);
    if (!list) byService.set(key, (list = []));
    list.push(inst);
  }
  const models = new Map<string, ServiceModel>();
  for (const [key, members] of byService) {
    const ports = new Map<number, ServiceModel['ports'][number]>();
    for (const m of members) {
      for (const p of m.ports) {
        if (!ports.has(p.port)) ports.set(p.port, { name: p.name ?? `port-${p.port}`, port: p.port, protocol: p.protocol ?? 'http', targetPort: p.port });
      }
    }
    models.set(key, { name: members[0].service, namespace: members[0].namespace, ports: [...ports.values()], members });
  }
  for (const r of input.resources) {
    if (r.kind !== 'Service') continue;
    const spec = r.spec as ServiceSpec;
    const { name, namespace } = r.metadata;
    const selector = spec.selector;
    const members = selector
      ? input.instances.filter((i) => i.namespace === namespace && Object.entries(selector).every(([k, v]) => i.labels[k] === v))
      : byService.get(`${namespace}/${name}`) ?? [];
    const ports = spec.ports.map((p) => ({ name: p.name ?? `port-${p.port}`, port: p.port, protocol: p.appProtocol ?? 'http', targetPort: p.targetPort ?? p.port }));
    models.set(`${namespace}/${name}`, { name, namespace, ports, members });
  }
  return [...models.values()].sort(compareServices);
}

/** Where an instance serves a service port: by target port number or name, else its only port. */
export function endpointPort(inst: InstanceState, targetPort: number | string): number | undefined {
  const match = inst.ports.find((p) => (typeof targetPort === 'number' ? p.port === targetPort : p.name === targetPort));
  if (match) return match.targetPort;
  return inst.ports.length === 1 ? inst.ports[0].targetPort : undefined;
}

function policyFor(model: ServiceModel, resources: readonly Resource[], meshDefault: BackendPolicySpec): BackendPolicySpec {
  // Oldest policy wins on conflict, then by name, as Gateway API policy attachment prescribes.
  const candidates = resources
    .filter((r) => r.kind === 'BackendPolicy' && r.metadata.namespace === model.namespace)
    .filter((r) => (r.spec as BackendPolicySpec).targetRefs.some((t) => t.name === model.name))
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
  return candidates.length ? withAllTimeouts(candidates[0].spec as BackendPolicySpec) : meshDefault;
}

/** A policy stored before a timeout field existed gets that field's default (the same object when it lacks none). */
function withAllTimeouts(policy: BackendPolicySpec): BackendPolicySpec {
  const timeouts = completeTimeouts(policy.timeouts);
  return timeouts === policy.timeouts ? policy : { ...policy, timeouts };
}

/** Resources of `kind` in the service's namespace whose targetRefs name it, oldest first (then by name). */
function targeting(model: ServiceModel, resources: readonly Resource[], kind: string): Resource[] {
  return resources
    .filter((r) => r.kind === kind && r.metadata.namespace === model.namespace)
    .filter((r) => (r.spec as { targetRefs: readonly { name: string }[] }).targetRefs.some((t) => t.name === model.name))
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
}

/** The AuthorizationPolicies that target the service, oldest first (then by name). */
function authorizationFor(model: ServiceModel, resources: readonly Resource[]): ServiceSnapshot['authorization'] {
  const policies = targeting(model, resources, 'AuthorizationPolicy').map((r) => {
    const spec = r.spec as AuthorizationPolicySpec;
    return { name: `${r.metadata.namespace}/${r.metadata.name}`, action: spec.action, rules: spec.rules };
  });
  return policies.length ? policies : undefined;
}

/** The RequestAuthentications that target the service, oldest first (then by name). */
function requestAuthenticationFor(model: ServiceModel, resources: readonly Resource[]): ServiceSnapshot['requestAuthentication'] {
  const list = targeting(model, resources, 'RequestAuthentication').map((r) => ({ name: `${r.metadata.namespace}/${r.metadata.name}`, jwtRules: (r.spec as RequestAuthenticationSpec).jwtRules }));
  return list.length ? list : undefined;
}

/**
 * The RateLimitPolicies for the service, oldest first (then by name), without their targetRefs:
 * those targeting it, then those targeting one of the routes this proxy applies to it (marked with
 * the route's name).
 */
function rateLimitsFor(model: ServiceModel, resources: readonly Resource[], routes: readonly RouteSnapshot[] | undefined): ServiceSnapshot['rateLimits'] {
  const policies = resources
    .filter((r) => r.kind === 'RateLimitPolicy')
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
  if (policies.length === 0) return undefined;
  const limits = (r: Resource) => {
    const { targetRefs: _, ...rest } = r.spec as RateLimitPolicySpec;
    return { name: `${r.metadata.namespace}/${r.metadata.name}`, ...rest };
  };
  const list: NonNullable<ServiceSnapshot['rateLimits']>[number][] = policies
    .filter((r) => r.metadata.namespace === model.namespace && (r.spec as RateLimitPolicySpec).targetRefs.some((t) => t.kind === 'Service' && t.name === model.name))
    .map(limits);
  for (const route of routes ?? []) {
    const [ns, name] = route.name.split('/');
    for (const r of policies) {
      if (r.metadata.namespace === ns && (r.spec as RateLimitPolicySpec).targetRefs.some((t) => t.kind === route.kind && t.name === name)) list.push({ ...limits(r), route: route.name });
    }
  }
  return list.length ? list : undefined;
}

function meshConfig(resources: readonly Resource[]): MeshConfigSpec | undefined {
  return resources.find((r) => r.kind === 'MeshConfig')?.spec as MeshConfigSpec | undefined;
}

function meshDefaultPolicy(resources: readonly Resource[]): BackendPolicySpec {
  const override = meshConfig(resources)?.defaultBackendPolicy;
  return override ? withAllTimeouts({ ...DEFAULT_BACKEND_POLICY, ...override, targetRefs: [] }) : DEFAULT_BACKEND_POLICY;
}

function inScope(model: ServiceModel, scope: NodeScope): boolean {
  if (scope.upstreams.length === 0) return true;
  if (model.name === scope.service && model.namespace === scope.namespace) return true;
  return scope.upstreams.some((u) => {
    const [name, ns] = u.split('.');
    return name === model.name && (ns ?? scope.namespace) === model.namespace;
  });
}

/**
 * The endpoint a client sidecar gets for an instance, or undefined when it must get none. The
 * identity a client checks in mutual TLS is derived from the instance's service and the mesh's trust
 * domain, never copied from what was registered: an instance that registered any other identity gets
 * no traffic (unless mTLS is DISABLEd), and one with none (no sidecar) gets plaintext traffic under
 * PERMISSIVE only. An identity is what makes the calling sidecar start mutual TLS: none under DISABLE.
 */
function endpointFor(inst: InstanceState, port: number, mtlsMode: MtlsMode, trustDomain: string): EndpointSnapshot | undefined {
  const endpoint: EndpointSnapshot = { id: inst.id, address: inst.address, port, weight: inst.weight, health: inst.health, labels: inst.labels };
  if (mtlsMode === 'DISABLE') return endpoint;
  if (inst.identity === undefined) return mtlsMode === 'STRICT' ? undefined : endpoint;
  const identity = spiffeId({ trustDomain, namespace: inst.namespace, service: inst.service });
  return inst.identity === identity ? { ...endpoint, identity } : undefined;
}

export function buildSnapshotContent(input: BuildInput, scope: NodeScope, models = serviceModels(input)): SnapshotContent {
  const meshDefault = meshDefaultPolicy(input.resources);
  const mesh = meshConfig(input.resources);
  const mtlsMode = mesh?.mtls.mode ?? 'PERMISSIVE';
  // A MeshConfig stored before `authorization` existed has none: ALLOW.
  const defaultDeny = mesh?.authorization?.defaultAction === 'DENY';
  // Routes attached to the services in scope, and the services they send traffic to: a backend
  // is needed even when the proxy's upstream list does not name it.
  const index = routingIndex(input.resources);
  const servicePorts = new Map(models.map((m) => [`${m.namespace}/${m.name}`, m.ports.map((p) => p.port)]));
  const needed = new Set<string>();
  const routesByService = new Map<string, RouteSnapshot[]>();
  const tcpRoutesByService = new Map<string, TcpRouteSnapshot[]>();
  for (const model of models) {
    if (!inScope(model, scope)) continue;
    const key = `${model.namespace}/${model.name}`;
    needed.add(key);
    const tcpRoutes = index.tcpRoutes.length ? tcpRoutesFor(model.name, model.namespace, scope, index, servicePorts) : undefined;
    if (tcpRoutes) {
      tcpRoutesByService.set(key, tcpRoutes);
      for (const target of tcpRouteTargets(tcpRoutes)) needed.add(target);
    }
    const routes = index.routes.length ? routesFor(model.name, model.namespace, scope, index, servicePorts) : undefined;
    if (!routes) continue;
    routesByService.set(key, routes);
    for (const target of routeTargets(routes)) needed.add(target);
  }
  const services: ServiceSnapshot[] = [];
  for (const model of models) {
    const key = `${model.namespace}/${model.name}`;
    if (!needed.has(key)) continue;
    const ports: ServicePortSnapshot[] = model.ports.map((p) => {
      const endpoints: EndpointSnapshot[] = [];
      for (const inst of model.members) {
        const port = endpointPort(inst, p.targetPort);
        if (port === undefined) continue;
        const endpoint = endpointFor(inst, port, mtlsMode, input.trustDomain ?? DEFAULT_TRUST_DOMAIN);
        if (endpoint) endpoints.push(endpoint);
      }
      endpoints.sort((a, b) => a.id.localeCompare(b.id));
      return { name: p.name, port: p.port, protocol: p.protocol, endpoints };
    });
    const authorization = authorizationFor(model, input.resources);
    const requestAuthentication = requestAuthenticationFor(model, input.resources);
    const routes = routesByService.get(key);
    const rateLimits = rateLimitsFor(model, input.resources, routes);
    const tcpRoutes = tcpRoutesByService.get(key);
    services.push({
      name: model.name,
      namespace: model.namespace,
      ports,
      policy: policyFor(model, input.resources, meshDefault),
      ...(authorization && { authorization }),
      ...(defaultDeny && { authorizationDefault: 'DENY' as const }),
      ...(requestAuthentication && { requestAuthentication }),
      ...(rateLimits && { rateLimits }),
      ...(routes && { routes }),
      ...(tcpRoutes && { tcpRoutes }),
    });
  }
  const outboundTrafficPolicy = mesh?.outboundTrafficPolicy.mode ?? 'ALLOW_ANY';
  const observability = mesh?.accessLog || mesh?.tracing ? { ...(mesh.accessLog && { accessLog: mesh.accessLog }), ...(mesh.tracing && { tracing: mesh.tracing }) } : undefined;
  return { hash: snapshotHash(outboundTrafficPolicy, services, mtlsMode, observability), outboundTrafficPolicy, mtlsMode, services, ...(observability && { observability }) };
}

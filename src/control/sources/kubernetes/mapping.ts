// Kubernetes → weft, the pure part: a Service becomes a weft Service resource, the endpoints of its
// EndpointSlices become catalog instances (with health from their conditions), Gateway API routes
// are kept as they are. No I/O: kubernetes-source.ts feeds it what its informers hold.

import type { V1EndpointConditions, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import type { HealthStatus, InstancePort, InstanceRegistration, ServiceProtocol } from '../../../config/catalog-types.ts';
import type { Resource } from '../../../config/resource.ts';
import { spiffeId } from '../../../config/identity.ts';
import { ZONE_LABEL } from '../../../config/kinds/backend-policy-locality.ts';
import { validateResource } from '../../../config/validate-resource.ts';

/** The label the EndpointSlice controller puts on every slice of a Service (discovery.k8s.io/v1). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The well-known node label, copied from an endpoint's `nodeName`. */
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
/** On resources the source wrote: it owns them (updates and deletes them; never touches others). */
export const SOURCE_ANNOTATION = 'weft.dev/source';
export const SOURCE_KUBERNETES = 'kubernetes';
/**
 * On a Kubernetes Service: `"true"` says every endpoint of it is a weft sidecar's inbound port, so
 * its instances get the service's SPIFFE identity and client sidecars call them in mutual TLS.
 */
export const SIDECAR_ANNOTATION = 'weft.dev/sidecar';

const INSTANCE_ID = /^[A-Za-z0-9][-A-Za-z0-9_.:]{0,127}$/;

/** An instance as the source wants it in the catalog. */
export interface SourcedInstance {
  readonly registration: InstanceRegistration & { readonly source: 'kubernetes' };
  readonly health: HealthStatus;
  readonly reason: string;
}

/**
 * weft's protocol for a Kubernetes port: its `appProtocol` first (IANA names and the KEP-3726
 * `kubernetes.io/h2c` / `kubernetes.io/ws` values), else the port name's Istio-style prefix
 * (`grpc-…`, `http2-…`, `tcp-…`); undefined leaves weft's default (http). An appProtocol weft does
 * not speak (e.g. `mysql`) is carried as opaque TCP.
 */
export function protocolOf(appProtocol: string | undefined | null, name: string | undefined | null): ServiceProtocol | undefined {
  if (appProtocol) {
    const a = appProtocol.toLowerCase();
    if (a === 'http' || a === 'kubernetes.io/ws' || a === 'http1' || a === 'http/1.1') return 'http';
    if (a === 'kubernetes.io/h2c' || a === 'h2c' || a === 'http2') return 'http2';
    if (a === 'grpc') return 'grpc';
    return 'tcp';
  }
  const prefix = (name ?? '').toLowerCase().split('-')[0];
  if (prefix === 'http' || prefix === 'http2' || prefix === 'grpc' || prefix === 'tcp') return prefix;
  if (prefix === 'h2c') return 'http2';
  return undefined;
}

/**
 * Health of an endpoint from its conditions (discovery.k8s.io/v1 EndpointConditions). `ready` unset
 * counts as ready, as the API says. Not ready means critical: a pod failing its readiness probe, or
 * one terminating (`serving` tells whether it still answers). Clients' sidecars then leave it out, as
 * kube-proxy does; weft does not use terminating endpoints as kube-proxy's last resort.
 */
export function endpointHealth(conditions: V1EndpointConditions | undefined | null): { health: HealthStatus; reason: string } {
  if (conditions?.ready !== false) return { health: 'passing', reason: 'kubernetes: ready' };
  if (conditions.terminating === true) {
    return { health: 'critical', reason: conditions.serving === true ? 'kubernetes: terminating (still serving)' : 'kubernetes: terminating' };
  }
  return { health: 'critical', reason: 'kubernetes: not ready' };
}

/** A stable instance id: `POD:ADDRESS` (or the address alone), hashed when longer than ids may be. */
export function instanceId(podName: string | undefined, address: string): string {
  const id = podName ? `${podName}:${address}` : address;
  if (INSTANCE_ID.test(id)) return id;
  return `k8s-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

/** True for ports weft can carry: TCP (the default when `protocol` is unset). */
function isTcp(protocol: string | undefined | null): boolean {
  return protocol === undefined || protocol === null || protocol === 'TCP';
}

/**
 * The weft Service resource for a Kubernetes Service, or why there is none. Its ports keep the
 * Kubernetes names and numbers; `targetPort` is the service port itself because the instances
 * mapped from EndpointSlices are keyed by service port (their targetPort is the pod's port).
 * No selector: members are the instances mirrored from its slices. ExternalName Services and
 * Services without a TCP port are skipped.
 */
export function serviceResource(svc: V1Service): { ok: true; resource: Resource } | { ok: false; reason: string } {
  const name = svc.metadata?.name ?? '';
  const namespace = svc.metadata?.namespace ?? 'default';
  if (svc.spec?.type === 'ExternalName') return { ok: false, reason: 'ExternalName Services have no endpoints to balance over' };
  const ports = (svc.spec?.ports ?? []).filter((p) => isTcp(p.protocol)).map((p) => {
    const appProtocol = protocolOf(p.appProtocol, p.name);
    return { ...(p.name ? { name: p.name } : {}), port: p.port, targetPort: p.port, ...(appProtocol ? { appProtocol } : {}) };
  });
  if (ports.length === 0) return { ok: false, reason: 'no TCP port' };
  const raw = {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Service',
    metadata: { name, namespace, annotations: { [SOURCE_ANNOTATION]: SOURCE_KUBERNETES } },
    spec: { ports },
  };
  const checked = validateResource(raw);
  if (!checked.ok) return { ok: false, reason: checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
  return { ok: true, resource: checked.value };
}

/**
 * A Gateway API HTTPRoute or GRPCRoute from the cluster as a weft resource: the same document,
 * owned by the source, validated by weft's own validator (an invalid one is skipped with why).
 */
export function routeResource(obj: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }; spec?: unknown }): { ok: true; resource: Resource } | { ok: false; reason: string } {
  const raw = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name: obj.metadata?.name, namespace: obj.metadata?.namespace, ...(obj.metadata?.labels ? { labels: obj.metadata.labels } : {}), annotations: { [SOURCE_ANNOTATION]: SOURCE_KUBERNETES } },
    spec: obj.spec,
  };
  const checked = validateResource(raw);
  if (!checked.ok) return { ok: false, reason: checked.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
  return { ok: true, resource: checked.value };
}

/**
 * The catalog instances of one Service: every endpoint of every slice labelled with its name, by
 * the endpoint's first address (the API says addresses are fungible). Ports are the slice's TCP
 * ports, each matched to the Service port of the same name (the pod port becomes targetPort); with
 * the Service not seen yet, the pod port stands for both. An endpoint listed twice (slices overlap
 * while the controller moves it) keeps its healthiest entry. Labels: `app`, the endpoint's zone as
 * topology.kubernetes.io/zone and its node as kubernetes.io/hostname.
 */
export function instancesFor(namespace: string, serviceName: string, svc: V1Service | undefined, slices: readonly V1EndpointSlice[], trustDomain: string): SourcedInstance[] {
  const byId = new Map<string, SourcedInstance>();
  const meshed = svc?.metadata?.annotations?.[SIDECAR_ANNOTATION] === 'true';
  const identity = meshed ? spiffeId({ trustDomain, namespace, service: serviceName }) : undefined;
  for (const slice of slices) {
    const ports: InstancePort[] = [];
    for (const sp of slice.ports ?? []) {
      // A nil port means "all ports" (selectorless Services): nothing weft can address.
      if (sp.port === undefined || sp.port === null || !isTcp(sp.protocol)) continue;
      const svcPort = svc?.spec?.ports?.find((p) => (p.name ?? '') === (sp.name ?? '') && isTcp(p.protocol));
      if (svc && !svcPort) continue;
      const protocol = protocolOf(sp.appProtocol ?? svcPort?.appProtocol, sp.name);
      ports.push({ port: svcPort?.port ?? sp.port, targetPort: sp.port, ...(sp.name ? { name: sp.name } : {}), ...(protocol ? { protocol } : {}) });
    }
    if (ports.length === 0) continue;
    for (const ep of slice.endpoints ?? []) {
      const address = ep.addresses?.[0];
      if (!address) continue;
      const podName = ep.targetRef?.kind === 'Pod' ? ep.targetRef.name : undefined;
      const id = instanceId(podName, address);
      const labels: Record<string, string> = { app: serviceName };
      if (ep.zone) labels[ZONE_LABEL] = ep.zone;
      if (ep.nodeName) labels[HOSTNAME_LABEL] = ep.nodeName;
      const { health, reason } = endpointHealth(ep.conditions);
      const previous = byId.get(id);
      if (previous && (previous.health === 'passing' || health !== 'passing')) continue;
      byId.set(id, {
        registration: {
          service: serviceName, namespace, id, address, ports, labels,
          weight: 1, ttlSeconds: 0, deregisterAfterSeconds: 0, checks: [],
          ...(identity ? { identity } : {}),
          source: 'kubernetes',
        },
        health,
        reason,
      });
    }
  }
  return [...byId.values()].sort((a, b) => a.registration.id.localeCompare(b.registration.id));
}

// Service (weft.dev/v1alpha1, or a Kubernetes `v1` Service manifest as written for a cluster):
// declares a service's ports and protocols, and optionally which registered instances belong to it
// (selector). Routes and policies attach to Services by name.

import type { ServiceProtocol } from '../catalog-types.ts';
import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from '../validate.ts';

export const SERVICE_PROTOCOLS: readonly ServiceProtocol[] = ['http', 'http2', 'grpc', 'tcp'];

/**
 * Kubernetes appProtocol values (KEP-3726 and the IANA names) and what they mean here: HTTP/2 over
 * cleartext is `kubernetes.io/h2c`, WebSocket rides on HTTP/1.1.
 */
const KUBERNETES_APP_PROTOCOLS: Readonly<Record<string, ServiceProtocol>> = { 'kubernetes.io/h2c': 'http2', 'kubernetes.io/ws': 'http' };

/** Kubernetes Service fields a mesh has no use for: accepted so a cluster's manifest applies unchanged, then ignored. */
const KUBERNETES_IGNORED_FIELDS = ['type', 'clusterIP', 'clusterIPs', 'sessionAffinity', 'sessionAffinityConfig', 'ipFamilies', 'ipFamilyPolicy', 'internalTrafficPolicy', 'externalTrafficPolicy', 'publishNotReadyAddresses', 'loadBalancerSourceRanges', 'allocateLoadBalancerNodePorts', 'healthCheckNodePort', 'loadBalancerClass', 'trafficDistribution'];

export interface ServicePort {
  /** A DNS label, unique in the service. */
  readonly name?: string;
  /** The port clients address, unique in the service. */
  readonly port: number;
  /** The instance port it maps to: a number, or the name of an instance port. Defaults to `port`. */
  readonly targetPort: number | string;
  readonly appProtocol: ServiceProtocol;
}

export interface ServiceSpec {
  /** Instances whose labels contain all these pairs; absent means instances registered under the Service's name. */
  readonly selector?: Readonly<Record<string, string>>;
  readonly ports: readonly ServicePort[];
}

function appProtocolOf(c: Checker, raw: unknown, path: string): ServiceProtocol {
  if (typeof raw === 'string' && Object.hasOwn(KUBERNETES_APP_PROTOCOLS, raw)) return KUBERNETES_APP_PROTOCOLS[raw];
  const known = [...SERVICE_PROTOCOLS, ...Object.keys(KUBERNETES_APP_PROTOCOLS)];
  if (raw !== undefined && (typeof raw !== 'string' || !known.includes(raw))) {
    c.fail(path, `must be one of ${known.join(', ')}, got ${JSON.stringify(raw)}`);
    return 'http';
  }
  return (raw as ServiceProtocol | undefined) ?? 'http';
}

function validateSpec(raw: unknown, path: string): ValidationResult<ServiceSpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['selector', 'ports', ...KUBERNETES_IGNORED_FIELDS]);
  // An ExternalName Service is a DNS alias, not a set of endpoints: nothing a mesh could balance over.
  if (spec.type === 'ExternalName') c.fail(join(path, 'type'), 'ExternalName Services are not supported (weft balances over registered instances)');

  const selector = c.stringMap(spec.selector, join(path, 'selector'));

  const ports: ServicePort[] = [];
  const portsPath = join(path, 'ports');
  const firstByNumber = new Map<number, number>();
  const firstByName = new Map<string, number>();
  const list = c.array(spec.ports, portsPath, { required: true, min: 1 }) ?? [];
  list.forEach((item, i) => {
    const p = join(portsPath, i);
    const obj = c.object(item, p);
    if (!obj) return;
    c.noUnknown(obj, p, ['name', 'port', 'targetPort', 'appProtocol', 'protocol', 'nodePort']);
    const name = c.string(obj.name, join(p, 'name'), { required: obj.name !== undefined, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    const port = c.integer(obj.port, join(p, 'port'), { required: true, min: 1, max: 65535 });
    // Kubernetes' transport protocol: sidecars carry TCP only.
    c.oneOf(obj.protocol, join(p, 'protocol'), ['TCP']);
    const appProtocol = appProtocolOf(c, obj.appProtocol, join(p, 'appProtocol'));

    let targetPort: number | string | undefined = port;
    const tp = join(p, 'targetPort');
    if (typeof obj.targetPort === 'string') {
      targetPort = c.string(obj.targetPort, tp, { required: true, pattern: DNS_LABEL, patternHint: `a port number or ${DNS_LABEL_HINT}` });
    } else if (obj.targetPort !== undefined) {
      if (typeof obj.targetPort !== 'number') c.fail(tp, 'must be a port number or a port name');
      else targetPort = c.integer(obj.targetPort, tp, { min: 1, max: 65535 });
    }

    if (port !== undefined) {
      const first = firstByNumber.get(port);
      if (first !== undefined) c.fail(join(p, 'port'), `duplicates ${join(portsPath, first)}.port (${port})`);
      else firstByNumber.set(port, i);
    }
    if (name !== undefined) {
      const first = firstByName.get(name);
      if (first !== undefined) c.fail(join(p, 'name'), `duplicates ${join(portsPath, first)}.name (${JSON.stringify(name)})`);
      else firstByName.set(name, i);
    }
    if (port === undefined || targetPort === undefined) return;
    ports.push(name === undefined ? { port, targetPort, appProtocol } : { name, port, targetPort, appProtocol });
  });

  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: selector === undefined ? { ports } : { selector, ports } };
}

export const serviceType: ResourceType<ServiceSpec> = {
  kind: 'Service',
  apiVersion: 'weft.dev/v1alpha1',
  // A Kubernetes Service manifest (`apiVersion: v1`) means the same.
  otherApiVersions: ['v1'],
  plural: 'services',
  aliases: ['service', 'svc'],
  namespaced: true,
  validateSpec,
};

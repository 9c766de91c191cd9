// Kubernetes objects for the Kubernetes source's tests, in the shape kube-apiserver returns them
// (discovery.k8s.io/v1 EndpointSlices as the EndpointSlice controller writes them, a v1 Service
// with its cluster IP). Written after the API reference, not captured from a cluster: none runs here.

export interface SliceEndpoint {
  readonly pod: string;
  readonly address: string;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
  readonly zone?: string;
  readonly node?: string;
}

/** A ClusterIP Service `NAME` with one named port (`http`, port 9080, targetPort 8080 by default). */
export function service(name: string, namespace = 'default', options: { annotations?: Record<string, string>; ports?: unknown[] } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace,
      uid: `0b5c7d6e-${name}-svc`,
      creationTimestamp: '2026-11-30T07:00:00Z',
      labels: { app: name },
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.12.34',
      clusterIPs: ['10.96.12.34'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
      sessionAffinity: 'None',
      selector: { app: name },
      ports: options.ports ?? [{ name: 'http', protocol: 'TCP', port: 9080, targetPort: 8080 }],
    },
    status: { loadBalancer: {} },
  };
}

/**
 * An EndpointSlice of Service `svc`, as the controller names and labels it, with one TCP port named
 * `http` at `port` (the pod's port) and the given endpoints.
 */
export function endpointSlice(svc: string, suffix: string, port: number, endpoints: readonly SliceEndpoint[], namespace = 'default', portName = 'http') {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${svc}-${suffix}`,
      generateName: `${svc}-`,
      namespace,
      uid: `5f1e2a3b-${svc}-${suffix}`,
      creationTimestamp: '2026-11-30T07:00:01Z',
      generation: 1,
      labels: {
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        'kubernetes.io/service-name': svc,
        app: svc,
      },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-11-30T07:00:01Z' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc, uid: `0b5c7d6e-${svc}-svc`, controller: true, blockOwnerDeletion: true }],
    },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.address],
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
      targetRef: { kind: 'Pod', namespace, name: e.pod, uid: `9a8b7c6d-${e.pod}` },
      ...(e.node ? { nodeName: e.node } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
    })),
    ports: [{ name: portName, protocol: 'TCP', port }],
  };
}

// Prometheus HTTP service discovery (http_sd_configs) for the mesh: every connected sidecar's admin
// /metrics endpoint, with the labels of who it is. Prometheus polls GET /v1/prometheus/targets.

import type { ProxyStatus } from '../stream/proxy-registry.ts';

/** One target group of the http_sd format (https://prometheus.io/docs/prometheus/latest/http_sd/). */
export interface TargetGroup {
  readonly targets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

const ZONE_LABEL = 'topology.kubernetes.io/zone';
const REGION_LABEL = 'topology.kubernetes.io/region';

/**
 * One group per connected sidecar that said where its admin listener is (`adminAddress` in its
 * hello; older sidecars do not and are left out), labelled `service`, `namespace`, `proxy_id`, and
 * `zone`/`region` when the sidecar knows its locality, plus `__metrics_path__` = /metrics. Labels are
 * bounded by the sidecars connected; names follow Prometheus's [a-zA-Z_][a-zA-Z0-9_]* rule.
 */
export function prometheusTargets(proxies: readonly ProxyStatus[]): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const p of proxies) {
    if (!p.connected || p.node.adminAddress === undefined) continue;
    const zone = p.node.labels[ZONE_LABEL];
    const region = p.node.labels[REGION_LABEL];
    groups.push({
      targets: [p.node.adminAddress],
      labels: {
        __metrics_path__: '/metrics',
        service: p.node.service,
        namespace: p.node.namespace,
        proxy_id: p.node.id,
        ...(zone !== undefined && { zone }),
        ...(region !== undefined && { region }),
      },
    });
  }
  return groups;
}

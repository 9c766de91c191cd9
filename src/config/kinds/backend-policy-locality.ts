// BackendPolicy `loadBalancer.locality`: how a client prefers endpoints near it (same zone, then
// same region, then the rest) and spills over to farther ones as the near ones fail. The API and the
// proxy (snapshot validation) read it with the same reader; the proxy's balancer applies it.

import { Checker, join } from '../validate.ts';

/** The well-known Kubernetes topology labels an instance's sidecar sets from `--region` / `--zone`. */
export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** The priority order used when `failoverPriority` is empty: region, then zone (Istio's default locality failover). */
export const DEFAULT_FAILOVER_KEYS: readonly string[] = [REGION_LABEL, ZONE_LABEL];

/** Most label keys in `failoverPriority`: levels are 0..N, a bounded metric label. */
export const MAX_FAILOVER_KEYS = 8;

/**
 * Locality-aware balancing (Envoy's priority levels with Istio's locality failover on top).
 * Endpoints are grouped into levels by how many of the priority label keys they share with the
 * client, in order; level 0 gets traffic as long as it is healthy enough, the rest spills over.
 */
export interface LocalityLoadBalancing {
  /**
   * Default true: locality applies whenever the client sidecar knows its own locality (it carries
   * at least one of the priority keys as a label, e.g. from `--zone`). A client that knows none
   * balances over every endpoint as before, so the default changes nothing for it.
   */
  readonly enabled: boolean;
  /**
   * Label keys in priority order (Istio's `failoverPriority`); empty means
   * [topology.kubernetes.io/region, topology.kubernetes.io/zone]. Endpoints matching the client on
   * all N keys form level 0, on the first N-1 level 1, …, on none level N.
   */
  readonly failoverPriority: readonly string[];
  /**
   * Envoy's `overprovisioning_factor`, in percent (default 140, as Envoy's): a level's health is
   * min(100, healthy / total × factor), so a level keeps all its traffic until more than about 29%
   * of its endpoints are unhealthy. 100 to 1000.
   */
  readonly overprovisioningFactor: number;
}

export const DEFAULT_LOCALITY: LocalityLoadBalancing = { enabled: true, failoverPriority: [], overprovisioningFactor: 140 };

/** A policy's locality section completed with today's defaults (policies stored before it existed lack it). */
export function completeLocality(locality: Partial<LocalityLoadBalancing> | undefined): LocalityLoadBalancing {
  if (locality === undefined) return DEFAULT_LOCALITY;
  return { ...DEFAULT_LOCALITY, ...locality };
}

// Kubernetes label key: an optional DNS-subdomain prefix and a name (same rule as labels elsewhere).
const LABEL_KEY = /^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * Reads `loadBalancer.locality` at `path`, recording field-path errors in `c`: `enabled` a boolean,
 * `failoverPriority` at most 8 distinct, non-empty label keys, `overprovisioningFactor` an integer
 * percent from 100 to 1000. Returns the value with defaults filled, or undefined when the object
 * itself is not an object.
 */
export function readLocality(c: Checker, raw: unknown, path: string): LocalityLoadBalancing | undefined {
  const l = c.object(raw, path);
  if (!l) return undefined;
  c.noUnknown(l, path, ['enabled', 'failoverPriority', 'overprovisioningFactor']);
  const d = DEFAULT_LOCALITY;
  const enabled = c.boolean(l.enabled, join(path, 'enabled')) ?? d.enabled;
  const fpPath = join(path, 'failoverPriority');
  const failoverPriority: string[] = [];
  const seenAt = new Map<string, number>();
  (c.array(l.failoverPriority, fpPath, { max: MAX_FAILOVER_KEYS }) ?? []).forEach((rawKey, i) => {
    const keyPath = join(fpPath, i);
    const key = c.string(rawKey, keyPath, { required: true, max: 317, pattern: LABEL_KEY, patternHint: 'a label key (optional DNS prefix and /, then a name of at most 63 letters, digits, -, _ or .)' });
    if (key === undefined) return;
    const first = seenAt.get(key);
    if (first !== undefined) c.fail(keyPath, `duplicates ${JSON.stringify(key)} (failoverPriority[${first}])`);
    else {
      seenAt.set(key, i);
      failoverPriority.push(key);
    }
  });
  const overprovisioningFactor = c.integer(l.overprovisioningFactor, join(path, 'overprovisioningFactor'), { min: 100, max: 1000 }) ?? d.overprovisioningFactor;
  return { enabled, failoverPriority, overprovisioningFactor };
}

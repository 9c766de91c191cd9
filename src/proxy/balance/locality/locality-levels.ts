// Locality, step 1 (slow path): which priority level an endpoint belongs to, seen from this client.
// Built once per balancer update from the client sidecar's own labels and the policy's
// `loadBalancer.locality`; the balancer then groups its endpoints by level.

import { DEFAULT_FAILOVER_KEYS, type LocalityLoadBalancing } from '../../../config/kinds/backend-policy-locality.ts';

/** Assigns endpoints to priority levels 0 (nearest) .. levelCount-1 (the rest). */
export interface LevelAssigner {
  /** keys.length + 1: matching on every key, on all but the last, …, on none. */
  readonly levelCount: number;
  /** The label keys that decide, in priority order: the configured ones the client carries. */
  readonly keys: readonly string[];
  levelOf(labels: Readonly<Record<string, string>>): number;
}

/**
 * The level assigner for a client with `clientLabels` under `config`, or undefined when locality
 * does not apply: disabled, or the client carries none of the priority keys (it does not know where
 * it is, so every endpoint is equally near: plain balancing).
 *
 * Follows Istio's `failoverPriority`: an endpoint whose labels equal the client's on the first k
 * keys (and not on key k+1) is at level N-k, N the number of keys; matching all keys is level 0.
 * Keys the client does not carry are left out of the order, so a client started with only `--zone`
 * still prefers its zone. An endpoint without a key does not match it.
 */
export function createLevelAssigner(clientLabels: Readonly<Record<string, string>>, config: LocalityLoadBalancing): LevelAssigner | undefined {
  if (!config.enabled) return undefined;
  const configured = config.failoverPriority.length > 0 ? config.failoverPriority : DEFAULT_FAILOVER_KEYS;
  const keys: string[] = [];
  const values: string[] = [];
  for (const key of configured) {
    const value = clientLabels[key];
    if (value === undefined || value === '') continue;
    keys.push(key);
    values.push(value);
  }
  if (keys.length === 0) return undefined;
  const n = keys.length;
  return {
    levelCount: n + 1,
    keys,
    levelOf(labels) {
      let matched = 0;
      while (matched < n && labels[keys[matched]] === values[matched]) matched++;
      return n - matched;
    },
  };
}

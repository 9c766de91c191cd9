// Test helpers for the balancing tests: endpoints, policies and a seeded random source, so
// distributions are checked deterministically. Not used by the proxy itself.

import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import { DEFAULT_BACKEND_POLICY, type BackendPolicySpec, type LoadBalancerAlgorithm } from '../../config/kinds/backend-policy.ts';
import { DEFAULT_OUTLIER_DETECTION, DEFAULT_SLOW_START, type OutlierDetection, type SlowStart } from '../../config/kinds/backend-policy-outlier.ts';
import type { Pick, PickContext, Picker } from './picker.ts';

/** mulberry32: small, fast and good enough to make sampling tests repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function endpoint(id: string, overrides: Partial<EndpointSnapshot> = {}): EndpointSnapshot {
  return { id, address: '10.0.0.1', port: 8080, weight: 1, health: 'passing', labels: {}, ...overrides };
}

export function policy(algorithm: LoadBalancerAlgorithm, choiceCount = 2): BackendPolicySpec {
  return { ...DEFAULT_BACKEND_POLICY, loadBalancer: { algorithm, choiceCount } };
}

/** `base` with outlier detection and slow start fields overridden (the rest at their defaults). */
export function tuned(
  base: BackendPolicySpec,
  outlier: Partial<Omit<OutlierDetection, 'successRate'>> & { successRate?: Partial<OutlierDetection['successRate']> } = {},
  slowStart: Partial<SlowStart> = {},
): BackendPolicySpec {
  return {
    ...base,
    outlierDetection: { ...DEFAULT_OUTLIER_DETECTION, ...outlier, successRate: { ...DEFAULT_OUTLIER_DETECTION.successRate, ...outlier.successRate } },
    slowStart: { ...DEFAULT_SLOW_START, ...slowStart },
  };
}

/** The endpoint id a pick chose; fails the test on a failed pick. */
export function pickedId(pick: Pick): string {
  if (pick.kind !== 'endpoint') throw new Error(`expected an endpoint, got ${pick.reason}: ${pick.message}`);
  return pick.endpoint.id;
}

/** Picks `n` times, completing each pick at once, and counts picks per endpoint id. */
export function countPicks(picker: () => Picker, n: number, ctx?: PickContext): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const pick = picker().pick(ctx);
    const id = pickedId(pick);
    if (pick.kind === 'endpoint') pick.done({ ok: true, latencyMs: 1 });
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Picks `n` times and returns the ids in order, completing each pick at once. */
export function sequence(picker: () => Picker, n: number, ctx?: PickContext): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const pick = picker().pick(ctx);
    ids.push(pickedId(pick));
    if (pick.kind === 'endpoint') pick.done({ ok: true, latencyMs: 1 });
  }
  return ids;
}

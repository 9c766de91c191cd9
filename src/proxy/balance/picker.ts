// The hot-path contract of load balancing: a Balancer (slow path) takes endpoint updates and
// publishes an immutable Picker; each request calls `pick()` once per attempt and reports back
// through `done`, which feeds active-request counts, latency and failures to the balancer.

import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import type { BackendPolicySpec } from '../../config/kinds/backend-policy.ts';

export interface PickOutcome {
  /** False when the attempt failed (connect error, reset, 5xx from the peer proxy). */
  readonly ok: boolean;
  /** The endpoint could not be reached at all: it is skipped for a while (passive ejection). */
  readonly connectFailure?: boolean;
  readonly latencyMs: number;
}

export type Pick =
  | { readonly kind: 'endpoint'; readonly endpoint: EndpointSnapshot; readonly done: (outcome: PickOutcome) => void }
  | { readonly kind: 'fail'; readonly reason: PickFailureReason; readonly message: string };

/** Stable reasons, sent to clients as `x-weft-reason`. */
export type PickFailureReason = 'no-endpoints' | 'no-healthy-endpoints' | 'all-endpoints-tried';

export interface PickContext {
  /** Endpoint ids this request already tried: a retry goes somewhere else. */
  readonly exclude?: ReadonlySet<string>;
}

export interface Picker {
  pick(ctx?: PickContext): Pick;
}

export interface Balancer {
  /** Slow path: a new snapshot's endpoints (all of them, any health) and policy. */
  update(endpoints: readonly EndpointSnapshot[], policy: BackendPolicySpec): void;
  /** The picker in force; replaced (not mutated) by `update` and by ejections. */
  picker(): Picker;
}

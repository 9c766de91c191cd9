// The hot-path contract of load balancing: a Balancer (slow path) takes endpoint updates and
// publishes an immutable Picker; each request calls `pick()` once per attempt and reports back
// through `done`, which feeds active-request counts, latency and failures to the balancer.

import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import type { BackendPolicySpec } from '../../config/kinds/backend-policy.ts';

/**
 * Why an attempt got no complete response. `connect`, `reset` and `timeout` are the gateway errors
 * of Envoy's outlier detection (the endpoint, not the app's answer, failed); `cancelled` means the
 * client went away or a request timeout fired, which says nothing about the endpoint.
 */
export type AttemptFailure = 'connect' | 'reset' | 'timeout' | 'cancelled';

export interface PickOutcome {
  /** False when the attempt failed (connect error, reset, timeout, a 5xx answer). */
  readonly ok: boolean;
  /** The endpoint could not be reached at all: it is skipped for a while (passive ejection). */
  readonly connectFailure?: boolean;
  /** From the pick to the response's end (or the failure), in ms. */
  readonly latencyMs: number;
  /**
   * From the pick to the response head, in ms, when one was forwarded: peak-ewma's latency sample
   * (as Linkerd's, time to the response head), so a long stream does not read as a slow endpoint.
   */
  readonly headMs?: number;
  /** The response status when the endpoint answered (5xx and 429 are signals for the balancer). */
  readonly status?: number;
  /** Set when no complete response came back. */
  readonly failure?: AttemptFailure;
}

export type Pick =
  | { readonly kind: 'endpoint'; readonly endpoint: EndpointSnapshot; readonly done: (outcome: PickOutcome) => void }
  | { readonly kind: 'fail'; readonly reason: PickFailureReason; readonly message: string };

/** Stable reasons, sent to clients as `x-weft-reason`. */
export type PickFailureReason = 'no-endpoints' | 'no-healthy-endpoints' | 'all-endpoints-tried';

export interface PickContext {
  /** Endpoint ids this request already tried: a retry goes somewhere else. */
  readonly exclude?: ReadonlySet<string>;
  /**
   * ring-hash and maglev: the request's hash (an unsigned 32-bit integer from the BackendPolicy's
   * hashPolicy, hashing/hash-policy.ts); absent, they pick at random.
   */
  readonly hashKey?: number;
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

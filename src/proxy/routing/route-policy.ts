// A rule's `timeouts` and `retry` (Gateway API HTTPRouteTimeouts, HTTPRouteRetry / GEP-1731) as the
// forwarder uses them: compiled once per rule in route-request.ts's planOf, handed to forward.ts on
// the ForwardTarget, where they override the backend Service's BackendPolicy for that request.

import type { HTTPRouteRetry, HTTPRouteTimeouts } from '../../config/kinds/http-route.ts';
import { parseDuration } from '../../config/kinds/route-common.ts';
import { compileRouteRetry, type RetryPolicy } from '../resilience/retry/retry-policy.ts';

/** The replay bound: a request body up to this many bytes is kept so that a retry can send it again. */
export const RETRY_BODY_LIMIT_BYTES = 64 * 1024;
/** Retry defaults where the specification leaves them to the implementation (Envoy's, too). */
export const DEFAULT_RETRY_ATTEMPTS = 1;
export const DEFAULT_RETRY_BACKOFF_MS = 25;

export interface RoutePolicy {
  /** `timeouts.request` in ms (0: none); undefined: the BackendPolicy's `timeouts.requestMs`. */
  readonly requestMs: number | undefined;
  /** `timeouts.backendRequest` in ms, each attempt's bound (0: none; undefined: the BackendPolicy's `retries.perTryTimeoutMs`). */
  readonly backendRequestMs: number | undefined;
  /** The rule's `retry` compiled into the one retry policy (resilience/retry); undefined: the BackendPolicy's `retries`. */
  readonly retry: RetryPolicy | undefined;
}

/** A rule's policy, or undefined when it sets neither `timeouts` nor `retry` (validated input). */
export function compileRoutePolicy(timeouts: HTTPRouteTimeouts | undefined, retry: HTTPRouteRetry | undefined): RoutePolicy | undefined {
  if (timeouts === undefined && retry === undefined) return undefined;
  const ms = (d: string | undefined): number | undefined => (d === undefined ? undefined : parseDuration(d));
  return {
    requestMs: ms(timeouts?.request),
    backendRequestMs: ms(timeouts?.backendRequest),
    retry: retry === undefined ? undefined : compileRouteRetry(retry.codes, retry.attempts ?? DEFAULT_RETRY_ATTEMPTS, ms(retry.backoff) ?? DEFAULT_RETRY_BACKOFF_MS),
  };
}

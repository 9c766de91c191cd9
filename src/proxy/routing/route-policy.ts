// A rule's `timeouts` and `retry` (Gateway API HTTPRouteTimeouts, HTTPRouteRetry / GEP-1731) as the
// forwarder uses them: compiled once per rule in route-request.ts's planOf, handed to forward.ts on
// the ForwardTarget, where they override the backend Service's BackendPolicy for that request.

import type { HTTPRouteRetry, HTTPRouteTimeouts } from '../../config/kinds/http-route.ts';
import { parseDuration } from '../../config/kinds/route-common.ts';

/** The replay bound: a request body up to this many bytes is kept so that a retry can send it again. */
export const RETRY_BODY_LIMIT_BYTES = 64 * 1024;
/** Retry defaults where the specification leaves them to the implementation (Envoy's, too). */
export const DEFAULT_RETRY_ATTEMPTS = 1;
export const DEFAULT_RETRY_BACKOFF_MS = 25;
/** Backoff never grows past this multiple of the rule's `backoff` (Envoy's max_interval default). */
const MAX_BACKOFF_FACTOR = 10;

export interface RouteRetry {
  /** Status codes that are retried. */
  readonly codes: ReadonlySet<number>;
  /** Retries after the first attempt. */
  readonly attempts: number;
  /** The minimum wait before the first retry, in ms. */
  readonly backoffMs: number;
}

export interface RoutePolicy {
  /** `timeouts.request` in ms (0: none); undefined: the BackendPolicy's `timeouts.requestMs`. */
  readonly requestMs: number | undefined;
  /** `timeouts.backendRequest` in ms, each attempt's bound (0 or undefined: none). */
  readonly backendRequestMs: number | undefined;
  readonly retry: RouteRetry | undefined;
}

/** A rule's policy, or undefined when it sets neither `timeouts` nor `retry` (validated input). */
export function compileRoutePolicy(timeouts: HTTPRouteTimeouts | undefined, retry: HTTPRouteRetry | undefined): RoutePolicy | undefined {
  if (timeouts === undefined && retry === undefined) return undefined;
  const ms = (d: string | undefined): number | undefined => (d === undefined ? undefined : parseDuration(d));
  return {
    requestMs: ms(timeouts?.request),
    backendRequestMs: ms(timeouts?.backendRequest),
    retry:
      retry === undefined
        ? undefined
        : { codes: new Set(retry.codes), attempts: retry.attempts ?? DEFAULT_RETRY_ATTEMPTS, backoffMs: ms(retry.backoff) ?? DEFAULT_RETRY_BACKOFF_MS },
  };
}

/**
 * The wait before retry number `n` (1 for the first retry), in ms: `backoff × 2^(n−1)`, capped at
 * 10 × backoff, plus up to half of it again as jitter. Never below `backoff`: GEP-1731 lets jitter
 * stagger retries only as long as none comes before the configured minimum.
 */
export function retryBackoffMs(backoffMs: number, n: number, random: () => number = Math.random): number {
  if (backoffMs <= 0) return 0;
  const d = Math.min(backoffMs * 2 ** Math.max(0, n - 1), backoffMs * MAX_BACKOFF_FACTOR);
  return d + Math.floor(random() * (d / 2));
}

// What one request holds of its destination's circuit breaker, and the glue forward.ts calls where a
// request is admitted, a retry would start and the request ends. The counts live in the breaker
// (circuit-breaker.ts); the request keeps these flags as plain fields of its own (no object per request).

import type { FailureKind } from '../../http/attempt-rules.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';

/** The fields a request keeps (forward.ts Forwarding has them). */
export interface BreakerHolds {
  /** The destination Service port's breaker; undefined: none is counted (inbound, passthrough). */
  readonly breaker: CircuitBreaker | undefined;
  /** The request holds one of maxRequests (from its first attempt to its end). */
  holdsRequest: boolean;
  /** The request holds one of maxRetries (from its first counted retry to its end). */
  holdsRetry: boolean;
  /** A retry was not made because maxRetries was reached (counted once, at the end). */
  retryOverflow: boolean;
}

/** Admits the request before its first pick (maxRequests); false: refuse it with `max-requests`. */
export function admitRequest(h: BreakerHolds): boolean {
  const breaker = h.breaker;
  if (breaker === undefined) return true;
  if (!breaker.tryStartRequest()) return false;
  h.holdsRequest = true;
  return true;
}

/** The request ended (every way comes here once): what it held goes back, so the counts never leak. */
export function releaseHolds(h: BreakerHolds): void {
  const breaker = h.breaker;
  if (breaker === undefined) return;
  if (h.holdsRequest) breaker.endRequest();
  if (h.holdsRetry) breaker.endRetry();
  h.holdsRequest = h.holdsRetry = false;
}

/**
 * A retry of an attempt that provably reached no app (`connect`, `peer-app-unreachable`) takes no
 * slot of maxRetries: it adds no work to any app, and it is how weft routes around an endpoint that
 * went away (unlike Envoy, where connect-failure retries count too).
 */
function freeOfMaxRetries(h: BreakerHolds, kind: FailureKind): boolean {
  return h.breaker === undefined || h.holdsRetry || kind === 'connect' || kind === 'peer-app-unreachable';
}

/** Whether startRetry would succeed now, without taking the slot. */
export function mayStartRetry(h: BreakerHolds, kind: FailureKind): boolean {
  if (freeOfMaxRetries(h, kind)) return true;
  const breaker = h.breaker!;
  return breaker.retries < breaker.limits.maxRetries;
}

/**
 * A retry takes a slot of the breaker's maxRetries (the seam for the retry decision): a request
 * holds at most one, from its first retry to its end. False: no slot, no retry (Envoy: the retry
 * overflows, the answer or failure stands).
 */
export function startRetry(h: BreakerHolds, kind: FailureKind): boolean {
  if (freeOfMaxRetries(h, kind)) return true;
  return (h.holdsRetry = h.breaker!.tryStartRetry());
}

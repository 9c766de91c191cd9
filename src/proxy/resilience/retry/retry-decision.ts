// Whether a failed attempt (or an answer the policy retries) goes again: the never-reached-the-app
// rule, the retry policy's retryOn, the circuit breaker's maxRetries and the Service's retry budget,
// asked in that order. forward.ts asks before a transport discards an answer and again where it fails.

import { IDEMPOTENT, type FailureKind } from '../../http/attempt-rules.ts';
import { mayStartRetry, type BreakerHolds } from '../circuit-breaker/breaker-holds.ts';
import { retriesFailure, type RetryPolicy } from './retry-policy.ts';
import type { RetryBudget } from './budget.ts';

/** retryDecision's answers. */
export const NO_RETRY = 0;
/** The request provably reached no app: outside the budget, it adds load to none. */
export const FREE_RETRY = 1;
/** A retry the Service's budget pays for. */
export const BUDGETED_RETRY = 2;

/** What the decision reads of a request (forward.ts Forwarding). */
export interface RetryState extends BreakerHolds {
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly finished: boolean;
  /** A byte of the request body went upstream. */
  readonly bodyStarted: boolean;
  readonly hasBody: boolean;
  readonly method: string;
  /** The retry policy in force (the route's, else the BackendPolicy's). */
  readonly retry: RetryPolicy;
  /** Set when a retry was refused because the budget was spent: the failure goes back marked. */
  budgetExhausted: boolean;
  readonly ctx: { readonly budget?: RetryBudget };
  /** The request can be sent again as it was (no body, or all of it was kept). */
  replayable(): boolean;
}

/**
 * NO_RETRY, FREE_RETRY or BUDGETED_RETRY. Pure but for marking `budgetExhausted` and
 * `retryOverflow`, so a transport may ask before discarding an answer and fail() may ask again;
 * the budget is asked, not spent (the caller records the retry it makes).
 */
export function retryDecision(s: RetryState, kind: FailureKind): number {
  if (s.attempts >= s.maxAttempts || s.finished) return NO_RETRY;
  // The never-reached-the-app rule, always on. A connect failure before any byte of the body left:
  // any method. The peer sidecar could not connect to its app, so no app saw the request: any
  // method, as long as there is no body (it was streamed to the peer and cannot be sent twice).
  if (kind === 'connect' && !s.bodyStarted) return FREE_RETRY;
  if (kind === 'peer-app-unreachable' && !s.hasBody) return FREE_RETRY;
  const p = s.retry;
  // The policy's retryOn (or a route's retry): what it names goes again if the request can be
  // replayed in full and is idempotent or opted in. A gRPC status named in retryOn is its own
  // opt-in (every gRPC call is a POST; gRFC A6's retryableStatusCodes works the same way).
  let allowed =
    kind === 'retriable-grpc-status'
      ? s.replayable()
      : (kind === 'retriable-status-code' || retriesFailure(p, kind)) && s.replayable() && (p.retryNonIdempotent || IDEMPOTENT.has(s.method));
  // Also always on: a reset before any answer, of an idempotent request without a body.
  if (!allowed && (kind === 'reset-before-response' || kind === 'peer-app-reset')) allowed = !s.hasBody && IDEMPOTENT.has(s.method);
  // Also always on: a peer sidecar shed the request before its app saw it (adaptive concurrency),
  // so any method may go to another instance if it can be sent whole; the budget still counts it,
  // since shedding means the Service is overloaded.
  if (!allowed && kind === 'peer-shed') allowed = !s.hasBody || s.replayable();
  if (!allowed) return NO_RETRY;
  // The breaker's maxRetries (Envoy: an overflowing retry is not made; the answer or failure
  // stands). Asked here, before a transport discards an answer; the slot is taken where it fails.
  if (!mayStartRetry(s, kind)) {
    s.retryOverflow = true;
    return NO_RETRY;
  }
  const budget = s.ctx.budget;
  if (budget === undefined || budget.canRetry()) return BUDGETED_RETRY;
  s.budgetExhausted = true;
  return NO_RETRY;
}

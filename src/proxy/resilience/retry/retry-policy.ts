// The one retry policy forward.ts asks "may this failure go again?": compiled once per snapshot from
// a BackendPolicy's `retries` or an HTTPRoute rule's `retry` (GEP-1731), never parsed per request.
// The budget (budget.ts) and the wait (backoff.ts) sit beside it.

import { completeRetries, MAX_INTERVAL_FACTOR, type BackendRetries, type RetryOn } from '../../../config/kinds/backend-policy-retries.ts';
import type { FailureKind } from '../../http/attempt-rules.ts';
import type { RetryBudgetConfig } from './budget.ts';

/** Failure classes of retryOn, as bits (FailureKind → class in FAILURE_CLASS). */
export const CONNECT_FAILURE = 1;
export const RESET = 2;

/** gRPC status codes retryOn can name (grpc/doc/statuscodes.md). */
export const GRPC_CODES: Readonly<Record<string, number>> = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 };

/**
 * What each failure kind is, for retryOn: `connect-failure` covers an attempt that never connected
 * (or a peer sidecar that could not reach its app); `reset` an attempt that got no response at all
 * (reset, closed, or over its per-try timeout: Envoy's "disconnect/reset/read timeout").
 */
function failureClass(kind: FailureKind): number {
  switch (kind) {
    case 'connect':
    case 'peer-app-unreachable':
      return CONNECT_FAILURE;
    case 'retriable-status-code':
    case 'retriable-grpc-status':
    case 'peer-shed':
      return 0;
    default:
      return RESET;
  }
}

/** A compiled retry policy (immutable, shared by every request under it). */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly attempts: number;
  /** Failure classes retried (CONNECT_FAILURE | RESET bits) beyond the never-reached-the-app rule. */
  readonly failures: number;
  /** statuses[s] = 1: an answer with status s is retried. Empty (length 0) when none is. */
  readonly statuses: Uint8Array;
  /** Bit n set: an answer whose head carries grpc-status n is retried. */
  readonly grpcCodes: number;
  /** Each attempt's bound in ms (0: none). */
  readonly perTryTimeoutMs: number;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  /** Non-idempotent methods are retried under the conditions above too. */
  readonly retryNonIdempotent: boolean;
  /**
   * Retries go to an endpoint already tried when none other is left (the answer was discarded, so
   * there is something to gain). False for the never-reached-the-app rule alone, which gives up.
   */
  readonly widened: boolean;
  /** The destination Service's budget parameters (a route's retry has none: the Service's applies). */
  readonly budget: RetryBudgetConfig | undefined;
}

const NO_STATUSES = new Uint8Array(0);

/** Compiles a BackendPolicy `retries` (validated; missing fields take their defaults). */
export function compileRetries(retries: Partial<BackendRetries> | undefined): RetryPolicy {
  const r = completeRetries(retries);
  const on = new Set<RetryOn>(r.retryOn);
  let failures = 0;
  if (on.has('connect-failure')) failures |= CONNECT_FAILURE;
  // Envoy: 5xx and gateway-error include connect-failure and reset (a missing answer is a 5xx's kin).
  if (on.has('reset') || on.has('5xx') || on.has('gateway-error')) failures |= RESET | CONNECT_FAILURE;
  let statuses = NO_STATUSES;
  const mark = (s: number): void => {
    if (statuses === NO_STATUSES) statuses = new Uint8Array(600);
    statuses[s] = 1;
  };
  if (on.has('5xx')) for (let s = 500; s <= 599; s++) mark(s);
  if (on.has('gateway-error')) for (const s of [502, 503, 504]) mark(s);
  if (on.has('retriable-status-codes')) for (const s of r.retriableStatusCodes) mark(s);
  let grpcCodes = 0;
  for (const word of on) if (GRPC_CODES[word] !== undefined) grpcCodes |= 1 << GRPC_CODES[word];
  return {
    attempts: r.attempts,
    failures,
    statuses,
    grpcCodes,
    perTryTimeoutMs: r.perTryTimeoutMs,
    baseIntervalMs: r.backoff.baseIntervalMs,
    maxIntervalMs: r.backoff.maxIntervalMs,
    retryNonIdempotent: r.retryNonIdempotent,
    widened: failures !== 0 || statuses !== NO_STATUSES || grpcCodes !== 0,
    budget: r.budget,
  };
}

const compiled = new WeakMap<object, RetryPolicy>();
const DEFAULT_POLICY = compileRetries(undefined);

/**
 * A BackendPolicy's compiled retries: compiled on first use and kept while the policy value lives
 * (a snapshot's policies are immutable values, so a new snapshot compiles anew).
 */
export function backendRetryPolicy(retries: Partial<BackendRetries> | undefined): RetryPolicy {
  if (retries === undefined) return DEFAULT_POLICY;
  let p = compiled.get(retries);
  if (p === undefined) compiled.set(retries, (p = compileRetries(retries)));
  return p;
}

/**
 * An HTTPRoute rule's `retry` (GEP-1731) as a RetryPolicy: its `codes` are retried, and so is every
 * failure without an answer (GEP-1731: implementations retry connection errors), with backoff from
 * `backoffMs` up to 10 × it. A rule's retry is its author's opt-in for the requests it matches, so
 * non-idempotent ones are retried too when their body was kept (as before this policy existed).
 */
export function compileRouteRetry(codes: readonly number[], attempts: number, backoffMs: number): RetryPolicy {
  let statuses = NO_STATUSES;
  if (codes.length > 0) {
    statuses = new Uint8Array(600);
    for (const s of codes) statuses[s] = 1;
  }
  return {
    attempts,
    failures: CONNECT_FAILURE | RESET,
    statuses,
    grpcCodes: 0,
    perTryTimeoutMs: 0,
    baseIntervalMs: backoffMs,
    maxIntervalMs: backoffMs * MAX_INTERVAL_FACTOR,
    retryNonIdempotent: true,
    widened: true,
    budget: undefined,
  };
}

/** Whether the policy retries this failure kind under its retryOn (the never-reached-the-app rule aside). */
export function retriesFailure(p: RetryPolicy, kind: FailureKind): boolean {
  return (p.failures & failureClass(kind)) !== 0;
}

/**
 * Whether an answer is retried: its status, or (for gRPC) the `grpc-status` its head carries, which
 * a trailers-only response puts there (gRPC over HTTP/2 protocol). Returns the failure kind or undefined.
 */
export function retriesAnswer(p: RetryPolicy, status: number, grpcStatus: string | undefined): 'retriable-status-code' | 'retriable-grpc-status' | undefined {
  if (p.statuses[status] === 1) return 'retriable-status-code';
  if (p.grpcCodes !== 0 && grpcStatus !== undefined) {
    const code = grpcStatus.length === 1 || grpcStatus.length === 2 ? Number(grpcStatus) : NaN;
    if (code >= 0 && code <= 16 && (p.grpcCodes & (1 << code)) !== 0) return 'retriable-grpc-status';
  }
  return undefined;
}

// The client proxy's circuit breaker for one destination Service port: counters of requests,
// pending requests and retries in flight, checked before the pick (forward.ts) and where a new
// connection or a retry would start. Built on the slow path (service-table.ts), kept across snapshots.

import { DEFAULT_CIRCUIT_BREAKER, completeCircuitBreaker, type CircuitBreakerSpec } from '../../../config/kinds/backend-policy-circuit-breaker.ts';
import type { EndpointSnapshot } from '../../../config/snapshot-types.ts';

/** Which limit refused a request: the `x-weft-circuit-limit` value and the metric's `limit` label. */
export type CircuitLimit = 'max-connections' | 'max-pending-requests' | 'max-requests' | 'max-retries';

/** Response field that names the limit on a `circuit-open` local reply. */
export const CIRCUIT_LIMIT_HEADER = 'x-weft-circuit-limit';

/** The policy field each limit comes from, for messages. */
export const CIRCUIT_LIMIT_FIELD: Readonly<Record<CircuitLimit, keyof CircuitBreakerSpec>> = {
  'max-connections': 'maxConnections',
  'max-pending-requests': 'maxPendingRequests',
  'max-requests': 'maxRequests',
  'max-retries': 'maxRetries',
};

/**
 * Envoy's circuit breaking (cluster circuit_breakers thresholds) as counters without a queue: weft
 * never queues a request for a connection, so a limit that is reached refuses at once. Every
 * `tryStart…` that returned true (or undefined for tryStartPending) must be matched by exactly one
 * `end…`, on every way a request can end (forward.ts releases them in Forwarding.complete and
 * Attempt.report); the `end…` calls never go below zero, so a double release cannot hide a leak
 * elsewhere as a negative count, and tests assert the counts return to zero.
 */
export class CircuitBreaker {
  limits: CircuitBreakerSpec = DEFAULT_CIRCUIT_BREAKER;
  /** The Service port's endpoints, for counting open connections (max-connections). */
  endpoints: readonly EndpointSnapshot[] = [];
  /** Requests admitted and not yet ended. */
  requests = 0;
  /** Attempts waiting for a new upstream connection to come up. */
  pending = 0;
  /** Retries started and not yet ended. */
  retries = 0;

  /** A new snapshot: new limits (the defaults for a policy that has none) and endpoints; counts are kept. */
  update(limits: Partial<CircuitBreakerSpec> | undefined, endpoints: readonly EndpointSnapshot[]): void {
    this.limits = completeCircuitBreaker(limits);
    this.endpoints = endpoints;
  }

  /** Admits a request (maxRequests); false: refuse it with `max-requests`. */
  tryStartRequest(): boolean {
    if (this.requests >= this.limits.maxRequests) return false;
    this.requests++;
    return true;
  }

  endRequest(): void {
    if (this.requests > 0) this.requests--;
  }

  /**
   * An attempt needs a new connection. `openConnections` is how many HTTP/1.1 connections to the
   * Service's endpoints are open now (-1: not counted, HTTP/2). Returns the limit that refuses it,
   * or undefined when it is admitted as pending (then endPending() once its connection is up or it ended).
   */
  tryStartPending(openConnections: number): CircuitLimit | undefined {
    if (openConnections >= this.limits.maxConnections) return 'max-connections';
    if (this.pending >= this.limits.maxPendingRequests) return 'max-pending-requests';
    this.pending++;
    return undefined;
  }

  endPending(): void {
    if (this.pending > 0) this.pending--;
  }

  /**
   * The seam for the retry decision: a retry may start only while fewer than maxRetries are in
   * flight (Envoy: a refused retry is not made, the failure stands, upstream_rq_retry_overflow).
   */
  tryStartRetry(): boolean {
    if (this.retries >= this.limits.maxRetries) return false;
    this.retries++;
    return true;
  }

  endRetry(): void {
    if (this.retries > 0) this.retries--;
  }
}

// BackendPolicy `circuitBreaker`: the limits a client proxy keeps per destination Service port
// (src/proxy/resilience/circuit-breaker/). Types, defaults, the API's reader and the proxy's snapshot check.

import { Checker, join } from '../validate.ts';

/**
 * Envoy's cluster circuit-breaker thresholds, with Envoy's names and defaults (1024, 1024, 1024, 3;
 * envoy.config.cluster.v3.CircuitBreakers.Thresholds). Counts, not rates; each is at least 1.
 * What each counts in weft is defined in docs/concepts/overload.md ("Circuit breaking").
 */
export interface CircuitBreakerSpec {
  /** Open HTTP/1.1 connections to the Service's endpoints; a request that needs a new one over this gets 503. */
  readonly maxConnections: number;
  /** Requests waiting for a new upstream connection to come up (TCP and TLS); over this: 503. */
  readonly maxPendingRequests: number;
  /** Requests in flight to the Service (from admission to the response's end); over this: 503. */
  readonly maxRequests: number;
  /** Retries in flight to the Service that may repeat work on an app (not those of attempts that reached no app); over this a retry is not made and the failure is the answer. */
  readonly maxRetries: number;
}

export const CIRCUIT_BREAKER_FIELDS = ['maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries'] as const;

export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerSpec = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 1024 };

/** Above this a limit means nothing but a typo (a proxy cannot hold a million connections to one Service). */
export const CIRCUIT_BREAKER_MAX = 1_000_000;

/**
 * A policy's circuitBreaker completed with the defaults: policies stored before the field existed
 * lack it, or some of its fields.
 */
export function completeCircuitBreaker(cb: Partial<CircuitBreakerSpec> | undefined): CircuitBreakerSpec {
  if (cb === undefined) return DEFAULT_CIRCUIT_BREAKER;
  if (cb.maxConnections !== undefined && cb.maxPendingRequests !== undefined && cb.maxRequests !== undefined && cb.maxRetries !== undefined) return cb as CircuitBreakerSpec;
  return { ...DEFAULT_CIRCUIT_BREAKER, ...cb };
}

/** Reads `spec.circuitBreaker` (undefined: the defaults); errors go to `c` with their field paths. */
export function readCircuitBreaker(c: Checker, raw: unknown, path: string): CircuitBreakerSpec {
  const d = DEFAULT_CIRCUIT_BREAKER;
  if (raw === undefined) return d;
  const cb = c.object(raw, path);
  if (!cb) return d;
  c.noUnknown(cb, path, CIRCUIT_BREAKER_FIELDS);
  const limit = (name: (typeof CIRCUIT_BREAKER_FIELDS)[number]): number => c.integer(cb[name], join(path, name), { min: 1, max: CIRCUIT_BREAKER_MAX }) ?? d[name];
  return { maxConnections: limit('maxConnections'), maxPendingRequests: limit('maxPendingRequests'), maxRequests: limit('maxRequests'), maxRetries: limit('maxRetries') };
}

/** The proxy's check of a snapshot's `policy.circuitBreaker` (optional: an older control plane sends none). */
export function checkCircuitBreakerSnapshot(c: Checker, raw: unknown, path: string): void {
  if (raw === undefined) return;
  const cb = c.object(raw, path);
  if (!cb) return;
  for (const name of CIRCUIT_BREAKER_FIELDS) c.integer(cb[name], join(path, name), { min: 1, max: CIRCUIT_BREAKER_MAX });
}

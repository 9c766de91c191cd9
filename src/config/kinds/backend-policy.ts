// BackendPolicy (weft.dev/v1alpha1): how a proxy talks to the endpoints of the services it targets:
// load-balancing algorithm, timeouts (connect, response head, stream idle, total; pool idle) and
// retries (backend-policy-retries.ts); outlier detection and slow start live in backend-policy-outlier.ts.

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from '../validate.ts';
import { DEFAULT_CIRCUIT_BREAKER, readCircuitBreaker, type CircuitBreakerSpec } from './backend-policy-circuit-breaker.ts';
import { readLocality, type LocalityLoadBalancing } from './backend-policy-locality.ts';
import { readAdaptiveConcurrency, type AdaptiveConcurrencySpec } from './backend-policy-adaptive-concurrency.ts';
import { readRetries, type BackendRetries } from './backend-policy-retries.ts';
import { BALANCING_FIELDS, readBalancingFields, type BalancingFields } from './backend-policy-balancing.ts';
import { DEFAULT_OUTLIER_DETECTION, DEFAULT_SLOW_START, readOutlierDetection, readSlowStart, type OutlierDetection, type SlowStart } from './backend-policy-outlier.ts';

export type LoadBalancerAlgorithm = 'round-robin' | 'random' | 'weighted' | 'least-request' | 'peak-ewma' | 'ring-hash' | 'maglev';
export const LOAD_BALANCER_ALGORITHMS: readonly LoadBalancerAlgorithm[] = ['round-robin', 'random', 'weighted', 'least-request', 'peak-ewma', 'ring-hash', 'maglev'];

export interface TargetRef {
  readonly kind: 'Service';
  readonly name: string;
}

export interface BackendPolicySpec {
  readonly targetRefs: readonly TargetRef[];
  /** peakEwma, ringHash, maglev and hashPolicy: backend-policy-balancing.ts. */
  readonly loadBalancer: BalancingFields & {
    readonly algorithm: LoadBalancerAlgorithm;
    /** least-request: how many endpoints to sample before taking the least loaded. */
    readonly choiceCount: number;
    /** Locality-aware balancing; absent (policies stored before it existed, or not given): the defaults, see completeLocality. */
    readonly locality?: LocalityLoadBalancing;
  };
  readonly timeouts: BackendTimeouts;
  /** Circuit-breaker limits (backend-policy-circuit-breaker.ts); absent in policies stored before the field existed. */
  readonly circuitBreaker?: CircuitBreakerSpec;
  /** The adaptive concurrency limit the targeted Service's own sidecars enforce inbound. Absent: none (the default). */
  readonly adaptiveConcurrency?: AdaptiveConcurrencySpec;
  /** Retries, their conditions, backoff and budget (backend-policy-retries.ts). */
  readonly retries: BackendRetries;
  /** Passive health (backend-policy-outlier.ts); optional only because stored policies may predate it. */
  readonly outlierDetection?: OutlierDetection;
  /** Ramp-up of new and readmitted endpoints (backend-policy-outlier.ts); absent: off. */
  readonly slowStart?: SlowStart;
}

/**
 * What a proxy times on the way to an endpoint, all in milliseconds; 0 disables a timer (except
 * connectMs and idleMs, which are at least 1). Each times what can hang, so a long stream that keeps
 * moving is never cut by default; a total deadline is the user's choice.
 */
export interface BackendTimeouts {
  /** Opening a connection (TCP, and TLS with the peer's identity) to one endpoint. Envoy: cluster `connect_timeout`. */
  readonly connectMs: number;
  /**
   * Time to the response head: from the end of the request (its arrival, for a request without a
   * body) to the response's status line and headers, connects and retries included. Envoy has no
   * such field (its route timeout is total); Go's http.Transport calls it ResponseHeaderTimeout.
   */
  readonly responseHeaderMs: number;
  /**
   * Longest gap with no bytes moving on the stream: request body from the client, response head
   * and body from the endpoint (a client that reads slowly counts as moving when it drains).
   * Envoy: `stream_idle_timeout` (default 5 min).
   */
  readonly streamIdleMs: number;
  /**
   * The whole exchange, from the request's arrival to the response's last byte, all attempts
   * included; 0 (the default) means none. Envoy: route `timeout`. Stored policies that carry 30000
   * (the old default, filled in when they were applied) keep that total.
   */
  readonly requestMs: number;
  /** An idle pooled connection to an endpoint is closed after this (sooner if the endpoint's `Keep-Alive: timeout=` says so). Envoy: `idle_timeout` of the upstream HTTP protocol options. */
  readonly idleMs: number;
}

/** The timeout fields in the order docs and errors list them. */
export const TIMEOUT_FIELDS = ['connectMs', 'responseHeaderMs', 'streamIdleMs', 'requestMs', 'idleMs'] as const;

export const DEFAULT_BACKEND_POLICY: BackendPolicySpec = {
  targetRefs: [],
  // Still round-robin: peak-ewma's median beat it in the slow-endpoint bench but its tail did not,
  // consistently, on a loaded machine (docs/performance.md, entry 14).
  // peak-ewma: measured better than round robin with one slow endpoint (docs/performance.md entry 14:
  // client p99 1.38× the healthy endpoints' own p99, round robin 9.09×).
  loadBalancer: { algorithm: 'peak-ewma', choiceCount: 2 },
  // idleMs 4 s: below the keep-alive timeout of common app servers (Node's http server and uvicorn
  // 5 s, Apache 5 s), so the proxy, not the app, closes an idle connection, and a request is rarely
  // written onto a connection the app is closing at that moment (RFC 9112 §9.3.1; the stale
  // connection retry in forward.ts covers the rest).
  timeouts: { connectMs: 2_000, responseHeaderMs: 30_000, streamIdleMs: 300_000, requestMs: 0, idleMs: 4_000 },
  retries: { attempts: 2 },
  circuitBreaker: DEFAULT_CIRCUIT_BREAKER,
  outlierDetection: DEFAULT_OUTLIER_DETECTION,
  slowStart: DEFAULT_SLOW_START,
};

/**
 * A policy's timeouts completed with today's defaults: a policy stored before a field existed
 * lacks it (the store keeps what validation returned at apply time).
 */
export function completeTimeouts(timeouts: Partial<BackendTimeouts> | undefined): BackendTimeouts {
  const d = DEFAULT_BACKEND_POLICY.timeouts;
  if (timeouts !== undefined && timeouts.responseHeaderMs !== undefined && timeouts.streamIdleMs !== undefined && timeouts.connectMs !== undefined && timeouts.requestMs !== undefined && timeouts.idleMs !== undefined) return timeouts as BackendTimeouts;
  return { ...d, ...timeouts };
}

/** The Services a policy attaches to (Gateway API policy attachment): at least one. Shared by every policy kind. */
export function readTargetRefs(c: Checker, raw: unknown, refsPath: string): TargetRef[] {
  const targetRefs: TargetRef[] = [];
  const refs = c.array(raw, refsPath, { required: true, min: 1 }) ?? [];
  refs.forEach((rawRef, i) => {
    const refPath = join(refsPath, i);
    const ref = c.object(rawRef, refPath);
    if (!ref) return;
    c.noUnknown(ref, refPath, ['group', 'kind', 'name']);
    c.oneOf(ref.kind, join(refPath, 'kind'), ['Service'], { required: true });
    const name = c.string(ref.name, join(refPath, 'name'), { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
    if (name) targetRefs.push({ kind: 'Service', name });
  });
  return targetRefs;
}

function validateSpec(raw: unknown, path: string): ValidationResult<BackendPolicySpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['targetRefs', 'loadBalancer', 'timeouts', 'retries', 'circuitBreaker', 'adaptiveConcurrency', 'outlierDetection', 'slowStart']);
  const d = DEFAULT_BACKEND_POLICY;

  const targetRefs = readTargetRefs(c, spec.targetRefs, join(path, 'targetRefs'));

  let loadBalancer = d.loadBalancer;
  if (spec.loadBalancer !== undefined) {
    const lbPath = join(path, 'loadBalancer');
    const lb = c.object(spec.loadBalancer, lbPath);
    if (lb) {
      c.noUnknown(lb, lbPath, ['algorithm', 'choiceCount', 'locality', ...BALANCING_FIELDS]);
      const locality = lb.locality === undefined ? undefined : readLocality(c, lb.locality, join(lbPath, 'locality'));
      const algorithm = c.oneOf(lb.algorithm, join(lbPath, 'algorithm'), LOAD_BALANCER_ALGORITHMS) ?? d.loadBalancer.algorithm;
      loadBalancer = {
        algorithm,
        choiceCount: c.integer(lb.choiceCount, join(lbPath, 'choiceCount'), { min: 2, max: 10 }) ?? d.loadBalancer.choiceCount,
        ...(locality !== undefined && { locality }),
        ...readBalancingFields(c, lb, lbPath, algorithm),
      };
    }
  }

  let timeouts = d.timeouts;
  if (spec.timeouts !== undefined) {
    const tPath = join(path, 'timeouts');
    const t = c.object(spec.timeouts, tPath);
    if (t) {
      c.noUnknown(t, tPath, TIMEOUT_FIELDS);
      timeouts = {
        connectMs: c.integer(t.connectMs, join(tPath, 'connectMs'), { min: 1, max: 600_000 }) ?? d.timeouts.connectMs,
        responseHeaderMs: c.integer(t.responseHeaderMs, join(tPath, 'responseHeaderMs'), { min: 0, max: 86_400_000 }) ?? d.timeouts.responseHeaderMs,
        streamIdleMs: c.integer(t.streamIdleMs, join(tPath, 'streamIdleMs'), { min: 0, max: 86_400_000 }) ?? d.timeouts.streamIdleMs,
        requestMs: c.integer(t.requestMs, join(tPath, 'requestMs'), { min: 0, max: 86_400_000 }) ?? d.timeouts.requestMs,
        idleMs: c.integer(t.idleMs, join(tPath, 'idleMs'), { min: 1, max: 86_400_000 }) ?? d.timeouts.idleMs,
      };
    }
  }

  let retries = d.retries;
  if (spec.retries !== undefined) {
    retries = readRetries(c, spec.retries, join(path, 'retries')) ?? d.retries;
  }

  const circuitBreaker = readCircuitBreaker(c, spec.circuitBreaker, join(path, 'circuitBreaker'));
  const adaptiveConcurrency = readAdaptiveConcurrency(c, spec.adaptiveConcurrency, join(path, 'adaptiveConcurrency'));
  const outlierDetection = readOutlierDetection(c, spec.outlierDetection, join(path, 'outlierDetection'));
  const slowStart = readSlowStart(c, spec.slowStart, join(path, 'slowStart'));

  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { targetRefs, loadBalancer, timeouts, retries, circuitBreaker, ...(adaptiveConcurrency && { adaptiveConcurrency }), outlierDetection, slowStart } };
}

export const backendPolicyType: ResourceType<BackendPolicySpec> = {
  kind: 'BackendPolicy',
  apiVersion: 'weft.dev/v1alpha1',
  plural: 'backendpolicies',
  aliases: ['backendpolicy', 'bp'],
  namespaced: true,
  validateSpec,
};

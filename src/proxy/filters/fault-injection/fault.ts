// weft's FaultInjection filter (ExtensionRef from an HTTPRoute or GRPCRoute rule): for its share of
// requests a fixed delay before the request goes on, and for its share an abort with a status or a
// gRPC code. The two draws are independent, as in Istio's HTTPFaultInjection.

import type { FaultInjectionSpec } from '../../../config/kinds/fault-injection.ts';
import { parseDuration } from '../../../config/kinds/route-common.ts';

/** What one request gets: a delay in ms (0: none), and an abort or not. */
export interface FaultDecision {
  readonly delayMs: number;
  readonly abort: { readonly httpStatus?: number; readonly grpcStatus?: number } | undefined;
}

const NONE: FaultDecision = { delayMs: 0, abort: undefined };

/**
 * Compiles a fault once per snapshot; the result draws per request. `random` returns [0, 1) and is
 * injectable for tests. A percentage p applies to p% of requests (0: never, 100: always).
 */
export function compileFault(spec: FaultInjectionSpec, random: () => number = Math.random): () => FaultDecision {
  const delayMs = spec.delay ? parseDuration(spec.delay.fixedDelay) ?? 0 : 0;
  const delayShare = spec.delay ? spec.delay.percentage / 100 : 0;
  const abortShare = spec.abort ? spec.abort.percentage / 100 : 0;
  const abort = spec.abort ? { httpStatus: spec.abort.httpStatus, grpcStatus: spec.abort.grpcStatus } : undefined;
  return () => {
    const delayed = delayShare > 0 && random() < delayShare;
    const aborted = abortShare > 0 && random() < abortShare;
    if (!delayed && !aborted) return NONE;
    return { delayMs: delayed ? delayMs : 0, abort: aborted ? abort : undefined };
  };
}

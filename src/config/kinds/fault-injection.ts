// FaultInjection (weft.dev/v1alpha1): delays and aborts injected by the client sidecar for a share of
// the requests of an HTTPRoute or GRPCRoute rule that names it in an ExtensionRef filter. Field
// names follow Istio's HTTPFaultInjection (delay.fixedDelay, abort.httpStatus / grpcStatus).

import type { ResourceType, ValidationResult } from '../resource.ts';
import { Checker, join } from '../validate.ts';
import { checkDuration, parseDuration } from './route-common.ts';

export const WEFT_API_VERSION = 'weft.dev/v1alpha1';

/** A share of requests, in percent (0–100; fractions allowed, e.g. 0.5). */
export interface FaultDelay {
  readonly percentage: number;
  /** Gateway API duration string, e.g. "500ms"; at most 1h. */
  readonly fixedDelay: string;
}

export interface FaultAbort {
  readonly percentage: number;
  /** HTTP status to answer with (200–599), for HTTP requests. */
  readonly httpStatus?: number;
  /** gRPC status code (0–16) to answer a gRPC call with (a trailers-only response). */
  readonly grpcStatus?: number;
}

export interface FaultInjectionSpec {
  readonly delay?: FaultDelay;
  readonly abort?: FaultAbort;
}

const MAX_DELAY_MS = 3_600_000;

function checkPercentage(c: Checker, raw: unknown, path: string): number | undefined {
  if (raw === undefined) {
    c.fail(path, 'is required (percent of requests, 0-100)');
    return undefined;
  }
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > 100) {
    c.fail(path, `must be a number from 0 to 100, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  return raw;
}

function validateSpec(raw: unknown, path: string): ValidationResult<FaultInjectionSpec> {
  const c = new Checker();
  const spec = c.object(raw, path);
  if (!spec) return { ok: false, errors: c.errors };
  c.noUnknown(spec, path, ['delay', 'abort']);
  if (spec.delay === undefined && spec.abort === undefined) c.fail(path, 'must set delay, abort or both');
  let delay: FaultDelay | undefined;
  if (spec.delay !== undefined) {
    const dp = join(path, 'delay');
    const d = c.object(spec.delay, dp);
    if (d) {
      c.noUnknown(d, dp, ['percentage', 'fixedDelay']);
      const percentage = checkPercentage(c, d.percentage, join(dp, 'percentage'));
      const fixedDelay = checkDuration(c, d.fixedDelay, join(dp, 'fixedDelay'));
      if (d.fixedDelay === undefined) c.fail(join(dp, 'fixedDelay'), 'is required (e.g. "500ms")');
      else if (fixedDelay !== undefined && (parseDuration(fixedDelay) ?? 0) > MAX_DELAY_MS) c.fail(join(dp, 'fixedDelay'), 'must be at most 1h');
      if (percentage !== undefined && fixedDelay !== undefined) delay = { percentage, fixedDelay };
    }
  }
  let abort: FaultAbort | undefined;
  if (spec.abort !== undefined) {
    const ap = join(path, 'abort');
    const a = c.object(spec.abort, ap);
    if (a) {
      c.noUnknown(a, ap, ['percentage', 'httpStatus', 'grpcStatus']);
      const percentage = checkPercentage(c, a.percentage, join(ap, 'percentage'));
      const httpStatus = c.integer(a.httpStatus, join(ap, 'httpStatus'), { min: 200, max: 599 });
      const grpcStatus = c.integer(a.grpcStatus, join(ap, 'grpcStatus'), { min: 0, max: 16 });
      if (a.httpStatus === undefined && a.grpcStatus === undefined) c.fail(ap, 'must set httpStatus, grpcStatus or both');
      if (percentage !== undefined && (httpStatus !== undefined || grpcStatus !== undefined)) {
        abort = { percentage, ...(httpStatus !== undefined ? { httpStatus } : {}), ...(grpcStatus !== undefined ? { grpcStatus } : {}) };
      }
    }
  }
  if (c.errors.length) return { ok: false, errors: c.errors };
  return { ok: true, value: { ...(delay ? { delay } : {}), ...(abort ? { abort } : {}) } };
}

export const faultInjectionType: ResourceType<FaultInjectionSpec> = {
  kind: 'FaultInjection',
  apiVersion: WEFT_API_VERSION,
  plural: 'faultinjections',
  aliases: ['faultinjection', 'fault'],
  namespaced: true,
  validateSpec,
};

// The rate-limit inbound filter: after authz, the inbound RateLimitPolicies of this sidecar's
// Service judge each request by its caller's identity and headers (local buckets, then Redis).
// Also the reply a refusal becomes, shared with the outbound path.

import type { FilterReply, FilterResult, InboundFilter } from '../inbound-filter.ts';
import { checkLimits, type Denial, type PolicyLimiter } from './policy-limiter.ts';

/** A refusal as a local reply: 429 `rate-limited`, or 503 `rate-limit-unavailable` (Redis down, failureMode closed). */
export function denialReply(d: Denial): FilterReply {
  return { status: d.status, reason: d.status === 429 ? 'rate-limited' : 'rate-limit-unavailable', message: d.message, headers: d.headers };
}

export function createRateLimitFilter(limiters: readonly PolicyLimiter[]): InboundFilter {
  return {
    name: 'rate-limit',
    run(r): FilterResult {
      const d = checkLimits(limiters, r.peer, r.headers);
      if (d === undefined) return undefined;
      if (d instanceof Promise) return d.then((x) => (x === undefined ? undefined : denialReply(x)));
      return denialReply(d);
    },
  };
}

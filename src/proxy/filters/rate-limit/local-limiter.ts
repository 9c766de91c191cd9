// A RateLimitPolicy's local limits compiled for one proxy: its token buckets (total, per calling
// identity with overrides, per header value), judged per request without parsing or allocating
// beyond a new key's bucket. Built once per policy and kept while the policy is unchanged.

import type { IncomingHttpHeaders } from 'node:http';
import { MAX_KEYS, type LocalRateLimit, type RateLimit } from '../../../config/kinds/rate-limit-policy.ts';
import { parseSpiffeId } from '../../../config/identity.ts';
import { BucketMap } from './bucket-map.ts';
import { TokenBucket } from './token-bucket.ts';
import { limitedHeaders, rateLimitPolicyField } from './headers.ts';

/** Why a request was refused: which limit, and the 429's fields. */
export interface Denial {
  /** `local` or `global`: the metrics' scope. */
  readonly scope: 'local' | 'global';
  /** The limit's name, e.g. `default/orders-limit/identity`. */
  readonly limit: string;
  readonly status: 429 | 503;
  readonly message: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** The key plaintext callers share in the per-identity limit: they prove no identity. */
export const UNAUTHENTICATED = 'unauthenticated';
/** Longer header values are cut to this many characters for the key (bounds a key's memory). */
const MAX_KEY_LENGTH = 256;

interface Keyed {
  readonly limit: string;
  readonly policyField: string;
  readonly buckets: BucketMap;
  /** The request's key for this limit, or undefined: the limit does not apply. */
  readonly key: (peer: string | undefined, headers: IncomingHttpHeaders) => string | undefined;
}

export interface LocalLimiter {
  /** Takes one token from every bucket that applies, or none when one is empty (then says which). `now` in ms. */
  check(peer: string | undefined, headers: IncomingHttpHeaders, now: number): Denial | undefined;
}

function headerKey(name: string): Keyed['key'] {
  return (_peer, headers) => {
    const v = headers[name];
    if (v === undefined) return undefined;
    const s = typeof v === 'string' ? v : v.join(', ');
    return s.length > MAX_KEY_LENGTH ? s.slice(0, MAX_KEY_LENGTH) : s;
  };
}

/** `overrides` by caller: `namespace/service` (weft's SPIFFE IDs are per Service; a ServiceAccount ref names one too). */
function overrideTable(local: LocalRateLimit): Map<string, RateLimit> {
  const table = new Map<string, RateLimit>();
  for (const o of local.overrides ?? []) {
    for (const ref of o.clientRefs) if (!table.has(`${ref.namespace}/${ref.name}`)) table.set(`${ref.namespace}/${ref.name}`, o);
  }
  return table;
}

/**
 * Compiles `local` of policy `policy` (`namespace/name`). Each limit's RateLimit-Policy item is
 * named `policy/total`, `policy/identity` or `policy/header:NAME`; identity and header maps hold
 * at most `maxKeys` buckets each (LRU).
 */
export function createLocalLimiter(policy: string, local: LocalRateLimit, maxKeys = MAX_KEYS): LocalLimiter {
  const limits: Keyed[] = [];
  let total: { bucket: TokenBucket | undefined; rate: RateLimit; limit: string; policyField: string } | undefined;
  if (local.total) {
    const limit = `${policy}/total`;
    total = { bucket: undefined, rate: local.total, limit, policyField: rateLimitPolicyField(limit, local.total.requestsPerSecond, local.total.burst) };
  }
  if (local.identity) {
    const limit = `${policy}/identity`;
    const base = local.identity;
    const overrides = overrideTable(local);
    limits.push({
      limit,
      policyField: rateLimitPolicyField(limit, base.requestsPerSecond, base.burst),
      buckets: new BucketMap(maxKeys, (key, now) => {
        // Parsed once per new caller, not per request.
        const id = key === UNAUTHENTICATED ? undefined : parseSpiffeId(key);
        const r = (id && overrides.get(`${id.namespace}/${id.service}`)) ?? base;
        return new TokenBucket(r.requestsPerSecond, r.burst, now);
      }),
      key: (peer) => peer ?? UNAUTHENTICATED,
    });
  }
  for (const h of local.perHeader ?? []) {
    const limit = `${policy}/header:${h.name}`;
    limits.push({ limit, policyField: rateLimitPolicyField(limit, h.requestsPerSecond, h.burst), buckets: new BucketMap(maxKeys, (_k, now) => new TokenBucket(h.requestsPerSecond, h.burst, now)), key: headerKey(h.name) });
  }
  // The buckets a request takes from, reused (one request at a time on this thread).
  const taking: TokenBucket[] = [];
  const deny = (limit: string, policyField: string, bucket: TokenBucket, now: number, who: string): Denial => ({
    scope: 'local',
    limit,
    status: 429,
    message: `over the rate limit ${limit}${who}`,
    headers: limitedHeaders(policyField, limit, bucket.waitMs(now)),
  });
  return {
    check(peer, headers, now) {
      // Every bucket must have a token before any is taken: a refused request costs no limit a token.
      taking.length = 0;
      if (total) {
        total.bucket ??= new TokenBucket(total.rate.requestsPerSecond, total.rate.burst, now);
        if (!total.bucket.has(now)) return deny(total.limit, total.policyField, total.bucket, now, '');
        taking.push(total.bucket);
      }
      for (const l of limits) {
        const key = l.key(peer, headers);
        if (key === undefined) continue;
        const b = l.buckets.get(key, now);
        if (!b.has(now)) return deny(l.limit, l.policyField, b, now, ` (key ${JSON.stringify(key)})`);
        taking.push(b);
      }
      for (const b of taking) b.take(now);
      return undefined;
    },
  };
}

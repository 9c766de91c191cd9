// One RateLimitPolicy compiled for one proxy: its local buckets, then its global limit in Redis
// (with the failureMode and fallback bucket for when Redis cannot answer). Compiled once per policy
// and kept across snapshots while the policy is unchanged, so its buckets carry over.

import type { IncomingHttpHeaders } from 'node:http';
import type { GlobalDescriptor, GlobalRateLimit, RateLimitDirection } from '../../../config/kinds/rate-limit-policy.ts';
import { defaultBurst } from '../../../config/kinds/rate-limit-policy.ts';
import type { RateLimitSnapshot } from '../../../config/snapshot-types.ts';
import type { Clock } from '../../../lib/clock.ts';
import type { Counter, Histogram } from '../../../lib/metrics.ts';
import { createLocalLimiter, UNAUTHENTICATED, type Denial, type LocalLimiter } from './local-limiter.ts';
import { acquireGlobalClient, gcraArgs, releaseGlobalClient, type GlobalClient } from './global-client.ts';
import { TokenBucket } from './token-bucket.ts';
import { limitedHeaders, rateLimitPolicyField } from './headers.ts';

export type { Denial } from './local-limiter.ts';

/** The proxy's rate-limit metrics (proxy-metrics.ts). */
export interface RateLimitMetrics {
  /** `weft_proxy_rate_limited_total{policy, direction, scope}`. */
  readonly limited: Counter;
  /** `weft_proxy_rate_limit_redis_errors_total{policy}`. */
  readonly redisErrors: Counter;
  /** `weft_proxy_rate_limit_check_duration_seconds`: a global check's Redis round trip. */
  readonly checkSeconds: Histogram;
}

export type LimitResult = Denial | undefined | Promise<Denial | undefined>;

export interface PolicyLimiter {
  readonly name: string;
  readonly direction: RateLimitDirection;
  /** Judges one request: undefined admits it. A promise only when the global limit asks Redis. */
  check(peer: string | undefined, headers: IncomingHttpHeaders): LimitResult;
  /** Releases the Redis connection (when no other policy uses it). */
  close(): void;
}

const UNAVAILABLE_HEADERS = Object.freeze({ 'retry-after': '1' });
/** A header value longer than this is cut for the Redis key (bounds the key's size). */
const MAX_PART_LENGTH = 256;

type KeyOf = (peer: string | undefined, headers: IncomingHttpHeaders) => string | undefined;

/**
 * The Redis key of a request: `weft:ratelimit:{policy}` and, per descriptor, its value (URI-encoded,
 * so `:` in a value cannot fake another key). The `{…}` hash tag keeps a policy's keys on one
 * Redis Cluster slot. Undefined when a header part is missing: the request is not counted.
 */
export function globalKey(policy: string, descriptors: readonly GlobalDescriptor[] | undefined): KeyOf {
  const base = `weft:ratelimit:{${policy}}`;
  if (descriptors === undefined) return () => base;
  return (peer, headers) => {
    let key = base;
    for (const d of descriptors) {
      let v: string;
      if (d.source === 'identity') v = peer ?? UNAUTHENTICATED;
      else {
        const h = headers[d.header];
        if (h === undefined) return undefined;
        v = typeof h === 'string' ? h : h.join(', ');
        if (v.length > MAX_PART_LENGTH) v = v.slice(0, MAX_PART_LENGTH);
      }
      key += `:${encodeURIComponent(v)}`;
    }
    return key;
  };
}

function createGlobal(policy: string, direction: RateLimitDirection, g: GlobalRateLimit, clock: Clock, metrics: RateLimitMetrics | undefined) {
  const client: GlobalClient = acquireGlobalClient(g.redis.address);
  const limit = `${policy}/global`;
  const policyField = rateLimitPolicyField(limit, g.requestsPerSecond, g.burst);
  const keyOf = globalKey(policy, g.descriptors);
  const args = gcraArgs(g.requestsPerSecond, g.burst);
  const fallbackLimit = `${policy}/global-fallback`;
  const fallbackRate = g.fallbackLocalRequestsPerSecond;
  const fallbackField = fallbackRate === undefined ? '' : rateLimitPolicyField(fallbackLimit, fallbackRate, defaultBurst(fallbackRate));
  let fallback: TokenBucket | undefined;
  const labels = { policy, direction, scope: 'global' };
  const redisLabels = { policy };

  /** Redis could not answer: the fallback bucket if set, then failureMode. */
  const unavailable = (): Denial | undefined => {
    metrics?.redisErrors.inc(redisLabels);
    const now = clock.now();
    if (fallbackRate !== undefined) {
      fallback ??= new TokenBucket(fallbackRate, defaultBurst(fallbackRate), now);
      if (fallback.take(now)) return undefined;
      return { scope: 'global', limit: fallbackLimit, status: 429, message: `over the fallback rate limit ${fallbackLimit} (the global limit's Redis ${g.redis.address} does not answer)`, headers: limitedHeaders(fallbackField, fallbackLimit, fallback.waitMs(now)) };
    }
    if (g.failureMode === 'open') return undefined;
    return { scope: 'global', limit, status: 503, message: `the global rate limit ${limit} cannot be checked: its Redis ${g.redis.address} does not answer, and its failureMode is closed`, headers: UNAVAILABLE_HEADERS };
  };

  return {
    check(peer: string | undefined, headers: IncomingHttpHeaders): Promise<Denial | undefined> | undefined {
      const key = keyOf(peer, headers);
      if (key === undefined) return undefined;
      const started = performance.now();
      return client.check(key, args.intervalUs, args.burst).then(
        (v) => {
          metrics?.checkSeconds.observe({}, (performance.now() - started) / 1000);
          // The fallback bucket is kept (not reset) while Redis answers: a flapping Redis must not
          // hand out a fresh burst at every failure; it refills by itself between outages.
          if (v.admitted) return undefined;
          return { scope: 'global' as const, limit, status: 429 as const, message: `over the global rate limit ${limit}`, headers: limitedHeaders(policyField, limit, v.waitMs) };
        },
        unavailable,
      );
    },
    labels,
    close: () => releaseGlobalClient(client),
  };
}

/** Compiles a snapshot's RateLimitPolicy. Counts each refusal in `metrics` by scope. */
export function createPolicyLimiter(p: RateLimitSnapshot, clock: Clock, metrics?: RateLimitMetrics): PolicyLimiter {
  const local: LocalLimiter | undefined = p.local ? createLocalLimiter(p.name, p.local) : undefined;
  const global = p.global ? createGlobal(p.name, p.direction, p.global, clock, metrics) : undefined;
  const localLabels = { policy: p.name, direction: p.direction, scope: 'local' };
  const countGlobal = (d: Denial | undefined): Denial | undefined => {
    if (d !== undefined) metrics?.limited.inc(global!.labels);
    return d;
  };
  return {
    name: p.name,
    direction: p.direction,
    check(peer, headers) {
      if (local) {
        const d = local.check(peer, headers, clock.now());
        if (d !== undefined) {
          metrics?.limited.inc(localLabels);
          return d;
        }
      }
      return global?.check(peer, headers)?.then(countGlobal);
    },
    close: () => global?.close(),
  };
}

/** Runs the policies in order; the first refusal wins. Synchronous until one asks Redis. */
export function checkLimits(limiters: readonly PolicyLimiter[], peer: string | undefined, headers: IncomingHttpHeaders, from = 0): LimitResult {
  for (let i = from; i < limiters.length; i++) {
    const r = limiters[i]!.check(peer, headers);
    if (r instanceof Promise) return r.then((d) => (d !== undefined ? d : checkLimits(limiters, peer, headers, i + 1)));
    if (r !== undefined) return r;
  }
  return undefined;
}

// The response fields of a rate-limited reply: Retry-After (RFC 9110 §10.2.3, delay-seconds) and
// the IETF RateLimit-Policy / RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10), built
// once per limit when a snapshot is compiled; only the numbers are filled in per reply.

/**
 * `"name";q=Q;w=W;weft-burst=B`: an sf-List item naming the limit, its quota Q per window of W
 * seconds (integers, as the draft requires) and weft's burst (a vendor-prefixed parameter, as the
 * draft asks for implementation-specific ones). A rate of at least 1/s is Q = floor(rate) per 1 s;
 * a slower one is one request per W = ceil(1 / rate) seconds.
 */
export function rateLimitPolicyField(name: string, requestsPerSecond: number, burst: number): string {
  const w = requestsPerSecond >= 1 ? 1 : Math.ceil(1 / requestsPerSecond);
  const q = Math.max(1, Math.floor(requestsPerSecond * w));
  return `${sfString(name)};q=${q};w=${w};weft-burst=${burst}`;
}

/** `"name";r=R;t=T`: R requests left now, T seconds until quota comes back (the Retry-After value on a 429). */
export function rateLimitField(name: string, remaining: number, resetSeconds: number): string {
  return `${sfString(name)};r=${Math.max(0, Math.floor(remaining))};t=${resetSeconds}`;
}

/** Whole seconds to wait, at least 1: Retry-After has no fractions, and 0 would invite an immediate retry. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

/** An RFC 8941 sf-string: printable ASCII with `"` and `\` escaped (policy names are DNS labels and `/`). */
function sfString(s: string): string {
  return `"${s.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The 429's fields for one limit that refused. */
export function limitedHeaders(policyField: string, name: string, waitMs: number): Record<string, string> {
  const t = retryAfterSeconds(waitMs);
  return { 'retry-after': String(t), 'ratelimit-policy': policyField, ratelimit: rateLimitField(name, 0, t) };
}

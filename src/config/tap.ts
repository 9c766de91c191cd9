// The tap's vocabulary, shared by a sidecar's admin `GET /tap`, the control plane's `GET /v1/tap`
// and `weft tap`: the query (filters and the max rate, validated with the parameter at fault) and
// the NDJSON lines the streams carry.

import type { FieldError } from '../lib/errors.ts';

/** Events per second a tap shows when the caller names no rate (Linkerd's `--max-rps` default). */
export const TAP_DEFAULT_MAX_RPS = 100;
/** The highest rate a tap may ask for (events per second, across all the sidecars tapped). */
export const TAP_MAX_MAX_RPS = 10_000;
/** Taps a sidecar serves at once; one more is refused with 429. */
export const TAP_MAX_SESSIONS = 8;

export type TapDirection = 'inbound' | 'outbound';

/** Which finished requests a tap shows; an absent field matches every request. */
export interface TapFilter {
  /** Upper-cased HTTP method, matched exactly. */
  readonly method?: string;
  /** The request target starts with it (`/api` matches `/api/items` and `/apix`, as Linkerd's `--path`). */
  readonly pathPrefix?: string;
  /** The :authority (Host) as received, lower-cased, matched exactly (`reviews` ≠ `reviews:80`). */
  readonly authority?: string;
  readonly direction?: TapDirection;
  /** The destination service: `NAME.NAMESPACE`, or `NAME` in any namespace. */
  readonly to?: string;
}

export interface TapQuery {
  /** Events per second at most (a token bucket with a burst of one second's worth); may be fractional. */
  readonly maxRps: number;
  readonly filter: TapFilter;
}

/** The query parameters a tap reads (docs/api.md `/v1/tap`, and the admin listener's `/tap`). */
export const TAP_PARAMS = ['maxRps', 'method', 'pathPrefix', 'authority', 'direction', 'to'] as const;

const METHOD = /^[A-Za-z]{1,20}$/;
const AUTHORITY = /^[A-Za-z0-9._~%!$&'()*+,;=:[\]-]{1,255}$/;
const DNS_LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const TO = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})?$`);

/**
 * Reads a tap's query parameters (TAP_PARAMS; `also` names the others the caller's route reads).
 * Every problem is reported with the parameter's name as its path; a parameter given twice or not
 * known is an error, not ignored (a typo must not silently widen the tap).
 */
export function parseTapQuery(params: URLSearchParams, also: readonly string[] = []): { ok: true; value: TapQuery } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const known = new Set<string>([...TAP_PARAMS, ...also]);
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (!known.has(key)) errors.push({ path: key, message: `unknown parameter (expected one of: ${[...known].join(', ')})` });
    else if (seen.has(key)) errors.push({ path: key, message: 'given more than once' });
    seen.add(key);
  }
  const get = (name: string): string | undefined => params.get(name) ?? undefined;
  let maxRps = TAP_DEFAULT_MAX_RPS;
  const rate = get('maxRps');
  if (rate !== undefined) {
    maxRps = /^[0-9]{1,6}(\.[0-9]{1,6})?$/.test(rate) ? Number(rate) : NaN;
    if (!(maxRps > 0 && maxRps <= TAP_MAX_MAX_RPS)) errors.push({ path: 'maxRps', message: `must be a number of events per second above 0 and at most ${TAP_MAX_MAX_RPS}, got ${JSON.stringify(rate)}` });
  }
  const filter: { -readonly [K in keyof TapFilter]: TapFilter[K] } = {};
  const method = get('method');
  if (method !== undefined) {
    if (METHOD.test(method)) filter.method = method.toUpperCase();
    else errors.push({ path: 'method', message: `must be an HTTP method (letters only), got ${JSON.stringify(method)}` });
  }
  const pathPrefix = get('pathPrefix');
  if (pathPrefix !== undefined) {
    if (pathPrefix.startsWith('/') && pathPrefix.length <= 1024) filter.pathPrefix = pathPrefix;
    else errors.push({ path: 'pathPrefix', message: `must start with / (at most 1024 characters), got ${JSON.stringify(pathPrefix.slice(0, 80))}` });
  }
  const authority = get('authority');
  if (authority !== undefined) {
    if (AUTHORITY.test(authority)) filter.authority = authority.toLowerCase();
    else errors.push({ path: 'authority', message: `must be HOST or HOST:PORT, got ${JSON.stringify(authority.slice(0, 80))}` });
  }
  const direction = get('direction');
  if (direction !== undefined) {
    if (direction === 'inbound' || direction === 'outbound') filter.direction = direction;
    else errors.push({ path: 'direction', message: `must be inbound or outbound, got ${JSON.stringify(direction)}` });
  }
  const to = get('to');
  if (to !== undefined) {
    if (TO.test(to)) filter.to = to;
    else errors.push({ path: 'to', message: `must be a service, NAME or NAME.NAMESPACE, got ${JSON.stringify(to.slice(0, 80))}` });
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: { maxRps, filter } };
}

/** The query string (without `?`) that parseTapQuery reads back as `q`. */
export function tapQueryString(q: TapQuery): string {
  const p = new URLSearchParams({ maxRps: String(q.maxRps) });
  for (const key of ['method', 'pathPrefix', 'authority', 'direction', 'to'] as const) {
    const v = q.filter[key];
    if (v !== undefined) p.set(key, v);
  }
  return p.toString();
}

/** One finished request, as a tap shows it (one NDJSON line). Times are ms. */
export interface TapRequestEvent {
  readonly type: 'request';
  /** The sidecar that carried it. */
  readonly proxy: string;
  /** When it arrived (ISO 8601). */
  readonly time: string;
  readonly direction: TapDirection;
  readonly requestId: string;
  readonly method: string;
  readonly authority: string;
  readonly path: string;
  /** The status the client got (499: it went away first; 0: no answer). */
  readonly status: number;
  /** From arrival to the end of the response (ms, to the microsecond). */
  readonly latencyMs: number;
  /** The HTTPRoute (`namespace/name`) and rule that matched, when a route decided. */
  readonly route?: string;
  readonly rule?: string;
  /** `address:port` of the last endpoint tried (inbound: the local app). */
  readonly endpoint?: string;
  /** Endpoints tried (retries make it more than 1). */
  readonly attempts: number;
  /** x-weft-reason, when this sidecar answered itself. */
  readonly reason?: string;
  readonly source: { readonly service: string; readonly identity?: string };
  readonly destination: { readonly service: string; readonly identity?: string };
}

/** Requests that matched but went over the max rate (or met a slow reader) since the last such line. */
export interface TapDroppedLine {
  readonly type: 'dropped';
  readonly proxy: string;
  readonly dropped: number;
}

/** The control plane's first line: which sidecars it taps, and which it could not. */
export interface TapStartLine {
  readonly type: 'tapping';
  readonly service: string;
  readonly namespace: string;
  readonly proxies: readonly string[];
  readonly unreachable: readonly { readonly proxy: string; readonly error: string }[];
}

/** The control plane picked up a sidecar that connected while the tap ran, or lost one. */
export interface TapProxyLine {
  readonly type: 'attached' | 'detached';
  readonly proxy: string;
  readonly error?: string;
}

export type TapLine = TapRequestEvent | TapDroppedLine | TapStartLine | TapProxyLine;

/** The content type of every tap stream: one JSON object a line. */
export const NDJSON = 'application/x-ndjson';

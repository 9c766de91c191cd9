// The control plane's view of request fates: it asks the connected sidecars' admin listeners
// (/fates?id=, /fates/recent?failed=1) in parallel and merges their answers, so `weft why` and the
// dashboard's inspector need only the control plane's (authenticated) API: GET /v1/requests/{id}, GET /v1/failures.

import { WeftError, errorMessage, invalid } from '../../lib/errors.ts';
import { httpCall } from '../../lib/http-call.ts';
import { adminAddress } from '../../lib/admin-address.ts';
import { hopOrder, RINGS_IN_WORDS, type FailureSummary, type FateView, type RecentFailures, type RequestFates, type UnreachableProxy } from '../../config/fate-view.ts';
import type { ProxyStatus } from '../stream/proxy-registry.ts';
import type { ProxyRow } from '../stream/proxy-rows.ts';

/** How long one sidecar may take to answer before it is listed as unreachable (ms). */
export const FATE_LOOKUP_TIMEOUT_MS = 1_000;
/** How many sidecars are asked at once: a lookup over 1,000 proxies opens at most this many sockets. */
export const FATE_LOOKUP_CONCURRENCY = 16;
/** GET /v1/failures: items when `limit` is not given, and the most it may ask for. */
export const DEFAULT_FAILURES_LIMIT = 50;
export const MAX_FAILURES_LIMIT = 500;
/**
 * How many failures each sidecar is asked for when the answer is filtered by service: a sidecar's
 * whole failed ring (proxy/observe/fate-ring.ts FAILED_FATES), since the filter runs here.
 */
export const SIDECAR_FAILED_RING = 500;
/** A sidecar's answer kept at most: a whole failed ring of 500 fates is about 0.5–1 MB of JSON. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** A sidecar to ask: its proxy id and its admin listener, or why it cannot be asked. */
export interface AdminTarget {
  readonly proxy: string;
  readonly address: string | undefined;
  /** When `address` is undefined: why (default: it reported no admin listener). */
  readonly why?: string;
}

export interface FateLookupOptions {
  readonly timeoutMs?: number;
  readonly concurrency?: number;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|::1|localhost)$/;
const hostOf = (address: string): string => address.slice(0, address.lastIndexOf(':')).replace(/^::ffff:/, '');

/**
 * The connected proxies' admin listeners (a wildcard bind is reached where the proxy connected
 * from). A loopback admin listener of a proxy that connected from another host is not asked: its
 * address here would be this host's loopback, another process.
 */
export function adminTargets(proxies: readonly ProxyStatus[]): AdminTarget[] {
  return rowTargets(proxies.map((p) => ({ id: p.node.id, admin: p.node.adminAddress, remote: p.remote, connected: p.connected })));
}

/** What a proxy's admin listener is reached by: this replica's registry, or a row another replica published. */
export type AdminRow = Pick<ProxyRow, 'id' | 'admin' | 'remote' | 'connected'>;

/** adminTargets for /v1/proxies rows (`id`, `admin`, `remote`, `connected`): the same rules. */
export function rowTargets(rows: readonly AdminRow[]): AdminTarget[] {
  return rows.filter((p) => p.connected).map((p) => {
    const address = adminAddress({ admin: p.admin, remote: p.remote });
    if (address !== undefined && LOOPBACK.test(hostOf(address)) && !LOOPBACK.test(hostOf(p.remote))) {
      return { proxy: p.id, address: undefined, why: `its admin listener ${address} is loopback on its own host (${hostOf(p.remote)}): bind it where the control plane can reach it (weft proxy --bind)` };
    }
    return { proxy: p.id, address };
  });
}

/**
 * Every connected proxy's admin target on replicas: this replica's own (`own`), then those whose
 * stream is on another replica (`others`, the rows they publish), each proxy once. Without this a
 * replica answered `weft why` and /v1/failures from its own proxies alone, silently: the hop of a
 * proxy on the other replica was neither shown nor listed as unreachable.
 */
export function clusterTargets(own: readonly ProxyStatus[], others: readonly AdminRow[]): AdminTarget[] {
  const mine = adminTargets(own);
  const seen = new Set(mine.map((t) => t.proxy));
  return [...mine, ...rowTargets(others.filter((r) => !seen.has(r.id)))];
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in the items' order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return out;
}

/**
 * GETs `path` from every target's admin listener and parses `{items}`; a 404 counts as no items.
 * A target without an admin address, a network error, a timeout, another status or a body that is
 * not the expected JSON puts it in `unreachable` with the reason.
 */
async function askAll(targets: readonly AdminTarget[], path: string, o: FateLookupOptions): Promise<{ items: FateView[]; unreachable: UnreachableProxy[] }> {
  const unreachable: UnreachableProxy[] = [];
  const timeoutMs = o.timeoutMs ?? FATE_LOOKUP_TIMEOUT_MS;
  const answers = await mapBounded(targets, o.concurrency ?? FATE_LOOKUP_CONCURRENCY, async (t): Promise<FateView[]> => {
    if (t.address === undefined) {
      unreachable.push({ proxy: t.proxy, error: t.why ?? 'it did not report an admin listener (a proxy older than weft why)' });
      return [];
    }
    try {
      const res = await httpCall(`http://${t.address}${path}`, { method: 'GET', timeoutMs, maxBodyBytes: MAX_ANSWER_BYTES });
      if (res.status === 404) return [];
      if (!res.ok) throw new Error(`admin answered ${res.status}`);
      const items = (JSON.parse(res.body) as { items?: unknown }).items;
      if (!Array.isArray(items)) throw new Error('admin answered without items');
      return items as FateView[];
    } catch (err) {
      unreachable.push({ proxy: t.proxy, error: `${t.address}: ${errorMessage(err)}` });
      return [];
    }
  });
  unreachable.sort((a, b) => a.proxy.localeCompare(b.proxy));
  return { items: answers.flat(), unreachable };
}

/**
 * GET /v1/requests/{id}: every connected sidecar's fates of the request, merged in the order they
 * began. Throws WEFT_ERR_API_REQUEST_NOT_FOUND (404) when no sidecar holds one: the id is unknown,
 * or the request has left every ring (config/fate-view.ts RINGS_IN_WORDS).
 */
export async function lookupRequest(targets: readonly AdminTarget[], requestId: string, o: FateLookupOptions = {}): Promise<RequestFates> {
  const { items, unreachable } = await askAll(targets, `/fates?id=${encodeURIComponent(requestId)}`, o);
  // A sidecar lists its own fates of one id once; two workers' rings never share a record.
  items.sort(hopOrder);
  if (items.length === 0) {
    const asked = targets.length === 1 ? '1 sidecar' : `${targets.length} sidecars`;
    const missing = unreachable.length ? `, ${unreachable.length} not reachable: ${unreachable.map((u) => u.proxy).join(', ')}` : '';
    throw new WeftError('WEFT_ERR_API_REQUEST_NOT_FOUND', `no sidecar holds a fate for request ${requestId} (asked ${asked}${missing}): the id is unknown, or the request has left the rings (${RINGS_IN_WORDS})`, 404);
  }
  return { requestId, items, asked: targets.length, unreachable };
}

/** Longer ids are never kept by a sidecar (proxy/observe/request-id.ts MAX_REQUEST_ID_LENGTH). */
const MAX_REQUEST_ID_LENGTH = 128;

/** The characters of an id a sidecar keeps (proxy/observe/request-id.ts): any other id was replaced at the first hop. */
const KEPT_REQUEST_ID = /^[A-Za-z0-9._:\-+=/@]+$/;

/**
 * The `{id}` of GET /v1/requests/{id}: 1–128 characters from [A-Za-z0-9._:-+=/@], else
 * WEFT_ERR_API_BAD_REQUEST (400). Refused rather than looked up, since no sidecar keeps such an id,
 * and so that control characters never reach an error message or a terminal.
 */
export function requestIdParam(id: string): string {
  if (id.length === 0 || id.length > MAX_REQUEST_ID_LENGTH) throw invalid('WEFT_ERR_API_BAD_REQUEST', `a request id has 1 to ${MAX_REQUEST_ID_LENGTH} characters, got ${id.length}`, [{ path: 'id', message: `must have 1 to ${MAX_REQUEST_ID_LENGTH} characters` }]);
  if (!KEPT_REQUEST_ID.test(id)) throw invalid('WEFT_ERR_API_BAD_REQUEST', 'a request id has only the characters A-Z a-z 0-9 . _ : - + = / @ (sidecars replace any other id at the first hop, so this one cannot be found)', [{ path: 'id', message: 'has characters outside A-Z a-z 0-9 . _ : - + = / @' }]);
  return id;
}

/** The one-line summary of a failed fate: its last attempt's endpoint and failure kind. */
export function failureSummary(f: FateView): FailureSummary {
  const last = f.attempts[f.attempts.length - 1];
  return {
    time: f.time,
    requestId: f.requestId,
    proxy: f.proxy,
    direction: f.direction,
    source: f.source.service,
    destination: f.destination.service,
    method: f.method,
    path: f.path,
    ...(f.route !== undefined && { route: f.route }),
    ...(f.rule !== undefined && { rule: f.rule }),
    status: f.status,
    ...(f.reason !== undefined && { reason: f.reason }),
    ...(last !== undefined && { endpoint: last.endpoint }),
    ...(last?.failure !== undefined && { failure: last.failure }),
    durationMs: f.durationMs,
  };
}

/** Which failures GET /v1/failures returns: those of a service (either end), of a namespace, or all. */
export interface FailuresQuery {
  /** The service's name; with it, `namespace` defaults to `default`. */
  readonly service?: string;
  readonly namespace?: string;
  readonly limit: number;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The query parameters GET /v1/failures takes. */
const FAILURES_PARAMS: readonly string[] = ['service', 'namespace', 'limit'];

/**
 * The query of GET /v1/failures: `service` and `namespace` DNS labels, `limit` 1–500 (default 50).
 * Throws WEFT_ERR_API_BAD_REQUEST (400) naming the parameter.
 */
export function failuresQuery(url: URL): FailuresQuery {
  const bad = (path: string, message: string, got: string): WeftError => invalid('WEFT_ERR_API_BAD_REQUEST', `${path} ${message}, got ${JSON.stringify(got)}`, [{ path, message }]);
  // As /v1/tap does: a misspelt filter (`?servce=api`) must not quietly list every failure.
  for (const key of new Set(url.searchParams.keys())) {
    if (!FAILURES_PARAMS.includes(key)) throw invalid('WEFT_ERR_API_BAD_REQUEST', `${key}: unknown parameter (expected one of: ${FAILURES_PARAMS.join(', ')})`, [{ path: key, message: `unknown parameter (expected one of: ${FAILURES_PARAMS.join(', ')})` }]);
    if (url.searchParams.getAll(key).length > 1) throw invalid('WEFT_ERR_API_BAD_REQUEST', `${key}: given more than once`, [{ path: key, message: 'given more than once' }]);
  }
  const service = url.searchParams.get('service') ?? undefined;
  const namespace = url.searchParams.get('namespace') ?? undefined;
  if (service !== undefined && !DNS_LABEL.test(service)) throw bad('service', 'must be a service name (a DNS label)', service);
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) throw bad('namespace', 'must be a namespace (a DNS label)', namespace);
  const l = url.searchParams.get('limit');
  const limit = l === null ? DEFAULT_FAILURES_LIMIT : /^[0-9]{1,4}$/.test(l) ? Number(l) : NaN;
  if (!(limit >= 1 && limit <= MAX_FAILURES_LIMIT)) throw bad('limit', `must be a whole number from 1 to ${MAX_FAILURES_LIMIT}`, l ?? '');
  return { ...(service !== undefined && { service }), ...(namespace !== undefined && { namespace }), limit };
}

/** Whether a fate is a request that `q`'s service (or namespace) made or received. */
function concerns(f: FateView, q: FailuresQuery): boolean {
  if (q.service !== undefined) {
    const id = `${q.service}.${q.namespace ?? 'default'}`;
    return f.source.service === id || f.destination.service === id;
  }
  if (q.namespace !== undefined) {
    const suffix = `.${q.namespace}`;
    return f.source.service.endsWith(suffix) || f.destination.service.endsWith(suffix);
  }
  return true;
}

/**
 * GET /v1/failures: the sidecars' recent failed requests (5xx, no answer, or a refusing local
 * reply: FateRecord.failed), newest first, at most `q.limit`. A request that failed on several hops
 * is listed once per hop (each sidecar tells its own part).
 */
export async function recentFailures(targets: readonly AdminTarget[], q: FailuresQuery, o: FateLookupOptions = {}): Promise<RecentFailures> {
  const filtered = q.service !== undefined || q.namespace !== undefined;
  // Unfiltered, each sidecar's newest `limit` suffice; filtered, the filter runs here over whole rings.
  const perProxy = filtered ? SIDECAR_FAILED_RING : q.limit;
  const { items, unreachable } = await askAll(targets, `/fates/recent?failed=1&limit=${perProxy}`, o);
  const chosen = items.filter((f) => concerns(f, q)).sort((a, b) => b.time.localeCompare(a.time)).slice(0, q.limit);
  return { items: chosen.map(failureSummary), asked: targets.length, unreachable };
}

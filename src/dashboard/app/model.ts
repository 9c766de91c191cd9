// The dashboard's data model, pure and browser-free: the shapes of the /v1 answers it reads, how the
// topology graph is assembled from the catalog and the rolling stats, and how numbers are shown.
// Unit-tested in Node (model.test.ts); rendered by topology.ts and the pages.

/** One service or edge in `GET /v1/stats` (golden signals over the control plane's rolling window). */
export interface Signals {
  readonly requests: number;
  readonly successes: number;
  /** Requests per second over the window. */
  readonly rps: number;
  /** successes / requests, 0–1; absent or NaN-free when there were no requests. */
  readonly successRate: number;
  /** Latency percentiles in milliseconds; null (or its fields null) when there were no requests. */
  readonly latencyMs: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null } | null;
}

export interface ServiceStats extends Signals {
  /** `name.namespace`. */
  readonly service: string;
  readonly proxies: number;
}

export interface EdgeStats extends Signals {
  /** Client service, `name.namespace`. */
  readonly source: string;
  /** Server service, `name.namespace`. */
  readonly destination: string;
}

/** `GET /v1/stats`. */
export interface StatsResponse {
  readonly windowSeconds: number;
  /** Epoch milliseconds. */
  readonly generatedAt: number;
  readonly services: readonly ServiceStats[];
  readonly edges: readonly EdgeStats[];
}

/** One item of `GET /v1/catalog/services`. */
export interface CatalogService {
  readonly name: string;
  readonly namespace: string;
  readonly instances: number;
  readonly passing: number;
}

/** A topology node: a service, with its catalog counts and (when stats flow) its signals. */
export interface GraphNode {
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly instances?: number;
  readonly passing?: number;
  readonly stats?: ServiceStats;
}

/** A topology edge: client service → server service with the edge's signals. */
export interface GraphEdge {
  readonly id: string;
  readonly source: string;
  readonly destination: string;
  readonly stats: EdgeStats;
}

export interface Graph {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}

/** The id the stats use for a service: `name.namespace`. */
export function serviceId(name: string, namespace: string): string {
  return `${name}.${namespace}`;
}

/** The stats' destination for calls that leave the mesh (no service, no namespace). */
export const PASSTHROUGH = 'passthrough';

/** Splits `name.namespace` at the last dot; an id without one (`passthrough`) has namespace ''. */
export function parseServiceId(id: string): { name: string; namespace: string } {
  const dot = id.lastIndexOf('.');
  return dot <= 0 ? { name: id, namespace: '' } : { name: id.slice(0, dot), namespace: id.slice(dot + 1) };
}

/**
 * The topology: every catalog service plus every service the stats name (a client without a
 * catalog entry still shows up), and one edge per stats edge. Sorted, so that the layout is stable
 * from one refresh to the next.
 */
export function buildGraph(catalog: readonly CatalogService[], stats: StatsResponse | undefined): Graph {
  const nodes = new Map<string, GraphNode>();
  for (const s of catalog) {
    const id = serviceId(s.name, s.namespace);
    nodes.set(id, { id, name: s.name, namespace: s.namespace, instances: s.instances, passing: s.passing });
  }
  const ensure = (id: string): void => {
    if (!nodes.has(id)) nodes.set(id, { id, ...parseServiceId(id) });
  };
  for (const s of stats?.services ?? []) {
    ensure(s.service);
    nodes.set(s.service, { ...nodes.get(s.service)!, stats: s });
  }
  const edges: GraphEdge[] = [];
  for (const e of stats?.edges ?? []) {
    ensure(e.source);
    ensure(e.destination);
    edges.push({ id: `${e.source}->${e.destination}`, source: e.source, destination: e.destination, stats: e });
  }
  return {
    nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
    edges: edges.sort((a, b) => a.id.localeCompare(b.id)),
  };
}

/** Requests per second: one decimal below 100, whole numbers above. */
export function formatRps(rps: number): string {
  if (!Number.isFinite(rps)) return '–';
  return rps < 100 ? `${rps.toFixed(1)} rps` : `${Math.round(rps)} rps`;
}

/** A 0–1 rate as a percentage with one decimal; '–' when there is nothing to rate. */
export function formatRate(rate: number | null | undefined, requests: number): string {
  if (requests === 0 || rate === undefined || rate === null || !Number.isFinite(rate)) return '–';
  return `${(rate * 100).toFixed(1)}%`;
}

/** Milliseconds: two significant decimals below 10 ms, whole ms below 10 s, seconds above. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '–';
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The one-line label of an edge: rate, success rate and p99. */
export function edgeLabel(s: Signals): string {
  return `${formatRps(s.rps)} · ${formatRate(s.successRate, s.requests)} · p99 ${formatMs(s.latencyMs?.p99)}`;
}

/** How healthy a success rate looks: the colour class of a node or an edge. */
export function healthClass(s: Signals | undefined): 'idle' | 'good' | 'warn' | 'bad' {
  if (!s || s.requests === 0) return 'idle';
  if (s.successRate >= 0.99) return 'good';
  if (s.successRate >= 0.9) return 'warn';
  return 'bad';
}

/** The Kubernetes topology label weft reads an instance's zone from. */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** A resource as the API returns it (the parts the service page reads). */
export interface ApiResource {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly resourceVersion?: string };
  readonly spec?: Record<string, unknown>;
}

interface Ref {
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
}

function refersTo(refs: unknown, name: string, namespace: string, ownNamespace: string): boolean {
  if (!Array.isArray(refs)) return false;
  return refs.some((r: Ref) => r && r.name === name && (r.namespace ?? ownNamespace) === namespace && (r.kind === undefined || r.kind === 'Service'));
}

/**
 * The resources in force for a service: routes whose `parentRefs` name it (Gateway API mesh
 * attachment) and policies whose `targetRef`/`targetRefs` name it (Gateway API policy attachment).
 */
export function resourcesFor(all: readonly ApiResource[], name: string, namespace: string): { routes: ApiResource[]; policies: ApiResource[] } {
  const routes: ApiResource[] = [];
  const policies: ApiResource[] = [];
  for (const r of all) {
    const spec = r.spec ?? {};
    const ns = r.metadata.namespace;
    if (r.kind.endsWith('Route')) {
      if (refersTo(spec.parentRefs, name, namespace, ns)) routes.push(r);
    } else if (refersTo(spec.targetRefs, name, namespace, ns) || refersTo(spec.targetRef === undefined ? undefined : [spec.targetRef], name, namespace, ns)) {
      policies.push(r);
    }
  }
  return { routes, policies };
}

// ── request fates (GET /v1/requests/{id}, GET /v1/failures) ─────────────────────────────────────

/** The inspector's address for a request id (`#/requests/ID`, the id percent-encoded). */
export function requestHref(requestId: string): string {
  return `#/requests/${encodeURIComponent(requestId)}`;
}

/** An ISO time as the inspector shows it: `HH:MM:SS.mmm` (UTC, as the sidecars report it). */
export function formatTime(iso: string): string {
  return /^\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d\.\d{3})Z$/.exec(iso)?.[1] ?? iso;
}

/** One attempt's outcome in words: `answered 200`, or `connect (ECONNREFUSED)` and what came back. */
export function attemptOutcome(a: { readonly status: number; readonly failure?: string; readonly detail?: string }): string {
  if (a.failure === undefined) return `answered ${a.status}`;
  return `${a.failure}${a.detail ? ` (${a.detail})` : ''}${a.status ? `, answered ${a.status}` : ''}`;
}

/**
 * Why a request failed, in a few words: the proxy's own reason (x-weft-reason) when it answered
 * itself, else the last attempt's failure kind, else what the endpoint answered.
 */
export function failureWhy(f: { readonly status: number; readonly reason?: string; readonly failure?: string; readonly endpoint?: string }): string {
  if (f.reason !== undefined) return f.reason;
  if (f.failure !== undefined) return `${f.failure}${f.endpoint ? ` at ${f.endpoint}` : ''}`;
  if (f.status === 0) return 'no answer';
  return `${f.endpoint ?? 'the endpoint'} answered ${f.status}`;
}

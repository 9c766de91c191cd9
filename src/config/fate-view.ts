// The JSON of a request's fate as it travels: a sidecar's admin listener serves it (/fates), the
// control plane merges the sidecars' answers (GET /v1/requests/{id}, GET /v1/failures), and
// `weft why` and the dashboard's inspector read it. One shape on every side, and the order of hops.

export type Direction = 'outbound' | 'inbound';

/** How many fates each sidecar keeps: its last RECENT_FATES requests and, apart, its last FAILED_FATES failures (proxy/observe/fate-ring.ts says why so few). */
export const RECENT_FATES = 256;
export const FAILED_FATES = 500;

/** The rings' sizes in words, for the messages that say why a request id was not found. */
export const RINGS_IN_WORDS = `each sidecar keeps its last ${RECENT_FATES} requests and last ${FAILED_FATES} failures`;

/** One attempt at one endpoint, as a fate view shows it. Times in ms from the fate's start. */
export interface AttemptView {
  /** `address:port` of the endpoint. */
  readonly endpoint: string;
  /** The SPIFFE id the endpoint had to prove (mutual TLS); absent: plaintext. */
  readonly identity?: string;
  /** The endpoint's answer (0: none came). */
  readonly status: number;
  /** Why there is no complete answer (attempt-rules.ts FailureKind words); absent: it answered. */
  readonly failure?: string;
  /** The failure in words (an errno, the peer's x-weft-reason). */
  readonly detail?: string;
  readonly startMs: number;
  readonly durationMs: number;
}

/** The JSON of a fate for /fates and `weft why`: times as ISO strings and durations in ms. */
export interface FateView {
  readonly requestId: string;
  /** The id of the proxy that carried this hop. */
  readonly proxy: string;
  readonly direction: Direction;
  /** When the request arrived at this proxy (ISO 8601, ms precision). */
  readonly time: string;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly parentSpanId?: string;
  readonly sampled: boolean;
  /** `service.namespace` of both ends (`unknown` when not known). */
  readonly source: { readonly service: string; readonly identity?: string };
  readonly destination: { readonly service: string; readonly identity?: string };
  readonly method: string;
  readonly authority: string;
  readonly path: string;
  /** The HTTPRoute (`namespace/name`) and rule that matched, when routes decided. */
  readonly route?: string;
  readonly rule?: string;
  /** Inbound: the filters that judged it (jwt-authn, authz, rate-limit), in order. */
  readonly filters: readonly string[];
  /** What policies and filters decided on the way, in words. */
  readonly decisions: readonly string[];
  readonly attempts: readonly AttemptView[];
  /** The status the client got (0: none; 499: it went away first). */
  readonly status: number;
  /** The local reply's reason (x-weft-reason) and message, when this proxy answered itself. */
  readonly reason?: string;
  readonly message?: string;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly durationMs: number;
  /** Still in flight when asked. */
  readonly inFlight: boolean;
}

/** A sidecar the control plane could not ask, and why (its admin listener's address in the words). */
export interface UnreachableProxy {
  readonly proxy: string;
  readonly error: string;
}

/**
 * GET /v1/requests/{id} (and `weft why -o json`): every hop's fate in the order they began, how
 * many sidecars were asked, and those that could not be.
 */
export interface RequestFates {
  readonly requestId: string;
  readonly items: readonly FateView[];
  readonly asked: number;
  readonly unreachable: readonly UnreachableProxy[];
}

/** One failed request in GET /v1/failures: enough to list it and to link to its full fate. */
export interface FailureSummary {
  readonly time: string;
  readonly requestId: string;
  readonly proxy: string;
  readonly direction: Direction;
  /** `service.namespace` of the caller and of the service called. */
  readonly source: string;
  readonly destination: string;
  readonly method: string;
  readonly path: string;
  readonly route?: string;
  readonly rule?: string;
  readonly status: number;
  /** x-weft-reason when the proxy answered itself. */
  readonly reason?: string;
  /** The last endpoint tried, and how that attempt failed. */
  readonly endpoint?: string;
  readonly failure?: string;
  readonly durationMs: number;
}

/** GET /v1/failures: the newest first. */
export interface RecentFailures {
  readonly items: readonly FailureSummary[];
  readonly asked: number;
  readonly unreachable: readonly UnreachableProxy[];
}

/**
 * The order hops began in. Times have millisecond precision, so hops of one request often tie: then
 * on one proxy the inbound hop comes first (the app calls out while serving it), and across proxies
 * the outbound hop does (the caller's sidecar sends before the callee's receives).
 */
export function hopOrder(a: FateView, b: FateView): number {
  const byTime = a.time.localeCompare(b.time);
  if (byTime !== 0 || a.direction === b.direction) return byTime;
  const inboundFirst = a.direction === 'inbound' ? -1 : 1;
  return a.proxy === b.proxy ? inboundFirst : -inboundFirst;
}

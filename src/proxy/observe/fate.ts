// The fate record: one small object per request, allocated when it arrives and filled as it flows
// (identity, route and rule, decisions, each attempt, the end). Metrics' peers — the ring behind
// `weft why`, the access log and the spans — all read it once the request has ended.

import type { LocalReplyReason } from '../http/local-reply.ts';
import type { Direction, FateView } from '../../config/fate-view.ts';

// The view's types live in config/ (the control plane, the CLI and the dashboard read them too).
export type { Direction, FateView } from '../../config/fate-view.ts';

/** Where an attempt went: `address:port` already joined, or the endpoint it is joined from when read. */
export type AttemptEndpoint = string | { readonly address: string; readonly port: number };

/**
 * One attempt at one endpoint (forward.ts reports it when the balancer hears its outcome). The
 * request path stores the endpoint it picked as is; `endpoint` joins `address:port` only when a
 * view, a log line or a span reads it.
 */
export class AttemptFate {
  readonly #to: AttemptEndpoint;
  /** The SPIFFE id the endpoint had to prove (mutual TLS); absent: plaintext. */
  readonly identity: string | undefined;
  /** The endpoint's answer (0: none came). */
  readonly status: number;
  /** Why there is no complete answer (attempt-rules.ts FailureKind words); absent: it answered. */
  failure: string | undefined;
  /** What the failure was in words (an errno, the peer's x-weft-reason). */
  detail: string | undefined = undefined;
  /** performance.now() when the attempt started, and how long it took (ms). */
  readonly startedAt: number;
  readonly durationMs: number;

  constructor(to: AttemptEndpoint, identity: string | undefined, status: number, failure: string | undefined, startedAt: number, durationMs: number) {
    this.#to = to;
    this.identity = identity;
    this.status = status;
    this.failure = failure;
    this.startedAt = startedAt;
    this.durationMs = durationMs;
  }

  /** `address:port` of the endpoint. */
  get endpoint(): string {
    const to = this.#to;
    return typeof to === 'string' ? to : `${to.address}:${to.port}`;
  }

  /** The plain fields, `endpoint` included (a getter is not an own property JSON would see). */
  toJSON(): { endpoint: string; identity: string | undefined; status: number; failure: string | undefined; detail: string | undefined; startedAt: number; durationMs: number } {
    return { endpoint: this.endpoint, identity: this.identity, status: this.status, failure: this.failure, detail: this.detail, startedAt: this.startedAt, durationMs: this.durationMs };
  }
}

/**
 * A request's fate. Fields are plain and mutable: handlers and forward.ts fill them in place; a
 * request costs this object, plus an array only when it has attempts or decisions.
 */
export class FateRecord {
  readonly direction: Direction;
  readonly requestId: string;
  /** performance.now() at arrival; `performance.timeOrigin + startedAt` is the epoch time. */
  readonly startedAt: number;
  readonly method: string;
  readonly authority: string;
  /** The request target as received (origin-form path, or the absolute URL through HTTP_PROXY). */
  readonly path: string;
  /** 32 hex digits; absent when the request carries no trace context and tracing is off. */
  traceId: string | undefined = undefined;
  /** This hop's span (only when tracing is on) and the caller's. */
  spanId: string | undefined = undefined;
  parentSpanId: string | undefined = undefined;
  sampled = false;
  /** `service.namespace` of both ends (`unknown` when the caller is not known). */
  sourceService: string;
  sourceIdentity: string | undefined = undefined;
  destinationService = 'unknown';
  destinationIdentity: string | undefined = undefined;
  /** The HTTPRoute (`namespace/name`) and rule that matched, when routes decided. */
  route: string | undefined = undefined;
  rule: string | undefined = undefined;
  /** The inbound filters that judged the request, in order (the chain in force; no copy per request). */
  filters: readonly { readonly name: string }[] | undefined = undefined;
  /** What policies and filters decided on the way, in words (`rate-limit: …`, `fault: delay 200ms`). */
  decisions: string[] | undefined = undefined;
  attempts: AttemptFate[] | undefined = undefined;
  /** The status the client got (0 until the end; 499 when it went away first). */
  status = 0;
  /** The local reply's reason (x-weft-reason) and message, when this proxy answered itself. */
  reason: LocalReplyReason | undefined = undefined;
  message: string | undefined = undefined;
  /** Body bytes read from the client and sent back to it (HTTP/1.1 forwarding; 0 where not counted). */
  bytesReceived = 0;
  bytesSent = 0;
  /** performance.now() at the end; 0 while in flight. */
  endedAt = 0;
  /** Fields this hop adds to the request it sends on (x-request-id, traceparent); absent: none. */
  headers: Record<string, string> | undefined = undefined;

  constructor(direction: Direction, requestId: string, startedAt: number, method: string, authority: string, path: string, sourceService: string) {
    this.direction = direction;
    this.requestId = requestId;
    this.startedAt = startedAt;
    this.method = method;
    this.authority = authority;
    this.path = path;
    this.sourceService = sourceService;
  }

  /** A policy's or filter's decision, in words. */
  decide(what: string): void {
    (this.decisions ??= []).push(what);
  }

  /**
   * An attempt's outcome (status 0: none), as the balancer hears it. `endpoint`: `address:port`, or
   * the endpoint snapshot itself (the request path's case: nothing is formatted until read).
   */
  attempt(endpoint: AttemptEndpoint, identity: string | undefined, status: number, failure: string | undefined, startedAt: number, endedAt: number): void {
    const a = new AttemptFate(endpoint, identity, status, failure, startedAt, endedAt - startedAt);
    // Most requests make one attempt: an array of exactly one, grown only by a retry.
    if (this.attempts === undefined) this.attempts = [a];
    else this.attempts.push(a);
  }

  /** The last attempt's failure in words (forward.ts knows it only after reporting the outcome). */
  failedWith(kind: string, detail: string): void {
    const last = this.attempts?.[this.attempts.length - 1];
    if (last === undefined) return;
    last.failure = kind;
    last.detail = detail;
  }

  /** A 5xx, no answer at all, or a reply this proxy made itself that refused the request. */
  get failed(): boolean {
    return this.status >= 500 || this.status === 0 || (this.reason !== undefined && this.status >= 400);
  }
}

const ms = (x: number): number => Math.round(x * 1000) / 1000;

export function fateView(f: FateRecord, proxy: string): FateView {
  return {
    requestId: f.requestId,
    proxy,
    direction: f.direction,
    time: new Date(performance.timeOrigin + f.startedAt).toISOString(),
    ...(f.traceId !== undefined && { traceId: f.traceId }),
    ...(f.spanId !== undefined && { spanId: f.spanId }),
    ...(f.parentSpanId !== undefined && { parentSpanId: f.parentSpanId }),
    sampled: f.sampled,
    source: { service: f.sourceService, ...(f.sourceIdentity !== undefined && { identity: f.sourceIdentity }) },
    destination: { service: f.destinationService, ...(f.destinationIdentity !== undefined && { identity: f.destinationIdentity }) },
    method: f.method,
    authority: f.authority,
    path: f.path,
    ...(f.route !== undefined && { route: f.route }),
    ...(f.rule !== undefined && { rule: f.rule }),
    filters: f.filters?.map((x) => x.name) ?? [],
    decisions: f.decisions ?? [],
    attempts: (f.attempts ?? []).map((a) => ({
      endpoint: a.endpoint,
      ...(a.identity !== undefined && { identity: a.identity }),
      status: a.status,
      ...(a.failure !== undefined && { failure: a.failure }),
      ...(a.detail !== undefined && { detail: a.detail }),
      startMs: ms(a.startedAt - f.startedAt),
      durationMs: ms(a.durationMs),
    })),
    status: f.status,
    ...(f.reason !== undefined && { reason: f.reason }),
    ...(f.message !== undefined && { message: f.message }),
    bytesReceived: f.bytesReceived,
    bytesSent: f.bytesSent,
    durationMs: ms((f.endedAt || performance.now()) - f.startedAt),
    inFlight: f.endedAt === 0,
  };
}

// Carries one request to an upstream endpoint and its response back, streaming both bodies. Each
// attempt picks an endpoint; an attempt that provably never reached the app is retried elsewhere
// (the retry rule in docs/concepts/retries-and-local-replies.md), and one that met a stale pooled
// connection goes again to the same endpoint. One timer per request times the response head, idle
// gaps and an optional total. The retry policy (resilience/retry: the BackendPolicy's `retries`, or
// a route's `retry`) widens the rule to the answers and failures it names (replaying a body kept up
// to RETRY_BODY_LIMIT_BYTES), adds a backoff, bounds each attempt, and asks the Service's budget.
// HTTP/2 requests go upstream as h2c (forward-h2.ts), others as HTTP/1.1 (the lean client here, or
// node:http's in forward-h1-node.ts for comparison); what the transports share is in attempt-rules.ts.

import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';
import { completeTimeouts, type BackendPolicySpec, type BackendTimeouts } from '../../config/kinds/backend-policy.ts';
import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import type { AttemptFailure, Pick, Picker } from '../balance/picker.ts';
import type { UpstreamPool } from '../transport/upstream-pool.ts';
import { BODY_CHUNKED, BODY_NONE, BODY_RAW, requestHead, type H1Exchange, type H1Handler, type H1Stage } from '../transport/h1-client.ts';
import type { H1ServerRequest, H1ServerResponse } from '../transport/h1-server-message.ts';
import { forwardableHeaders, parsedContentLength, wantsTrailers } from './headers.ts';
import { REASON_HEADER, sendGrpcReply, sendLocalReply, type LocalReplyReason } from './local-reply.ts';
import type { MirrorTee } from '../filters/request-mirror/mirror.ts';
import { splice } from '../transport/tunnel.ts';
import { upgradeAccepted } from './upgrade.ts';
import { forwardInterim, forwardTrailers } from './response-shapes.ts';
import { ATTEMPTS_HEADER, BUDGET_EXHAUSTED_HEADER, CONNECT_ERRORS, IDEMPOTENT, flatHeader, peerFailureKind, withoutContentLength, attemptFailureOf, type FailureKind, type RetryReason } from './attempt-rules.ts';
import { attemptH2 } from './forward-h2.ts';
import { attemptH1Node } from './forward-h1-node.ts';
import { RETRY_BODY_LIMIT_BYTES, type RoutePolicy } from '../routing/route-policy.ts';
import { backendRetryPolicy, retriesAnswer, retriesFailure, type RetryPolicy } from '../resilience/retry/retry-policy.ts';
import { retryBackoffMs } from '../resilience/retry/backoff.ts';
import type { RetryBudget } from '../resilience/retry/budget.ts';
import { CIRCUIT_LIMIT_FIELD, CIRCUIT_LIMIT_HEADER, type CircuitBreaker, type CircuitLimit } from '../resilience/circuit-breaker/circuit-breaker.ts';
import type { FateRecord } from '../observe/fate.ts';
import { DEADLINE_HEADER, GRPC_TIMEOUT_HEADER, deadlineTimes, formatDeadline, formatGrpcTimeout, isGrpcRequest, readDeadline, timeLeft } from '../resilience/deadline/deadline.ts';

export type AnyRequest = IncomingMessage | Http2ServerRequest | H1ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse | H1ServerResponse;
export { ATTEMPTS_HEADER, attemptFailureOf, type FailureKind, type RetryReason } from './attempt-rules.ts';
// An HTTP/1.1 request and response come from node:http's server or the lean one (h1-server.ts),
// which has the same shape for what is used here; the code below names node:http's types for both.

export interface ForwardTarget {
  readonly picker: Picker;
  readonly policy: BackendPolicySpec;
  /** Value for `:authority`/`host` upstream (the mesh host the client asked for). */
  readonly authority: string;
  /** Origin-form path to send upstream. */
  readonly path: string;
  /** Extra request headers this hop adds (e.g. x-weft-source); an undefined value removes the incoming field. */
  readonly addHeaders?: OutgoingHttpHeaders;
  /**
   * The protocols an HTTP/1.1 request asks to upgrade to (http/upgrade.ts): it goes upstream with
   * `Connection: upgrade` and this `Upgrade`, on a connection of its own; a 101 naming one of them
   * splices the two connections (the response must be an H1ServerResponse), any other answer is an
   * ordinary response.
   */
  readonly upgrade?: string;
  /** A RequestMirror copy that takes the request body as it streams (HTTP/1.1 requests). */
  readonly mirror?: MirrorTee;
  /** Edits the upstream response's fields ([name, value, …], lower-case names) before they go to the client (ResponseHeaderModifier). */
  readonly editResponse?: (fields: readonly string[]) => string[];
  /**
   * The matched HTTPRoute rule's `timeouts` and `retry` (route-policy.ts): they override `policy`'s
   * requestMs and retries for this request, and add a per-attempt bound (backendRequest).
   */
  readonly route?: RoutePolicy;
  /**
   * The destination Service port's circuit breaker (resilience/circuit-breaker/): the request is
   * admitted before its first pick, a new connection and a retry are checked where they start.
   */
  readonly breaker?: CircuitBreaker;
  /** ring-hash/maglev: the request's hash key (hashing/hash-policy.ts), passed to every pick. */
  readonly hashKey?: number;
}

export interface ForwardContext {
  readonly pool: UpstreamPool;
  readonly proxyId: string;
  /** When the request arrived (performance.now()): the first attempt's latency counts from there. */
  readonly startedAt?: number;
  /** Called once with the final status (local replies included), whether it was a local reply, and when (performance.now()). */
  readonly onComplete: (status: number, reason: LocalReplyReason | undefined, attempts: number, endedAt: number) => void;
  /** An extra attempt; `stale-connection`: the same endpoint again on a new connection, outside the policy's attempts. */
  readonly onRetry?: (reason: RetryReason) => void;
  /** The destination Service's retry budget in this sidecar (resilience/retry/budget.ts); absent: retries are bounded by attempts alone. */
  readonly budget?: RetryBudget;
  /** Called once for a request a retry was refused to because the budget was exhausted. */
  readonly onBudgetExhausted?: () => void;
  /** A circuit-breaker limit refused the request (503 circuit-open) or a retry (the failure stands). */
  readonly onCircuitOpen?: (limit: CircuitLimit) => void;
  /**
   * The request's fate record (observe/fate.ts): each attempt, its failure, the local reply's
   * message and the body bytes are written into it; its `headers` (x-request-id, traceparent) go upstream.
   */
  readonly fate?: FateRecord;
}

/** The timers' local-reply reasons (504 before the response head; after it, the stream is cut). */
type TimeoutReason = 'request-timeout' | 'response-header-timeout' | 'stream-idle-timeout' | 'backend-request-timeout' | 'deadline-exceeded';
/** grpc-status DEADLINE_EXCEEDED (gRPC status codes). */
const GRPC_DEADLINE_EXCEEDED = 4;

/** RST_STREAM INTERNAL_ERROR (RFC 9113 §7): how an HTTP/2 response that was cut ends; http2.constants without loading node:http2. */
const NGHTTP2_INTERNAL_ERROR = 2;
/** WEFT_H1_CLIENT=node: HTTP/1.1 upstream through node:http's client (the old path, kept for comparison). */
const NODE_H1_CLIENT = process.env.WEFT_H1_CLIENT === 'node';
/**
 * The request body's framing as the server side's parser decided it (RFC 9112 §6.3): -1 chunked,
 * N ≥ 0 a Content-Length of N bytes, undefined no framing field. The lean parser and llhttp refuse
 * what could be read two ways (both fields, bad or conflicting lengths); nghttp2 holds an HTTP/2
 * request to its Content-Length. Each upstream writer emits its framing from this, never a copy.
 */
function requestFraming(req: AnyRequest): number | undefined {
  if (req.httpVersionMajor !== 2 && req.headers['transfer-encoding'] !== undefined) return -1;
  return parsedContentLength(req.headers['content-length']);
}

export function forwardRequest(req: AnyRequest, res: AnyResponse, target: ForwardTarget, ctx: ForwardContext): void {
  new Forwarding(req, res, target, ctx).attempt();
}

type EndpointPick = Extract<Pick, { kind: 'endpoint' }>;

/**
 * One request on its way upstream: its attempts, whether a failed one may go again, and the final
 * answer. Its steps are methods, not closures made per request: on the hot HTTP/1.1 path a request
 * costs this object and one per attempt.
 */
export class Forwarding {
  readonly req: AnyRequest;
  readonly res: AnyResponse;
  readonly target: ForwardTarget;
  readonly ctx: ForwardContext;
  readonly method: string;
  /** The request body's framing (requestFraming): -1 chunked, N bytes, undefined none. */
  readonly framing: number | undefined;
  readonly hasBody: boolean;
  readonly maxAttempts: number;
  /** Endpoints already tried, built only when there is a retry (most requests have one attempt). */
  tried: Set<string> | undefined = undefined;
  attempts = 0;
  bodyStarted = false;
  finished = false;
  /** The attempt in flight: the client going away or the request timeout cancels it. */
  current: Attempt | undefined = undefined;
  lastFailure: { kind: FailureKind; endpoint: EndpointSnapshot; detail: string } | undefined = undefined;
  // Timing (see onTimer): one timer per request, re-armed only when it fires or the request ends;
  // the byte paths only bump `activity`, so a busy stream costs no timer work per chunk.
  readonly timeouts: BackendTimeouts;
  /** When the request arrived (performance.now()). */
  readonly arrivedAt: number;
  timer: NodeJS.Timeout | undefined = undefined;
  /** When the armed timer fires. */
  timerAt = Infinity;
  /** Bumped by every byte-moving event: request body, response head and body, client drain. */
  activity = 0;
  /** `activity` at the last timer check, and since when it has not moved (a check's time). */
  seenActivity = 0;
  quietSince: number;
  /** When the request had been sent in full (its arrival when it has no body); -1 before. */
  requestEndedAt = -1;
  /** A response head came from upstream (the response-head timer is over). */
  responded = false;
  /** The HTTP/1.1 request head is the same for every attempt: built once, on the first. */
  h1Head: string | undefined = undefined;
  readonly h1Body: number;
  /** The retry policy in force: the route's `retry`, else the BackendPolicy's `retries` (compiled once per snapshot). */
  readonly retry: RetryPolicy;
  /** Each attempt's bound in ms (0: none): the route's `timeouts.backendRequest`, else `retries.perTryTimeoutMs`. */
  readonly backendRequestMs: number;
  /** A retry was refused because the Service's retry budget was spent: the failure goes back as is, marked. */
  budgetExhausted = false;
  /**
   * The request body as read so far, kept for a replay when the route retries (RETRY_BODY_LIMIT_BYTES
   * at most; undefined once over, or when nothing is kept); `replayDone` once it was read to its end.
   */
  replay: Buffer[] | undefined = undefined;
  replayBytes = 0;
  replayDone = false;
  /** The running attempt's backendRequest timer, and the wait before the next attempt. */
  tryTimer: NodeJS.Timeout | undefined = undefined;
  backoffTimer: NodeJS.Timeout | undefined = undefined;
  // Overload protection (docs/concepts/overload.md). The breaker's counts this request holds, each
  // released once in complete().
  readonly breaker: CircuitBreaker | undefined;
  holdsRequest = false;
  holdsRetry = false;
  /** A retry was not made because the breaker's maxRetries was reached (counted once, at the end). */
  retryOverflow = false;
  /**
   * The deadline the request carried (x-weft-deadline, grpc-timeout), performance.now() time;
   * Infinity: none. `sendDeadlineAt`: what the upstream request is told (that, or sooner when this
   * hop's request timeout ends first); Infinity: nothing is sent. `deadlineError`: a malformed
   * x-weft-deadline, answered 400 before the pick.
   */
  deadlineAt = Infinity;
  sendDeadlineAt = Infinity;
  deadlineError: string | undefined = undefined;
  /** A gRPC call: its deadline goes on in grpc-timeout too, and expires as grpc-status 4. */
  grpc = false;
  /** The request's fate record (ctx.fate), read on the byte paths. */
  readonly fate: FateRecord | undefined;
  /** The target's addHeaders plus the fate's (request id, traceparent), merged once. */
  readonly addHeaders: OutgoingHttpHeaders | undefined;

  constructor(req: AnyRequest, res: AnyResponse, target: ForwardTarget, ctx: ForwardContext) {
    this.req = req;
    this.res = res;
    this.target = target;
    this.ctx = ctx;
    this.method = req.method ?? 'GET';
    const framing = (this.framing = requestFraming(req));
    this.hasBody = req.httpVersionMajor === 2 ? !(req as Http2ServerRequest).stream.endAfterHeaders : framing !== undefined && framing !== 0;
    const route = target.route;
    const backendRetry = backendRetryPolicy(target.policy.retries);
    const retry = (this.retry = route?.retry ?? backendRetry);
    // The policy's attempts bound every retry of its requests, the never-reached-the-app ones included.
    this.maxAttempts = 1 + retry.attempts;
    this.h1Body = !this.hasBody ? BODY_NONE : framing === -1 ? BODY_CHUNKED : BODY_RAW;
    const timeouts = completeTimeouts(target.policy.timeouts);
    this.timeouts = route?.requestMs === undefined ? timeouts : { ...timeouts, requestMs: route.requestMs };
    this.backendRequestMs = route?.backendRequestMs ?? backendRetry.perTryTimeoutMs;
    // Keep the body for a replay only when a retry may want it and it can fit (a declared length over
    // the bound is never kept; a chunked one is kept until it passes the bound).
    if (retry.widened && retry.attempts > 0 && this.hasBody && (retry.retryNonIdempotent || IDEMPOTENT.has(this.method) || (retry.grpcCodes !== 0 && isGrpc(req))) && (framing === undefined || framing <= RETRY_BODY_LIMIT_BYTES)) this.replay = [];
    // Every request deposits into its Service's budget; retries withdraw (fail below).
    ctx.budget?.recordRequest();
    this.arrivedAt = this.quietSince = ctx.startedAt ?? performance.now();
    this.breaker = target.breaker;
    const fate = (this.fate = ctx.fate);
    const own = fate?.headers;
    this.addHeaders = own === undefined ? target.addHeaders : target.addHeaders === undefined ? own : { ...target.addHeaders, ...own };
    // Two property reads for a request without a deadline; parsing only when one is there.
    const weftDeadline = req.headers[DEADLINE_HEADER];
    const grpcTimeout = req.headers[GRPC_TIMEOUT_HEADER];
    if (weftDeadline !== undefined || grpcTimeout !== undefined) this.readDeadline(weftDeadline, grpcTimeout);
    if (!this.hasBody) this.requestEndedAt = this.arrivedAt;
    this.armTimer(this.arrivedAt, false);
    // The client went away: stop the upstream work too.
    (res as EventEmitter).on('close', () => {
      if (!this.finished) {
        this.current?.cancel();
        this.complete(499);
      }
    });
  }

  complete(status: number, reason?: LocalReplyReason, at = performance.now()): void {
    if (this.finished) return;
    this.finished = true;
    const breaker = this.breaker;
    if (breaker !== undefined) {
      // Every way a request ends comes here once: the breaker's counts never leak.
      if (this.holdsRequest) breaker.endRequest();
      if (this.holdsRetry) breaker.endRetry();
      this.holdsRequest = this.holdsRetry = false;
      this.current?.endPending();
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.tryTimer !== undefined) clearTimeout(this.tryTimer);
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    if (this.budgetExhausted) this.ctx.onBudgetExhausted?.();
    if (this.retryOverflow) this.ctx.onCircuitOpen?.('max-retries');
    this.ctx.onComplete(status, reason, this.attempts, at);
  }

  /** Reads the request's deadline fields (resilience/deadline/deadline.ts), once, at arrival. */
  readDeadline(weft: string | string[] | undefined, grpcTimeout: string | string[] | undefined): void {
    const grpc = (this.grpc = isGrpcRequest(this.req.headers['content-type']));
    const d = readDeadline(weft, grpcTimeout, grpc);
    if (d.kind === 'invalid') this.deadlineError = d.message;
    if (d.kind !== 'deadline') return;
    // This hop's own request timeout shortens what the next hop is told; it does not start a
    // deadline of its own (docs/concepts/overload.md, "Deadlines").
    const times = deadlineTimes(this.arrivedAt, d.ms, this.timeouts.requestMs);
    this.deadlineAt = times.at;
    this.sendDeadlineAt = times.sendAt;
  }

  /** This hop's extra request fields, plus the time left when the request carries a deadline (read at each attempt's send). */
  extraHeaders(): OutgoingHttpHeaders | undefined {
    const add = this.addHeaders;
    if (this.sendDeadlineAt === Infinity) return add;
    const left = timeLeft(this.sendDeadlineAt, performance.now());
    const extra: OutgoingHttpHeaders = { ...add, [DEADLINE_HEADER]: formatDeadline(left) };
    if (this.grpc) extra[GRPC_TIMEOUT_HEADER] = formatGrpcTimeout(left);
    return extra;
  }

  /** A circuit-breaker limit refused the request: 503 at once, naming the limit. */
  circuitOpen(limit: CircuitLimit): void {
    this.ctx.onCircuitOpen?.(limit);
    const field = CIRCUIT_LIMIT_FIELD[limit];
    const message = `circuit breaker open: ${field} (${this.breaker?.limits[field]}) reached for this Service (BackendPolicy circuitBreaker.${field})`;
    sendLocalReply(this.res, 503, 'circuit-open', message, this.ctx.proxyId, { [CIRCUIT_LIMIT_HEADER]: limit });
    if (this.fate !== undefined) this.fate.message = message;
    this.complete(503, 'circuit-open');
  }

  reply(status: number, reason: LocalReplyReason, message: string): void {
    const extra = this.attempts > 1 || this.budgetExhausted ? {} as Record<string, string> : undefined;
    if (this.attempts > 1) extra![ATTEMPTS_HEADER] = String(this.attempts);
    if (this.budgetExhausted) extra![BUDGET_EXHAUSTED_HEADER] = 'true';
    sendLocalReply(this.res, status, reason, message, this.ctx.proxyId, extra);
    if (this.fate !== undefined) this.fate.message = message;
    this.complete(status, reason);
  }

  /**
   * Arms the timer for the next moment one of the timeouts may expire: the total deadline, the
   * response head's, or the idle one. Right after activity was seen the idle check comes a quarter
   * of streamIdleMs later, to learn whether the stream went quiet; a quiet stream is cut
   * streamIdleMs after the check that first found it quiet, so between 1 and 1.25 × streamIdleMs
   * after its last byte.
   */
  armTimer(now: number, sawActivity: boolean): void {
    const t = this.timeouts;
    let at = Infinity;
    if (t.requestMs > 0) at = this.arrivedAt + t.requestMs;
    if (this.deadlineAt < at) at = this.deadlineAt;
    if (t.responseHeaderMs > 0 && !this.responded && this.requestEndedAt >= 0) at = Math.min(at, this.requestEndedAt + t.responseHeaderMs);
    if (t.streamIdleMs > 0) at = Math.min(at, sawActivity ? now + t.streamIdleMs / 4 : this.quietSince + t.streamIdleMs);
    if (this.timer !== undefined) {
      if (at >= this.timerAt) return; // the armed one comes first and re-arms
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.timerAt = at;
    if (at !== Infinity) this.timer = setTimeout(onTimer, Math.max(1, at - now), this);
  }

  /** The request has been sent in full: the response head's timer starts. */
  requestEnded(): void {
    if (this.requestEndedAt >= 0 || this.finished) return;
    this.requestEndedAt = performance.now();
    this.activity++;
    if (this.timeouts.responseHeaderMs > 0 && !this.responded) this.armTimer(this.requestEndedAt, false);
  }

  /** A timer expired: 504 when no response head went to the client; else the stream is cut, never ended cleanly. */
  timeOut(reason: TimeoutReason, message: string): void {
    this.current?.cancel();
    if (!this.res.headersSent) {
      if (reason === 'deadline-exceeded') this.deadlineReply(message);
      else this.reply(504, reason, message);
      return;
    }
    const status = (this.res as ServerResponse).statusCode;
    if (this.fate !== undefined) this.fate.message = message;
    this.complete(status, reason);
    cutResponse(this.res);
  }

  /** The request's deadline passed before a response head: 504, or for a gRPC call DEADLINE_EXCEEDED in a trailers-only response (PROTOCOL-HTTP2.md). */
  deadlineReply(message: string): void {
    if (!this.grpc) return this.reply(504, 'deadline-exceeded', message);
    sendGrpcReply(this.res, GRPC_DEADLINE_EXCEEDED, 'deadline-exceeded', message, this.ctx.proxyId);
    if (this.fate !== undefined) this.fate.message = message;
    // Counted with the status sent (200), as every gRPC local reply; the reason says the rest.
    this.complete(200, 'deadline-exceeded');
  }

  /** A body chunk read from the client: kept for a replay while within the bound. */
  keep(chunk: Buffer): void {
    const replay = this.replay;
    if (replay === undefined) return;
    this.replayBytes += chunk.length;
    if (this.replayBytes > RETRY_BODY_LIMIT_BYTES) this.replay = undefined;
    else replay.push(chunk);
  }

  /** The client's body was read to its end. */
  bodyRead(): void {
    if (this.replay !== undefined) this.replayDone = true;
  }

  /** The request can be sent again as it was: it has no body, or all of it was kept. */
  replayable(): boolean {
    return !this.hasBody || (this.replay !== undefined && this.replayDone);
  }

  /** Whether this failure (or retried answer) may go again now; asks the budget without spending it. */
  canRetry(kind: FailureKind): boolean {
    return this.retryDecision(kind) !== NO_RETRY;
  }

  /**
   * NO_RETRY, FREE_RETRY (the request provably reached no app: outside the budget, it adds load to
   * none) or BUDGETED_RETRY. Pure but for marking budgetExhausted, so the transports may ask before
   * discarding an answer and fail() may ask again.
   */
  retryDecision(kind: FailureKind): number {
    if (this.attempts >= this.maxAttempts || this.finished) return NO_RETRY;
    // The never-reached-the-app rule, always on. A connect failure before any byte of the body left:
    // any method. The peer sidecar could not connect to its app, so no app saw the request: any
    // method, as long as there is no body (it was streamed to the peer and cannot be sent twice).
    if (kind === 'connect' && !this.bodyStarted) return FREE_RETRY;
    if (kind === 'peer-app-unreachable' && !this.hasBody) return FREE_RETRY;
    const p = this.retry;
    // The policy's retryOn (or a route's retry): what it names goes again if the request can be
    // replayed in full and is idempotent or opted in. A gRPC status named in retryOn is its own
    // opt-in (every gRPC call is a POST; gRFC A6's retryableStatusCodes works the same way).
    let allowed =
      kind === 'retriable-grpc-status'
        ? this.replayable()
        : (kind === 'retriable-status-code' || retriesFailure(p, kind)) && this.replayable() && (p.retryNonIdempotent || IDEMPOTENT.has(this.method));
    // Also always on: a reset before any answer, of an idempotent request without a body.
    if (!allowed && (kind === 'reset-before-response' || kind === 'peer-app-reset')) allowed = !this.hasBody && IDEMPOTENT.has(this.method);
    // Also always on: a peer sidecar shed the request before its app saw it (adaptive concurrency),
    // so any method may go to another instance if it can be sent whole; the budget still counts it,
    // since shedding means the Service is overloaded.
    if (!allowed && kind === 'peer-shed') allowed = !this.hasBody || this.replayable();
    if (!allowed) return NO_RETRY;
    // The breaker's maxRetries (Envoy: an overflowing retry is not made; the answer or failure
    // stands). Asked here, before a transport discards an answer; the slot is taken in fail().
    if (!this.mayStartRetry(kind)) {
      this.retryOverflow = true;
      return NO_RETRY;
    }
    const budget = this.ctx.budget;
    if (budget === undefined || budget.canRetry()) return BUDGETED_RETRY;
    this.budgetExhausted = true;
    return NO_RETRY;
  }

  fail(kind: FailureKind, endpoint: EndpointSnapshot, detail: string): void {
    if (this.finished) return;
    this.lastFailure = { kind, endpoint, detail };
    this.fate?.failedWith(kind, detail);
    if (this.tryTimer !== undefined) clearTimeout(this.tryTimer);
    this.tryTimer = undefined;
    const decision = this.retryDecision(kind);
    if (decision !== NO_RETRY) {
      this.startRetry(kind); // retryDecision saw a free slot, and nothing ran in between
      if (decision === BUDGETED_RETRY) this.ctx.budget?.recordRetry();
      this.ctx.onRetry?.(kind);
      // The policy's backoff (GEP-1731: never before its minimum); the never-reached-the-app rule
      // alone goes again at once.
      const p = this.retry;
      const wait = p.widened ? retryBackoffMs(p.baseIntervalMs, p.maxIntervalMs, this.attempts) : 0;
      if (wait > 0) this.backoffTimer = setTimeout(attemptAfterBackoff, wait, this);
      else this.attempt();
      return;
    }
    this.replyFailure(kind, endpoint, detail);
  }

  /**
   * A retry takes a slot of the breaker's maxRetries (the seam for the retry decision): a request
   * holds at most one, from its first retry to its end. False: no slot, no retry. A retry of an
   * attempt that provably reached no app (`connect`, `peer-app-unreachable`) takes none: it adds no
   * work to any app, and it is how weft routes around an endpoint that went away (unlike Envoy,
   * where connect-failure retries count too).
   */
  startRetry(kind: FailureKind): boolean {
    const breaker = this.breaker;
    if (breaker === undefined || this.holdsRetry || kind === 'connect' || kind === 'peer-app-unreachable') return true;
    return (this.holdsRetry = breaker.tryStartRetry());
  }

  /** Whether startRetry would succeed now, without taking the slot. */
  mayStartRetry(kind: FailureKind): boolean {
    const breaker = this.breaker;
    if (breaker === undefined || this.holdsRetry || kind === 'connect' || kind === 'peer-app-unreachable') return true;
    return breaker.retries < breaker.limits.maxRetries;
  }

  /** The running attempt outlasted `timeouts.backendRequest`: abandoned, and retried if allowed; after the response head went out, the stream is cut. */
  attemptTimedOut(a: Attempt): void {
    this.tryTimer = undefined;
    if (this.finished || this.current !== a) return;
    const message = `no complete response within ${this.backendRequestMs}ms of the attempt (${this.target.route?.backendRequestMs !== undefined ? "the HTTPRoute rule's timeouts.backendRequest" : 'retries.perTryTimeoutMs'})`;
    if (this.res.headersSent) {
      this.timeOut('backend-request-timeout', message);
      return;
    }
    a.cancel();
    this.fail('per-try-timeout', a.pick.endpoint, message);
  }

  replyFailure(kind: FailureKind, endpoint: EndpointSnapshot, detail: string): void {
    const where = `${endpoint.address}:${endpoint.port}`;
    if (kind === 'connect') this.reply(503, 'upstream-connect-failure', `could not connect to ${where} after ${this.attempts} attempt(s): ${detail}`);
    else if (kind === 'timeout') this.reply(504, 'request-timeout', `upstream ${where} did not answer in time`);
    else if (kind === 'peer-shed') this.reply(503, 'concurrency-limit-exceeded', `upstream ${where} shed the request (its concurrency limit), and no endpoint is left to retry on`);
    else if (kind === 'per-try-timeout') this.reply(504, 'backend-request-timeout', `upstream ${where}: ${detail} after ${this.attempts} attempt(s)`);
    else if (kind === 'retriable-status-code' || kind === 'retriable-grpc-status') this.reply(503, 'all-endpoints-tried', `upstream ${where} ${detail}, and no endpoint is left to retry on`);
    else if (kind === 'peer-app-unreachable') this.reply(503, 'upstream-connect-failure', `the sidecar at ${where} could not reach its app: ${detail}`);
    else if (kind === 'peer-app-reset') this.reply(502, 'upstream-reset', `the app behind ${where} closed the connection before responding: ${detail}`);
    // A response weft cannot parse came back: the upstream answered, wrongly; it did not just hang up.
    else if (detail.startsWith('HPE_INVALID_RESPONSE')) this.reply(502, 'upstream-reset', `upstream ${where} sent a malformed response: ${detail}`);
    else this.reply(502, 'upstream-reset', `upstream ${where} closed the connection before responding: ${detail}`);
  }

  attempt(): void {
    // The gate before the pick: a malformed deadline, a deadline already passed (on arrival or
    // after a retry's backoff), the breaker's maxRequests.
    if (this.deadlineAt !== Infinity || this.deadlineError !== undefined) {
      if (this.deadlineError !== undefined) return this.reply(400, 'bad-request', this.deadlineError);
      // No attempt is in flight here (a retry's predecessor has ended): nothing to cancel.
      if (performance.now() >= this.deadlineAt) return this.deadlineReply(`the request's deadline passed before it could be sent${this.attempts > 0 ? ` (after ${this.attempts} attempt(s))` : ''}`);
    }
    if (this.attempts === 0 && this.breaker !== undefined) {
      if (!this.breaker.tryStartRequest()) return this.circuitOpen('max-requests');
      this.holdsRequest = true;
    }
    // The endpoint of the attempt before this one is not tried again.
    if (this.current !== undefined) (this.tried ??= new Set()).add(this.current.pick.endpoint.id);
    const hashKey = this.target.hashKey;
    // A context object only when there is something to say: most requests have neither.
    let pick = this.target.picker.pick(hashKey !== undefined ? { exclude: this.tried, hashKey } : this.tried ? { exclude: this.tried } : undefined);
    // A route retry goes elsewhere when it can, else to an endpoint already tried (Envoy's
    // previous_hosts predicate is best-effort too): the answer to retry was already discarded.
    if (pick.kind === 'fail' && this.tried !== undefined && this.retry.widened) pick = this.target.picker.pick(hashKey !== undefined ? { hashKey } : undefined);
    if (pick.kind === 'fail') {
      // Nowhere left to retry: the last attempt's failure is the honest answer.
      const last = this.lastFailure;
      if (last) this.replyFailure(last.kind, last.endpoint, `${last.detail}; ${pick.message}`);
      else this.reply(503, pick.reason, pick.message);
      return;
    }
    this.attempts++;
    // A retry sends the whole request at once (no body, or the kept one): the response head's timer
    // counts from now, not from the first attempt's.
    if (this.attempts > 1 && this.requestEndedAt >= 0) {
      this.requestEndedAt = performance.now();
      this.armTimer(this.requestEndedAt, false);
    }
    const ep = pick.endpoint;
    // Clock readings are not free on this path: the request's arrival and the response's end serve
    // both the balancer's latency and the handler's duration metric.
    const started = this.attempts === 1 && this.ctx.startedAt !== undefined ? this.ctx.startedAt : performance.now();
    // Each attempt becomes current before its transport starts: a failure reported at once may
    // already start the next attempt, which must not be overwritten.
    if (ep.identity !== undefined && this.ctx.pool.tls === undefined) {
      // Fail closed: an endpoint behind a sidecar is never called in plaintext by this one.
      const a = (this.current = new Attempt(this, pick, started));
      a.onFailure('connect', 'this sidecar has no certificate yet for mutual TLS (see its /ready)');
    } else if (this.req.httpVersionMajor === 2) {
      attemptH2(this, (this.current = new Attempt(this, pick, started)));
    } else if (NODE_H1_CLIENT && ep.identity === undefined && this.target.upgrade === undefined) {
      attemptH1Node(this, (this.current = new Attempt(this, pick, started)));
    } else {
      const a = (this.current = new H1Attempt(this, pick, started));
      a.start();
    }
    const a = this.current;
    if (this.backendRequestMs > 0 && !this.finished && a !== undefined && !a.reported) this.tryTimer = setTimeout(onTryTimer, this.backendRequestMs, this, a);
  }

  upstreamHeaders(): OutgoingHttpHeaders {
    const framing = this.framing;
    const headers = forwardableHeaders(this.req.headers, framing !== undefined && framing >= 0 ? framing : undefined);
    if (wantsTrailers(this.req.headers)) headers.te = 'trailers';
    // An undefined value drops the incoming field (as requestHead does for HTTP/1.1); the framing
    // is not the hop's to change.
    const add = this.extraHeaders();
    if (add) for (const name in add) {
      if (name === 'content-length' || name === 'transfer-encoding') continue;
      const value = add[name];
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    return headers;
  }

  /** Streams the request body to the exchange, with back-pressure both ways. */
  pumpBody(ex: H1Exchange): void {
    const incoming = this.req as IncomingMessage;
    ex.ondrain = () => incoming.resume();
    const mirror = this.target.mirror;
    incoming.on('data', (chunk: Buffer) => {
      this.activity++;
      if (this.fate !== undefined) this.fate.bytesReceived += chunk.length;
      mirror?.chunk(chunk);
      this.keep(chunk);
      if (!ex.writeBody(chunk)) incoming.pause();
    });
    incoming.on('end', () => {
      this.bodyRead();
      mirror?.end();
      ex.endBody();
      this.requestEnded();
    });
    // The client went away mid-body: the upstream connection cannot be reused.
    incoming.on('close', () => {
      if (!incoming.complete) ex.destroy();
    });
  }
}

/** A gRPC call (content-type application/grpc, +proto etc.). */
function isGrpc(req: AnyRequest): boolean {
  const type = req.headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}

/** retryDecision's answers. */
const NO_RETRY = 0;
const FREE_RETRY = 1;
const BUDGETED_RETRY = 2;

/** A retry's backoff is over. */
function attemptAfterBackoff(f: Forwarding): void {
  f.backoffTimer = undefined;
  if (!f.finished) f.attempt();
}

function onTryTimer(f: Forwarding, a: Attempt): void {
  f.attemptTimedOut(a);
}

/** The request's timer: which timeout expired, if any; else arm for the next check. */
function onTimer(f: Forwarding): void {
  f.timer = undefined;
  f.timerAt = Infinity;
  if (f.finished) return;
  const now = performance.now();
  const sawActivity = f.activity !== f.seenActivity;
  if (sawActivity) {
    f.seenActivity = f.activity;
    f.quietSince = now;
  }
  const t = f.timeouts;
  if (now >= f.deadlineAt) {
    f.timeOut('deadline-exceeded', `the request's deadline (${DEADLINE_HEADER} or ${GRPC_TIMEOUT_HEADER}) passed before a complete response`);
  } else if (t.requestMs > 0 && now >= f.arrivedAt + t.requestMs) {
    f.timeOut('request-timeout', `no complete response within ${t.requestMs}ms (${f.target.route?.requestMs !== undefined ? "the HTTPRoute rule's timeouts.request" : 'timeouts.requestMs'})`);
  } else if (t.responseHeaderMs > 0 && !f.responded && f.requestEndedAt >= 0 && now >= f.requestEndedAt + t.responseHeaderMs) {
    f.timeOut('response-header-timeout', `no response head within ${t.responseHeaderMs}ms of the request (timeouts.responseHeaderMs)`);
  } else if (t.streamIdleMs > 0 && !sawActivity && now >= f.quietSince + t.streamIdleMs) {
    f.timeOut('stream-idle-timeout', `no bytes moved on the stream for ${t.streamIdleMs}ms (timeouts.streamIdleMs)`);
  } else {
    f.armTimer(now, sawActivity);
  }
}

/**
 * Ends a response whose head went out but whose body cannot be finished, so the client can tell:
 * HTTP/1.1 closes the connection (a chunked body then lacks its last chunk, a Content-Length one
 * is short); HTTP/2 resets the stream (RST_STREAM, no END_STREAM).
 */
function cutResponse(res: AnyResponse): void {
  if ('stream' in res && res.stream !== undefined) {
    const stream = (res as Http2ServerResponse).stream;
    if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
    return;
  }
  (res as ServerResponse).destroy();
}

/** One try at one endpoint: reports its outcome to the balancer once, and fails at most once. */
export class Attempt {
  readonly fwd: Forwarding;
  readonly pick: EndpointPick;
  readonly started: number;
  reported = false;
  /** Went once more to the same endpoint after meeting a stale pooled connection (at most once). */
  staleRetried = false;
  /** Stops the transport's work, once the transport has some. */
  cancelTransport: (() => void) | undefined = undefined;
  /** Holds one of the breaker's pending slots: waiting for a new connection. */
  pending = false;
  /** When the response head was forwarded (performance.now()); -1 before. */
  headAt = -1;

  constructor(fwd: Forwarding, pick: EndpointPick, started: number) {
    this.fwd = fwd;
    this.pick = pick;
    this.started = started;
  }

  /**
   * Reports the outcome to the balancer (once): `status` is the endpoint's answer (0: none), `failure`
   * why there is no complete response. Returns the time it read.
   */
  report(status: number, failure?: AttemptFailure): number {
    if (this.pending) this.endPending();
    const now = performance.now();
    if (this.reported) return now;
    this.reported = true;
    const fate = this.fwd.fate;
    if (fate !== undefined) {
      const ep = this.pick.endpoint;
      fate.attempt(ep, ep.identity, status, failure, this.started, now);
    }
    const ok = failure === undefined && status > 0 && status < 500;
    this.pick.done({ ok, connectFailure: failure === 'connect', latencyMs: now - this.started, headMs: this.headAt >= 0 ? this.headAt - this.started : undefined, status: status > 0 ? status : undefined, failure });
    return now;
  }

  /**
   * The attempt needs a new connection: the breaker's maxConnections (`openConnections`, -1: not
   * counted) and maxPendingRequests decide. False: refused, and the request was answered 503.
   */
  startPending(openConnections: number): boolean {
    const f = this.fwd;
    const breaker = f.breaker;
    if (breaker === undefined || this.pending) return true;
    const limit = breaker.tryStartPending(openConnections);
    if (limit === undefined) return (this.pending = true);
    // Not the endpoint's failure: the balancer must not count it against it.
    this.report(0, 'cancelled');
    f.circuitOpen(limit);
    return false;
  }

  /** The connection came up (or the attempt ended): the pending slot is free. */
  endPending(): void {
    if (!this.pending) return;
    this.pending = false;
    this.fwd.breaker?.endPending();
  }

  /** `status`: what the endpoint answered when the failure is an answer (a retried status code). */
  onFailure(kind: FailureKind, detail: string, status = 0): void {
    if (this.reported) return; // an attempt fails once, however many events report it
    this.report(status, attemptFailureOf(kind));
    this.fwd.fail(kind, this.pick.endpoint, detail);
  }

  /** A cancelled attempt (client gone, request timeout) still reports back, or least-request would count it as active forever. */
  cancel(): void {
    this.report(0, 'cancelled');
    this.cancelTransport?.();
  }
}

/** An attempt over the lean HTTP/1.1 client (h1-client.ts); it is its exchange's handler. */
class H1Attempt extends Attempt implements H1Handler {
  ex: H1Exchange | undefined = undefined;
  status = 0;
  lastChunk: Buffer | undefined = undefined;
  /** The body's trailer fields for the client, held until the end (most responses have none). */
  trailers: string[] | undefined = undefined;
  waitingDrain = false;

  start(): void {
    const f = this.fwd;
    const ep = this.pick.endpoint;
    const timeouts = f.target.policy.timeouts;
    const tls = ep.identity === undefined ? undefined : { context: f.ctx.pool.tls!.context, identity: ep.identity };
    // retryStale: an idempotent request without a body may go again on a new connection if the
    // pooled one it was written on turns out closed (h1-client.ts decides, having seen no byte back).
    // An upgrade goes on a connection of its own, never a pooled one, so it is never stale.
    const upgrade = f.target.upgrade !== undefined;
    const pool = f.ctx.pool.h1(ep.address, ep.port, ep.identity);
    // No idle connection (or an upgrade, which never shares one): this attempt waits for a new one.
    if (f.breaker !== undefined && (upgrade || pool.idleCount === 0) && !this.startPending(f.ctx.pool.h1OpenCount(f.breaker.endpoints))) return;
    const ex = pool.request(this, { connectMs: timeouts.connectMs, idleMs: timeouts.idleMs, noResponseBody: f.method === 'HEAD', tls, upgrade, retryStale: !upgrade && f.h1Body === BODY_NONE && IDEMPOTENT.has(f.method) });
    this.ex ??= ex;
  }

  /** The pool sends this exchange again on a new connection: not an endpoint failure, not one of the policy's attempts. */
  onStaleRetry(): void {
    this.staleRetried = true;
    this.fwd.ctx.onRetry?.('stale-connection');
  }

  override cancel(): void {
    this.report(0, 'cancelled');
    this.ex?.destroy();
  }

  onReady(ex: H1Exchange): void {
    this.ex = ex;
    if (this.pending) this.endPending();
    const f = this.fwd;
    const incoming = f.req as IncomingMessage;
    const upgrade = f.target.upgrade;
    // A deadline's time left is written at each attempt's send, so that head is not kept.
    if (f.sendDeadlineAt !== Infinity) f.h1Head = undefined;
    f.h1Head ??= requestHead(f.method, f.target.path, f.target.authority, incoming.rawHeaders, {
      connection: incoming.headers.connection,
      teTrailers: wantsTrailers(incoming.headers),
      extra: f.extraHeaders() as Record<string, string> | undefined,
      bodyLength: f.framing,
      // An upgrade carries its own Connection and Upgrade: the only hop-by-hop fields that go on.
      upgrade,
    });
    ex.writeHead(f.h1Head, f.h1Body);
    if (f.h1Body === BODY_NONE) return;
    if (f.bodyStarted) {
      // A retry: an earlier attempt read the client's body, and all of it was kept (canRetry).
      for (const chunk of f.replay ?? []) ex.writeBody(chunk);
      ex.endBody();
      return;
    }
    f.bodyStarted = true;
    f.pumpBody(ex);
  }

  onInterim(status: number, headers: string[]): void {
    const f = this.fwd;
    if (!f.finished) forwardInterim(f.req, f.res, status, headers);
  }

  onHead(status: number, headers: string[]): void {
    const f = this.fwd;
    const ex = this.ex!;
    if (f.finished) {
      ex.destroy();
      return;
    }
    f.activity++;
    this.status = status;
    if (status === 502 || status === 503) {
      const reason = flatHeader(headers, REASON_HEADER);
      const peerFailure = peerFailureKind(status, reason);
      if (peerFailure && f.canRetry(peerFailure)) {
        ex.discard();
        this.onFailure(peerFailure, `peer sidecar answered ${status} ${reason}`, status);
        return;
      }
    }
    const answer = retriesAnswer(f.retry, status, f.retry.grpcCodes !== 0 ? flatHeader(headers, 'grpc-status') : undefined);
    if (answer !== undefined && f.canRetry(answer)) {
      ex.discard();
      this.onFailure(answer, `answered ${status}${answer === 'retriable-grpc-status' ? ` grpc-status ${flatHeader(headers, 'grpc-status')}` : ''}`, status);
      return;
    }
    f.responded = true;
    this.headAt = performance.now();
    try {
      const edit = f.target.editResponse;
      // node:http's writer would copy a Content-Length a 1xx or 204 may not carry (RFC 9110 §8.6).
      let fields = status < 200 || status === 204 ? withoutContentLength(headers) : headers;
      if (f.attempts > 1) fields = [...fields, ATTEMPTS_HEADER, String(f.attempts)];
      if (f.budgetExhausted) fields = [...fields, BUDGET_EXHAUSTED_HEADER, 'true'];
      (f.res as ServerResponse).writeHead(status, edit === undefined ? fields : edit(fields));
    } catch (err) {
      ex.destroy();
      this.report(0, 'reset');
      const ep = this.pick.endpoint;
      f.reply(502, 'upstream-reset', `upstream ${ep.address}:${ep.port} sent a response head that cannot be forwarded: ${(err as Error).message}`);
    }
  }

  onData(chunk: Buffer, last: boolean): void {
    if (last) {
      // The whole rest of the body: it goes out with the end.
      this.lastChunk = chunk;
      return;
    }
    const f = this.fwd;
    f.activity++;
    if (f.fate !== undefined) f.fate.bytesSent += chunk.length;
    const out = f.res as ServerResponse;
    if (!out.write(chunk) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.ex!.pause();
      out.once('drain', () => {
        // A slow reader that drains is progress, not an idle stream.
        f.activity++;
        this.waitingDrain = false;
        this.ex!.resume();
      });
    }
  }

  onTrailers(trailers: string[]): void {
    this.trailers = trailers;
  }

  onEnd(): void {
    if (this.trailers !== undefined) forwardTrailers(this.fwd.req, this.fwd.res, this.trailers);
    const fate = this.fwd.fate;
    if (fate !== undefined && this.lastChunk !== undefined) fate.bytesSent += this.lastChunk.length;
    (this.fwd.res as ServerResponse).end(this.lastChunk);
    this.fwd.complete(this.status, undefined, this.report(this.status));
  }

  /** A 101 to the upgrade request, sent completely: check it, answer the client 101, splice. */
  onUpgrade(headers: string[], socket: Duplex, head: Buffer): void {
    const f = this.fwd;
    if (f.finished) {
      socket.destroy();
      return;
    }
    const ep = this.pick.endpoint;
    const res = f.res as H1ServerResponse;
    if (!upgradeAccepted(f.target.upgrade ?? '', flatHeader(headers, 'upgrade')) || typeof res.switchProtocols !== 'function') {
      // The app saw the request, so it is not tried again.
      socket.destroy();
      this.report(0, 'reset');
      f.reply(502, 'upstream-reset', `upstream ${ep.address}:${ep.port} switched protocols to ${JSON.stringify(flatHeader(headers, 'upgrade') ?? '')}, which the request did not offer (${f.target.upgrade})`);
      return;
    }
    const client = res.switchProtocols(headers);
    splice(client.socket, client.head, socket, head);
    f.complete(101, undefined, this.report(101));
  }

  onError(err: NodeJS.ErrnoException, stage: H1Stage): void {
    const f = this.fwd;
    if (f.finished) return;
    if (stage === 'after-head') {
      this.report(0, 'reset');
      (f.res as ServerResponse).destroy(err);
      return;
    }
    const code = err.code ?? '';
    // Stage `connect`: the connection (TCP, and TLS with the peer's identity) never came up.
    if ((stage === 'connect' || CONNECT_ERRORS.has(code)) && !f.bodyStarted) this.onFailure('connect', `${code} ${err.message}`);
    else this.onFailure(this.ex?.reused || !f.bodyStarted ? 'reset-before-response' : 'reset-after-response', `${code} ${err.message}`);
  }
}


// Carries one request to an upstream endpoint and its response back, streaming both bodies. Each
// attempt picks an endpoint; an attempt that provably never reached the app is retried elsewhere
// (the retry rule in docs/concepts/retries-and-local-replies.md), and one that met a stale pooled
// connection goes again to the same endpoint. One timer per request times the response head, idle
// gaps and an optional total. The retry policy (resilience/retry: the BackendPolicy's `retries`, or
// a route's `retry`) widens the rule to the answers and failures it names (replaying a body kept up
// to RETRY_BODY_LIMIT_BYTES), adds a backoff, bounds each attempt, and asks the Service's budget.
// HTTP/2 requests go upstream as h2c (forward-h2.ts), others as HTTP/1.1 (the lean client in
// forward-h1.ts, or node:http's in forward-h1-node.ts for comparison); what the transports share is
// in attempt-rules.ts and attempt.ts. The timer is request-timer.ts; the breaker, deadline and retry
// glue is under resilience/ (breaker-holds.ts, request-deadline.ts, retry-decision.ts).

import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { EventEmitter } from 'node:events';
import { completeTimeouts, type BackendPolicySpec, type BackendTimeouts } from '../../config/kinds/backend-policy.ts';
import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import type { Picker } from '../balance/picker.ts';
import type { UpstreamPool } from '../transport/upstream-pool.ts';
import { BODY_CHUNKED, BODY_NONE, BODY_RAW } from '../transport/h1-client.ts';
import type { H1ServerRequest, H1ServerResponse } from '../transport/h1-server-message.ts';
import { forwardableHeaders, parsedContentLength, wantsTrailers } from './headers.ts';
import { sendGrpcReply, sendLocalReply, type LocalReplyReason } from './local-reply.ts';
import type { MirrorTee } from '../filters/request-mirror/mirror.ts';
import { ATTEMPTS_HEADER, BUDGET_EXHAUSTED_HEADER, IDEMPOTENT, type FailureKind, type RetryReason } from './attempt-rules.ts';
import { Attempt } from './attempt.ts';
import { H1Attempt } from './forward-h1.ts';
import { attemptH2 } from './forward-h2.ts';
import { attemptH1Node } from './forward-h1-node.ts';
import { armTimer, requestEnded, timeOut } from './request-timer.ts';
import { RETRY_BODY_LIMIT_BYTES, type RoutePolicy } from '../routing/route-policy.ts';
import { backendRetryPolicy, type RetryPolicy } from '../resilience/retry/retry-policy.ts';
import { retryBackoffMs } from '../resilience/retry/backoff.ts';
import { requestTime, type RetryBudget } from '../resilience/retry/budget.ts';
import { BUDGETED_RETRY, NO_RETRY, retryDecision, type RetryState } from '../resilience/retry/retry-decision.ts';
import { CIRCUIT_LIMIT_FIELD, CIRCUIT_LIMIT_HEADER, type CircuitBreaker, type CircuitLimit } from '../resilience/circuit-breaker/circuit-breaker.ts';
import { admitRequest, releaseHolds, startRetry } from '../resilience/circuit-breaker/breaker-holds.ts';
import { readRequestDeadline, withDeadline, type DeadlineFields } from '../resilience/deadline/request-deadline.ts';
import type { FateRecord } from '../observe/fate.ts';

export type AnyRequest = IncomingMessage | Http2ServerRequest | H1ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse | H1ServerResponse;
export { ATTEMPTS_HEADER, attemptFailureOf, type FailureKind, type RetryReason } from './attempt-rules.ts';
export { Attempt } from './attempt.ts';
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

/** grpc-status DEADLINE_EXCEEDED (gRPC status codes). */
const GRPC_DEADLINE_EXCEEDED = 4;
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

/**
 * Carries `req` to an endpoint `target.picker` picks (retrying per the policy) and streams the answer
 * to `res`, or answers with a local reply; `ctx.onComplete` hears the end once, every way it ends.
 */
export function forwardRequest(req: AnyRequest, res: AnyResponse, target: ForwardTarget, ctx: ForwardContext): void {
  new Forwarding(req, res, target, ctx).attempt();
}

/**
 * One request on its way upstream: its attempts, whether a failed one may go again, and the final
 * answer. Its steps are methods, not closures made per request: on the hot HTTP/1.1 path a request
 * costs this object and one per attempt.
 */
export class Forwarding implements RetryState, DeadlineFields {
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
  // Timing (request-timer.ts): one timer per request, re-armed only when it fires or the request ends;
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
    this.arrivedAt = this.quietSince = ctx.startedAt ?? performance.now();
    // Every request deposits into its Service's budget (at its arrival: no clock read of its own);
    // retries withdraw (fail below).
    ctx.budget?.recordRequest(requestTime(this.arrivedAt));
    this.breaker = target.breaker;
    const fate = (this.fate = ctx.fate);
    const own = fate?.headers;
    this.addHeaders = own === undefined ? target.addHeaders : target.addHeaders === undefined ? own : { ...target.addHeaders, ...own };
    readRequestDeadline(this, req.headers, this.arrivedAt, this.timeouts.requestMs);
    if (!this.hasBody) this.requestEndedAt = this.arrivedAt;
    armTimer(this, this.arrivedAt, false);
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
    if (this.breaker !== undefined) {
      // Every way a request ends comes here once: the breaker's counts never leak.
      releaseHolds(this);
      this.current?.endPending();
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.tryTimer !== undefined) clearTimeout(this.tryTimer);
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    if (this.budgetExhausted) this.ctx.onBudgetExhausted?.();
    if (this.retryOverflow) this.ctx.onCircuitOpen?.('max-retries');
    this.ctx.onComplete(status, reason, this.attempts, at);
  }

  /** This hop's extra request fields, plus the time left when the request carries a deadline (read at each attempt's send). */
  extraHeaders(): OutgoingHttpHeaders | undefined {
    return withDeadline(this, this.addHeaders);
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

  /** The request has been sent in full: the response head's timer starts (request-timer.ts). */
  requestEnded(): void {
    requestEnded(this);
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

  /** Whether this failure (or retried answer) may go again now (retry-decision.ts); asks the budget without spending it. */
  canRetry(kind: FailureKind): boolean {
    return retryDecision(this, kind) !== NO_RETRY;
  }

  fail(kind: FailureKind, endpoint: EndpointSnapshot, detail: string): void {
    if (this.finished) return;
    this.lastFailure = { kind, endpoint, detail };
    this.fate?.failedWith(kind, detail);
    if (this.tryTimer !== undefined) clearTimeout(this.tryTimer);
    this.tryTimer = undefined;
    const decision = retryDecision(this, kind);
    if (decision !== NO_RETRY) {
      startRetry(this, kind); // retryDecision saw a free slot, and nothing ran in between
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

  /** The running attempt outlasted `timeouts.backendRequest`: abandoned, and retried if allowed; after the response head went out, the stream is cut. */
  attemptTimedOut(a: Attempt): void {
    this.tryTimer = undefined;
    if (this.finished || this.current !== a) return;
    const message = `no complete response within ${this.backendRequestMs}ms of the attempt (${this.target.route?.backendRequestMs !== undefined ? "the HTTPRoute rule's timeouts.backendRequest" : 'retries.perTryTimeoutMs'})`;
    if (this.res.headersSent) {
      timeOut(this, 'backend-request-timeout', message);
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
    if (this.attempts === 0 && !admitRequest(this)) return this.circuitOpen('max-requests');
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
      armTimer(this, this.requestEndedAt, false);
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
}

/** A gRPC call (content-type application/grpc, +proto etc.). */
function isGrpc(req: AnyRequest): boolean {
  const type = req.headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}

/** A retry's backoff is over. */
function attemptAfterBackoff(f: Forwarding): void {
  f.backoffTimer = undefined;
  if (!f.finished) f.attempt();
}

function onTryTimer(f: Forwarding, a: Attempt): void {
  f.attemptTimedOut(a);
}

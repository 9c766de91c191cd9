// The request's one timer (forward.ts): the total request timeout, the request's deadline, the
// response head's timeout and the stream-idle one, all served by a single setTimeout that is re-armed
// only when it fires or a sooner moment appears. The byte paths only bump `activity`, so a busy
// stream costs no timer work per chunk.

import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { DEADLINE_HEADER, GRPC_TIMEOUT_HEADER } from '../resilience/deadline/deadline.ts';
import type { AnyResponse, Forwarding } from './forward.ts';

/** The timers' local-reply reasons (504 before the response head; after it, the stream is cut). */
export type TimeoutReason = 'request-timeout' | 'response-header-timeout' | 'stream-idle-timeout' | 'backend-request-timeout' | 'deadline-exceeded';

/** RST_STREAM INTERNAL_ERROR (RFC 9113 §7): how an HTTP/2 response that was cut ends; http2.constants without loading node:http2. */
const NGHTTP2_INTERNAL_ERROR = 2;

/**
 * Arms the timer for the next moment one of the timeouts may expire: the total one, the deadline,
 * the response head's, or the idle one. Right after activity was seen the idle check comes a
 * quarter of streamIdleMs later, to learn whether the stream went quiet; a quiet stream is cut
 * streamIdleMs after the check that first found it quiet, so between 1 and 1.25 × streamIdleMs
 * after its last byte. `now`: performance.now().
 */
export function armTimer(f: Forwarding, now: number, sawActivity: boolean): void {
  const t = f.timeouts;
  let at = Infinity;
  if (t.requestMs > 0) at = f.arrivedAt + t.requestMs;
  if (f.deadlineAt < at) at = f.deadlineAt;
  if (t.responseHeaderMs > 0 && !f.responded && f.requestEndedAt >= 0) at = Math.min(at, f.requestEndedAt + t.responseHeaderMs);
  if (t.streamIdleMs > 0) at = Math.min(at, sawActivity ? now + t.streamIdleMs / 4 : f.quietSince + t.streamIdleMs);
  if (f.timer !== undefined) {
    if (at >= f.timerAt) return; // the armed one comes first and re-arms
    clearTimeout(f.timer);
    f.timer = undefined;
  }
  f.timerAt = at;
  if (at !== Infinity) f.timer = setTimeout(onTimer, Math.max(1, at - now), f);
}

/** The request's timer fired: which timeout expired, if any; else arm for the next check. */
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
    timeOut(f, 'deadline-exceeded', `the request's deadline (${DEADLINE_HEADER} or ${GRPC_TIMEOUT_HEADER}) passed before a complete response`);
  } else if (t.requestMs > 0 && now >= f.arrivedAt + t.requestMs) {
    timeOut(f, 'request-timeout', `no complete response within ${t.requestMs}ms (${f.target.route?.requestMs !== undefined ? "the HTTPRoute rule's timeouts.request" : 'timeouts.requestMs'})`);
  } else if (t.responseHeaderMs > 0 && !f.responded && f.requestEndedAt >= 0 && now >= f.requestEndedAt + t.responseHeaderMs) {
    timeOut(f, 'response-header-timeout', `no response head within ${t.responseHeaderMs}ms of the request (timeouts.responseHeaderMs)`);
  } else if (t.streamIdleMs > 0 && !sawActivity && now >= f.quietSince + t.streamIdleMs) {
    timeOut(f, 'stream-idle-timeout', `no bytes moved on the stream for ${t.streamIdleMs}ms (timeouts.streamIdleMs)`);
  } else {
    armTimer(f, now, sawActivity);
  }
}

/** The request has been sent in full: the response head's timer starts. */
export function requestEnded(f: Forwarding): void {
  if (f.requestEndedAt >= 0 || f.finished) return;
  f.requestEndedAt = performance.now();
  f.activity++;
  if (f.timeouts.responseHeaderMs > 0 && !f.responded) armTimer(f, f.requestEndedAt, false);
}

/** A timer expired: 504 when no response head went to the client; else the stream is cut, never ended cleanly. */
export function timeOut(f: Forwarding, reason: TimeoutReason, message: string): void {
  f.current?.cancel();
  if (!f.res.headersSent) {
    if (reason === 'deadline-exceeded') f.deadlineReply(message);
    else f.reply(504, reason, message);
    return;
  }
  const status = (f.res as ServerResponse).statusCode;
  if (f.fate !== undefined) f.fate.message = message;
  f.complete(status, reason);
  cutResponse(f.res);
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

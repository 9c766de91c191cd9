// The HTTP/2 attempt: one stream on the endpoint's session (h2c, or h2 inside mutual TLS), its
// stale-session retry, and every response shape (interim heads, trailers-only, trailers); forward.ts drives it.

import type { ServerResponse } from 'node:http';
import type { ClientHttp2Stream, Http2ServerResponse, IncomingHttpHeaders as H2Headers } from 'node:http2';
import { forwardableHeaders } from './headers.ts';
import { REASON_HEADER } from './local-reply.ts';
import { forwardInterim, forwardTrailers, respondEnded } from './response-shapes.ts';
import { forwardableTrailers } from '../transport/trailer-fields.ts';
import { ATTEMPTS_HEADER, BUDGET_EXHAUSTED_HEADER, CONNECT_ERRORS, H2_FLAG_END_STREAM, IDEMPOTENT, REFUSED_STREAM, TLS_HANDSHAKE_ERROR, editObject, peerFailureKind, responseContentLength } from './attempt-rules.ts';
import type { Attempt, Forwarding } from './forward.ts';
import { retriesAnswer } from '../resilience/retry/retry-policy.ts';

/** An attempt as an HTTP/2 stream on the endpoint's session (h2c, or h2 inside mutual TLS). */
export function attemptH2(f: Forwarding, a: Attempt): void {
  const ep = a.pick.endpoint;
  const { req, res, target, ctx, method, hasBody } = f;
  const session = ctx.pool.session(ep.address, ep.port, ep.identity);
  const wasConnected = !session.connecting;
  // A session still connecting: the attempt is pending (circuit breaking; HTTP/2 connections are not counted).
  if (!wasConnected && f.breaker !== undefined && !a.startPending(-1)) return;
  const headers = f.upstreamHeaders() as Record<string, string | string[]>;
  let stream: ClientHttp2Stream;
  try {
    stream = session.request({ ...headers, ':method': method, ':path': target.path, ':authority': target.authority, ':scheme': 'http' }, { endStream: !hasBody });
  } catch (err) {
    a.onFailure('connect', (err as Error).message);
    return;
  }
  let responded = false;
  /** This stream failed on a stale session and the attempt went on on a new one: its events no longer count. */
  let superseded = false;
  a.cancelTransport = () => stream.close();
  // The stream gets its id once the session is up: no longer pending.
  if (a.pending) stream.once('ready', () => a.endPending());
  /**
   * The session was reused and has gone away (the peer closed it or sent GOAWAY) before any
   * response on this stream: the request goes once more on a new session to the same endpoint if
   * it has no body and is idempotent or was refused unprocessed (RFC 9113 §8.7), as for HTTP/1.1.
   */
  const retryStale = (): boolean => {
    if (responded || !wasConnected || hasBody || a.staleRetried || f.finished) return false;
    if (!session.closed && !session.destroyed) return false;
    if (!IDEMPOTENT.has(method) && stream.rstCode !== REFUSED_STREAM) return false;
    a.staleRetried = true;
    superseded = true;
    clearTimeout(connectTimer);
    ctx.onRetry?.('stale-connection');
    attemptH2(f, a);
    return true;
  };
  const connectTimer = wasConnected
    ? undefined
    : setTimeout(() => {
        if (session.connecting) session.destroy(Object.assign(new Error('connect timeout'), { code: 'WEFT_CONNECT_TIMEOUT' }));
      }, target.policy.timeouts.connectMs);
  if (hasBody) {
    const start = (): void => {
      if (f.bodyStarted) {
        // A retry: an earlier attempt read the client's body, and all of it was kept (canRetry).
        for (const chunk of f.replay ?? []) stream.write(chunk);
        stream.end();
        return;
      }
      f.bodyStarted = true;
      // Listened to only now: a 'data' listener starts the flow, which must wait for the session.
      req.on('data', (chunk: Buffer) => {
        f.activity++;
        f.keep(chunk);
      });
      req.on('end', () => {
        f.bodyRead();
        f.requestEnded();
      });
      req.pipe(stream);
    };
    if (session.connecting) session.once('connect', start);
    else start();
  }
  stream.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(connectTimer);
    if (f.finished || superseded) return;
    if (responded) {
      a.report(0, 'reset');
      res.destroy(err);
      return;
    }
    const code = err.code ?? '';
    const neverConnected = !wasConnected && (CONNECT_ERRORS.has(code) || code === 'ERR_HTTP2_STREAM_CANCEL' || TLS_HANDSHAKE_ERROR.test(code));
    if (!neverConnected && retryStale()) return;
    a.onFailure(neverConnected && !f.bodyStarted ? 'connect' : 'reset-before-response', `${code} ${err.message}`);
  });
  // Interim 1xx heads (100 Continue, 103 Early Hints …) come as 'headers' before the response.
  stream.on('headers', (h: H2Headers) => {
    if (!responded && !f.finished) forwardInterim(req, res, Number(h[':status']), forwardableHeaders(h as never) as Record<string, string | string[]>);
  });
  stream.on('response', (h: H2Headers, flags: number) => {
    clearTimeout(connectTimer);
    if (superseded) return;
    responded = true;
    f.activity++;
    const status = Number(h[':status'] ?? 502);
    const peerFailure = peerFailureKind(status, h[REASON_HEADER]);
    if (peerFailure && f.canRetry(peerFailure)) {
      stream.close();
      a.onFailure(peerFailure, `peer sidecar answered ${status} ${h[REASON_HEADER]}`, status);
      return;
    }
    const grpcStatus = h['grpc-status'] as string | undefined;
    const answer = retriesAnswer(f.retry, status, grpcStatus);
    if (answer !== undefined && f.canRetry(answer)) {
      stream.close();
      a.onFailure(answer, `answered ${status}${answer === 'retriable-grpc-status' ? ` grpc-status ${grpcStatus}` : ''}`, status);
      return;
    }
    f.responded = true;
    a.headAt = performance.now();
    if ((flags & H2_FLAG_END_STREAM) !== 0) {
      // Headers that end the stream (gRPC's trailers-only response) stay one frame that ends it.
      // Nothing follows on the upstream stream; reading it lets it close.
      stream.resume();
      if (f.finished) return; // the client went away meanwhile
      try {
        const ended = forwardableHeaders(h as never);
        if (f.attempts > 1) ended[ATTEMPTS_HEADER] = String(f.attempts);
        if (f.budgetExhausted) ended[BUDGET_EXHAUSTED_HEADER] = 'true';
        respondEnded(req, res, status, target.editResponse ? editObject(target.editResponse, ended) : ended);
      } catch (err) {
        f.reply(502, 'upstream-reset', `upstream ${ep.address}:${ep.port} sent a response head that cannot be forwarded: ${(err as Error).message}`);
        a.report(0, 'reset');
        return;
      }
      a.report(balancerStatus(status, grpcStatus));
      f.complete(status);
      return;
    }
    const head = forwardableHeaders(h as never, responseContentLength(status, h));
    if (f.attempts > 1) head[ATTEMPTS_HEADER] = String(f.attempts);
    if (f.budgetExhausted) head[BUDGET_EXHAUSTED_HEADER] = 'true';
    (res as ServerResponse).writeHead(status, target.editResponse ? editObject(target.editResponse, head) : head);
    let trailerGrpcStatus: unknown;
    stream.on('trailers', (trailers: H2Headers) => {
      trailerGrpcStatus = trailers['grpc-status'];
      const forwardable = forwardableTrailers(trailers as Record<string, string | string[] | undefined>);
      if (forwardable !== undefined) forwardTrailers(req, res, forwardable);
    });
    stream.on('data', () => f.activity++);
    stream.pipe(res as Http2ServerResponse);
    stream.on('end', () => {
      a.report(balancerStatus(status, trailerGrpcStatus));
      f.complete(status);
    });
  });
  stream.on('close', () => {
    clearTimeout(connectTimer);
    if (superseded || responded || f.finished) return;
    if (retryStale()) return;
    a.onFailure('reset-before-response', `stream closed with code ${stream.rstCode}`);
  });
}

/**
 * The status the balancer is told: a gRPC RESOURCE_EXHAUSTED (code 8, in the trailers or a
 * trailers-only head) is the endpoint shedding load, told as HTTP 429 (Envoy's gRPC-to-HTTP status
 * mapping), so peak-ewma counts it as a load signal; the client still gets the 200 and its trailers.
 */
export function balancerStatus(status: number, grpcStatus: unknown): number {
  return status === 200 && grpcStatus === '8' ? 429 : status;
}

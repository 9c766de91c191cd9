// Carries one request to an upstream endpoint and its response back, streaming both bodies. Each
// attempt picks an endpoint; an attempt that provably never reached the app is retried elsewhere
// (the retry rule in docs/concepts/retries-and-local-replies.md). HTTP/2 requests go upstream as h2c, others as HTTP/1.1.

import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import { http } from '../../lib/node-http.ts';
import type { Http2ServerRequest, Http2ServerResponse, ClientHttp2Stream, IncomingHttpHeaders as H2Headers } from 'node:http2';
import type { Socket } from 'node:net';
import type { EventEmitter } from 'node:events';
import type { BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import type { Picker } from '../balance/picker.ts';
import type { UpstreamPool } from '../transport/upstream-pool.ts';
import { BODY_CHUNKED, BODY_NONE, BODY_RAW, requestHead, type H1Exchange, type H1Stage } from '../transport/h1-client.ts';
import type { H1ServerRequest, H1ServerResponse } from '../transport/h1-server-message.ts';
import { forwardableHeaders, wantsTrailers } from './headers.ts';
import { REASON_HEADER, sendLocalReply, type LocalReplyReason } from './local-reply.ts';

export type AnyRequest = IncomingMessage | Http2ServerRequest | H1ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse | H1ServerResponse;
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
}

export interface ForwardContext {
  readonly pool: UpstreamPool;
  readonly proxyId: string;
  /** When the request arrived (performance.now()): the first attempt's latency counts from there. */
  readonly startedAt?: number;
  /** Called once with the final status (local replies included), whether it was a local reply, and when (performance.now()). */
  readonly onComplete: (status: number, reason: LocalReplyReason | undefined, attempts: number, endedAt: number) => void;
  readonly onRetry?: (reason: FailureKind) => void;
}

/** Why an attempt failed, which decides whether another attempt is safe. */
export type FailureKind = 'connect' | 'reset-before-response' | 'peer-app-unreachable' | 'peer-app-reset' | 'timeout' | 'reset-after-response';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'WEFT_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN']);
/** Errors of a TLS handshake that failed (bad chain, wrong identity): the request never left. */
const TLS_HANDSHAKE_ERROR = /^(ERR_TLS_|ERR_SSL_|WEFT_TLS_|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_)/;
/** WEFT_H1_CLIENT=node: HTTP/1.1 upstream through node:http's client (the old path, kept for comparison). */
const NODE_H1_CLIENT = process.env.WEFT_H1_CLIENT === 'node';

/** The value of a field in a flat [name, value, …] list with lower-case names. */
function flatHeader(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

function requestHasBody(req: AnyRequest): boolean {
  if (req.httpVersionMajor === 2) return !(req as Http2ServerRequest).stream.endAfterHeaders;
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** A peer sidecar's local reply that says its own app failed the request (not the app's own answer). */
function peerFailureKind(status: number, reason: unknown): FailureKind | undefined {
  if (status === 503 && reason === 'upstream-connect-failure') return 'peer-app-unreachable';
  if (status === 502 && reason === 'upstream-reset') return 'peer-app-reset';
  return undefined;
}

export function forwardRequest(req: AnyRequest, res: AnyResponse, target: ForwardTarget, ctx: ForwardContext): void {
  const method = req.method ?? 'GET';
  const hasBody = requestHasBody(req);
  const isH2 = req.httpVersionMajor === 2;
  // Endpoints already tried, built only when there is a retry (most requests have one attempt).
  let tried: Set<string> | undefined;
  let lastEndpointId: string | undefined;
  const maxAttempts = 1 + target.policy.retries.attempts;
  let attempts = 0;
  let bodyStarted = false;
  let finished = false;
  let cancelAttempt: (() => void) | undefined;

  const complete = (status: number, reason?: LocalReplyReason, at = performance.now()): void => {
    if (finished) return;
    finished = true;
    clearTimeout(requestTimer);
    ctx.onComplete(status, reason, attempts, at);
  };
  const reply = (status: number, reason: LocalReplyReason, message: string): void => {
    sendLocalReply(res, status, reason, message, ctx.proxyId);
    complete(status, reason);
  };

  const requestTimer = target.policy.timeouts.requestMs > 0
    ? setTimeout(() => {
        cancelAttempt?.();
        reply(504, 'request-timeout', `no complete response within ${target.policy.timeouts.requestMs}ms`);
      }, target.policy.timeouts.requestMs)
    : undefined;

  // The client went away: stop the upstream work too.
  (res as EventEmitter).on('close', () => {
    if (!finished) {
      cancelAttempt?.();
      complete(499);
    }
  });

  const canRetry = (kind: FailureKind): boolean => {
    if (attempts >= maxAttempts || finished) return false;
    if (kind === 'connect') return !bodyStarted;
    // The peer sidecar could not connect to its app, so no app saw the request: any method may go
    // again, as long as there is no body (it was streamed to the peer and cannot be sent twice).
    if (kind === 'peer-app-unreachable') return !hasBody;
    if (kind === 'reset-before-response' || kind === 'peer-app-reset') return !hasBody && IDEMPOTENT.has(method);
    return false;
  };

  let lastFailure: { kind: FailureKind; endpoint: EndpointSnapshot; detail: string } | undefined;
  const fail = (kind: FailureKind, endpoint: EndpointSnapshot, detail: string): void => {
    if (finished) return;
    lastFailure = { kind, endpoint, detail };
    if (canRetry(kind)) {
      ctx.onRetry?.(kind);
      attempt();
      return;
    }
    replyFailure(kind, endpoint, detail);
  };

  const replyFailure = (kind: FailureKind, endpoint: EndpointSnapshot, detail: string): void => {
    const where = `${endpoint.address}:${endpoint.port}`;
    if (kind === 'connect') reply(503, 'upstream-connect-failure', `could not connect to ${where} after ${attempts} attempt(s): ${detail}`);
    else if (kind === 'timeout') reply(504, 'request-timeout', `upstream ${where} did not answer in time`);
    else if (kind === 'peer-app-unreachable') reply(503, 'upstream-connect-failure', `the sidecar at ${where} could not reach its app: ${detail}`);
    else if (kind === 'peer-app-reset') reply(502, 'upstream-reset', `the app behind ${where} closed the connection before responding: ${detail}`);
    else reply(502, 'upstream-reset', `upstream ${where} closed the connection before responding: ${detail}`);
  };

  const attempt = (): void => {
    if (lastEndpointId !== undefined) (tried ??= new Set()).add(lastEndpointId);
    const pick = target.picker.pick(tried ? { exclude: tried } : undefined);
    if (pick.kind === 'fail') {
      // Nowhere left to retry: the last attempt's failure is the honest answer.
      if (lastFailure) replyFailure(lastFailure.kind, lastFailure.endpoint, `${lastFailure.detail}; ${pick.message}`);
      else reply(503, pick.reason, pick.message);
      return;
    }
    attempts++;
    lastEndpointId = pick.endpoint.id;
    // Clock readings are not free on this path: the request's arrival and the response's end serve
    // both the balancer's latency and the handler's duration metric.
    const started = attempts === 1 && ctx.startedAt !== undefined ? ctx.startedAt : performance.now();
    let reported = false;
    /** Reports the attempt's outcome to the balancer (once); returns the time it read. */
    const report = (ok: boolean, connectFailure = false): number => {
      const now = performance.now();
      if (reported) return now;
      reported = true;
      pick.done({ ok, connectFailure, latencyMs: now - started });
      return now;
    };
    const onFailure = (kind: FailureKind, detail: string): void => {
      if (reported) return; // an attempt fails once, however many events report it
      report(false, kind === 'connect');
      fail(kind, pick.endpoint, detail);
    };
    if (pick.endpoint.identity !== undefined && ctx.pool.tls === undefined) {
      // Fail closed: an endpoint behind a sidecar is never called in plaintext by this one.
      onFailure('connect', 'this sidecar has no certificate yet for mutual TLS (see its /ready)');
    } else if (isH2) attemptH2(pick.endpoint, report, onFailure);
    else if (NODE_H1_CLIENT && pick.endpoint.identity === undefined) attemptH1Node(pick.endpoint, report, onFailure);
    else attemptH1(pick.endpoint, report, onFailure);
    // A cancelled attempt (client gone, request timeout) still reports back, or least-request
    // would count it as active forever.
    const cancelTransport = cancelAttempt;
    cancelAttempt = () => {
      report(false);
      cancelTransport?.();
    };
  };

  const upstreamHeaders = (): OutgoingHttpHeaders => {
    const headers = forwardableHeaders(req.headers);
    if (wantsTrailers(req.headers)) headers.te = 'trailers';
    // An undefined value drops the incoming field (as requestHead does for HTTP/1.1).
    if (target.addHeaders) for (const name in target.addHeaders) {
      const value = target.addHeaders[name];
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    return headers;
  };

  // The request head is the same for every attempt: built once, on the first.
  let h1Head: string | undefined;
  const h1Body = !hasBody ? BODY_NONE : req.headers['transfer-encoding'] !== undefined ? BODY_CHUNKED : BODY_RAW;

  const attemptH1 = (ep: EndpointSnapshot, report: (ok: boolean) => number, onFailure: (k: FailureKind, d: string) => void): void => {
    const incoming = req as IncomingMessage;
    const out = res as ServerResponse;
    let status = 0;
    let lastChunk: Buffer | undefined;
    let waitingDrain = false;
    const timeouts = target.policy.timeouts;
    const tls = ep.identity === undefined ? undefined : { context: ctx.pool.tls!.context, identity: ep.identity };
    const ex: H1Exchange = ctx.pool.h1(ep.address, ep.port, ep.identity).request({
      onReady(ex) {
        h1Head ??= requestHead(method, target.path, target.authority, incoming.rawHeaders, {
          connection: incoming.headers.connection,
          teTrailers: wantsTrailers(incoming.headers),
          extra: target.addHeaders as Record<string, string> | undefined,
          chunked: h1Body === BODY_CHUNKED,
        });
        ex.writeHead(h1Head, h1Body);
        if (h1Body !== BODY_NONE) {
          bodyStarted = true;
          pumpBody(ex);
        }
      },
      onHead(st, headers) {
        if (finished) {
          ex.destroy();
          return;
        }
        status = st;
        if (st === 502 || st === 503) {
          const reason = flatHeader(headers, REASON_HEADER);
          const peerFailure = peerFailureKind(st, reason);
          if (peerFailure && canRetry(peerFailure)) {
            ex.discard();
            onFailure(peerFailure, `peer sidecar answered ${st} ${reason}`);
            return;
          }
        }
        try {
          out.writeHead(st, headers);
        } catch (err) {
          ex.destroy();
          report(false);
          reply(502, 'upstream-reset', `upstream ${ep.address}:${ep.port} sent a response head that cannot be forwarded: ${(err as Error).message}`);
        }
      },
      onData(chunk, last) {
        if (last) {
          // The whole rest of the body: it goes out with the end.
          lastChunk = chunk;
          return;
        }
        if (!out.write(chunk) && !waitingDrain) {
          waitingDrain = true;
          ex.pause();
          out.once('drain', () => {
            waitingDrain = false;
            ex.resume();
          });
        }
      },
      onEnd() {
        out.end(lastChunk);
        complete(status, undefined, report(status < 500));
      },
      onError(err, stage: H1Stage) {
        if (finished) return;
        if (stage === 'after-head') {
          report(false);
          out.destroy(err);
          return;
        }
        const code = err.code ?? '';
        // Stage `connect`: the connection (TCP, and TLS with the peer's identity) never came up.
        if ((stage === 'connect' || CONNECT_ERRORS.has(code)) && !bodyStarted) onFailure('connect', `${code} ${err.message}`);
        else onFailure(ex.reused || !bodyStarted ? 'reset-before-response' : 'reset-after-response', `${code} ${err.message}`);
      },
    }, { connectMs: timeouts.connectMs, idleMs: timeouts.idleMs, noResponseBody: method === 'HEAD', tls });
    cancelAttempt = () => ex.destroy();
  };

  /** Streams the request body to the exchange, with back-pressure both ways. */
  const pumpBody = (ex: H1Exchange): void => {
    const incoming = req as IncomingMessage;
    ex.ondrain = () => incoming.resume();
    incoming.on('data', (chunk: Buffer) => {
      if (!ex.writeBody(chunk)) incoming.pause();
    });
    incoming.on('end', () => ex.endBody());
    // The client went away mid-body: the upstream connection cannot be reused.
    incoming.on('close', () => {
      if (!incoming.complete) ex.destroy();
    });
  };

  const attemptH1Node = (ep: EndpointSnapshot, report: (ok: boolean) => void, onFailure: (k: FailureKind, d: string) => void): void => {
    const headers = upstreamHeaders();
    headers.host = target.authority;
    const upReq = http.request({
      host: ep.address,
      port: ep.port,
      method,
      path: target.path,
      headers,
      agent: ctx.pool.agent(ep.address, ep.port, { idleMs: target.policy.timeouts.idleMs }),
    });
    let connectTimer: NodeJS.Timeout | undefined;
    let responded = false;
    let reusedSocket = false;
    cancelAttempt = () => upReq.destroy();

    const sendBody = (): void => {
      if (!hasBody) {
        upReq.end();
        return;
      }
      bodyStarted = true;
      req.pipe(upReq);
    };
    upReq.on('socket', (socket: Socket) => {
      reusedSocket = upReq.reusedSocket;
      if (!socket.connecting) return sendBody();
      connectTimer = setTimeout(() => {
        const err = Object.assign(new Error(`connect timeout after ${target.policy.timeouts.connectMs}ms`), { code: 'WEFT_CONNECT_TIMEOUT' });
        upReq.destroy(err);
      }, target.policy.timeouts.connectMs);
      socket.once('connect', () => {
        clearTimeout(connectTimer);
        sendBody();
      });
    });
    upReq.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (finished) return;
      if (responded) {
        report(false);
        res.destroy(err);
        return;
      }
      const code = err.code ?? '';
      if (CONNECT_ERRORS.has(code) && !bodyStarted) onFailure('connect', `${code} ${err.message}`);
      else onFailure(reusedSocket || !bodyStarted ? 'reset-before-response' : 'reset-after-response', `${code} ${err.message}`);
    });
    upReq.on('response', (upRes: IncomingMessage) => {
      responded = true;
      const status = upRes.statusCode ?? 502;
      const peerFailure = peerFailureKind(status, upRes.headers[REASON_HEADER]);
      if (peerFailure && canRetry(peerFailure)) {
        upRes.resume();
        onFailure(peerFailure, `peer sidecar answered ${status} ${upRes.headers[REASON_HEADER]}`);
        return;
      }
      (res as ServerResponse).writeHead(status, forwardableHeaders(upRes.headers));
      upRes.pipe(res as ServerResponse);
      upRes.on('end', () => {
        report(status < 500);
        complete(status);
      });
      upRes.on('error', () => {
        report(false);
        res.destroy();
      });
    });
  };

  const attemptH2 = (ep: EndpointSnapshot, report: (ok: boolean) => void, onFailure: (k: FailureKind, d: string) => void): void => {
    const session = ctx.pool.session(ep.address, ep.port, ep.identity);
    const wasConnected = !session.connecting;
    const headers = upstreamHeaders() as Record<string, string | string[]>;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request({ ...headers, ':method': method, ':path': target.path, ':authority': target.authority, ':scheme': 'http' }, { endStream: !hasBody });
    } catch (err) {
      onFailure('connect', (err as Error).message);
      return;
    }
    let responded = false;
    cancelAttempt = () => stream.close();
    const connectTimer = wasConnected
      ? undefined
      : setTimeout(() => {
          if (session.connecting) session.destroy(Object.assign(new Error('connect timeout'), { code: 'WEFT_CONNECT_TIMEOUT' }));
        }, target.policy.timeouts.connectMs);
    if (hasBody) {
      const start = (): void => {
        bodyStarted = true;
        req.pipe(stream);
      };
      if (session.connecting) session.once('connect', start);
      else start();
    }
    stream.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (finished) return;
      if (responded) {
        report(false);
        res.destroy(err);
        return;
      }
      const code = err.code ?? '';
      const neverConnected = !wasConnected && (CONNECT_ERRORS.has(code) || code === 'ERR_HTTP2_STREAM_CANCEL' || TLS_HANDSHAKE_ERROR.test(code));
      onFailure(neverConnected && !bodyStarted ? 'connect' : 'reset-before-response', `${code} ${err.message}`);
    });
    stream.on('response', (h: H2Headers) => {
      clearTimeout(connectTimer);
      responded = true;
      const status = Number(h[':status'] ?? 502);
      const peerFailure = peerFailureKind(status, h[REASON_HEADER]);
      if (peerFailure && canRetry(peerFailure)) {
        stream.close();
        onFailure(peerFailure, `peer sidecar answered ${status} ${h[REASON_HEADER]}`);
        return;
      }
      (res as ServerResponse).writeHead(status, forwardableHeaders(h as never));
      stream.on('trailers', (trailers: H2Headers) => {
        if ('addTrailers' in res) res.addTrailers(forwardableHeaders(trailers) as never);
      });
      stream.pipe(res as Http2ServerResponse);
      stream.on('end', () => {
        report(status < 500);
        complete(status);
      });
    });
    stream.on('close', () => {
      clearTimeout(connectTimer);
      if (!responded && !finished) onFailure('reset-before-response', `stream closed with code ${stream.rstCode}`);
    });
  };

  attempt();
}

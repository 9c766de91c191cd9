// The HTTP/1.1 attempt through node:http's client (WEFT_H1_CLIENT=node): the path the lean client
// (h1-client.ts) replaced, kept so the two can be compared; forward.ts drives it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { http } from '../../lib/node-http.ts';
import { forwardableHeaders } from './headers.ts';
import { REASON_HEADER } from './local-reply.ts';
import { ATTEMPTS_HEADER, BUDGET_EXHAUSTED_HEADER, CONNECT_ERRORS, editObject, peerFailureKind, responseContentLength } from './attempt-rules.ts';
import type { Attempt, Forwarding } from './forward.ts';
import { retriesAnswer } from '../resilience/retry/retry-policy.ts';

/** An attempt through node:http's client (WEFT_H1_CLIENT=node, kept for comparison). */
export function attemptH1Node(f: Forwarding, a: Attempt): void {
  const ep = a.pick.endpoint;
  const { req, res, target, ctx, method, hasBody } = f;
  const headers = f.upstreamHeaders();
  headers.host = target.authority;
  // Chunked as the client's body was; node:http's client would not chunk a GET's body by itself.
  if (f.framing === -1) headers['transfer-encoding'] = 'chunked';
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
  a.cancelTransport = () => upReq.destroy();

  const sendBody = (): void => {
    if (!hasBody) {
      upReq.end();
      return;
    }
    f.bodyStarted = true;
    req.on('data', () => f.activity++);
    req.on('end', () => f.requestEnded());
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
    if (f.finished) return;
    if (responded) {
      a.report(0, 'reset');
      res.destroy(err);
      return;
    }
    const code = err.code ?? '';
    if (CONNECT_ERRORS.has(code) && !f.bodyStarted) a.onFailure('connect', `${code} ${err.message}`);
    else a.onFailure(reusedSocket || !f.bodyStarted ? 'reset-before-response' : 'reset-after-response', `${code} ${err.message}`);
  });
  upReq.on('response', (upRes: IncomingMessage) => {
    responded = true;
    const status = upRes.statusCode ?? 502;
    const peerFailure = peerFailureKind(status, upRes.headers[REASON_HEADER]);
    if (peerFailure && f.canRetry(peerFailure)) {
      upRes.resume();
      a.onFailure(peerFailure, `peer sidecar answered ${status} ${upRes.headers[REASON_HEADER]}`, status);
      return;
    }
    const answer = retriesAnswer(f.retry, status, upRes.headers['grpc-status'] as string | undefined);
    if (answer !== undefined && f.canRetry(answer)) {
      upRes.resume();
      a.onFailure(answer, `answered ${status}`, status);
      return;
    }
    f.responded = true;
    a.headAt = performance.now();
    f.activity++;
    const head = forwardableHeaders(upRes.headers, responseContentLength(status, upRes.headers));
    if (f.attempts > 1) head[ATTEMPTS_HEADER] = String(f.attempts);
    if (f.budgetExhausted) head[BUDGET_EXHAUSTED_HEADER] = 'true';
    (res as ServerResponse).writeHead(status, target.editResponse ? editObject(target.editResponse, head) : head);
    upRes.on('data', () => f.activity++);
    upRes.pipe(res as ServerResponse);
    upRes.on('end', () => {
      a.report(status);
      f.complete(status);
    });
    upRes.on('error', () => {
      a.report(0, 'reset');
      res.destroy();
    });
  });
}


// The HTTP/1.1 attempt over the lean client (transport/h1-client.ts): the request head built once,
// the body streamed (or replayed for a retry), the response head checked against the retry rules,
// then forwarded with back-pressure; an upgrade's 101 splices the two connections. forward.ts drives it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { BODY_NONE, requestHead, type H1Exchange, type H1Handler, type H1Stage } from '../transport/h1-client.ts';
import type { H1ServerResponse } from '../transport/h1-server-message.ts';
import { pooledIdleMs } from '../transport/h1-pool.ts';
import { splice } from '../transport/tunnel.ts';
import { wantsTrailers } from './headers.ts';
import { REASON_HEADER } from './local-reply.ts';
import { upgradeAccepted } from './upgrade.ts';
import { forwardInterim, forwardTrailers } from './response-shapes.ts';
import { ATTEMPTS_HEADER, BUDGET_EXHAUSTED_HEADER, CONNECT_ERRORS, IDEMPOTENT, flatHeader, peerFailureKind, withoutContentLength } from './attempt-rules.ts';
import { retriesAnswer } from '../resilience/retry/retry-policy.ts';
import { Attempt } from './attempt.ts';
import type { Forwarding } from './forward.ts';

/** An attempt over the lean HTTP/1.1 client (h1-client.ts); it is its exchange's handler. */
export class H1Attempt extends Attempt implements H1Handler {
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
    const ex = pool.request(this, { connectMs: timeouts.connectMs, idleMs: pooledIdleMs(timeouts.idleMs, ep.identity), noResponseBody: f.method === 'HEAD', tls, upgrade, retryStale: !upgrade && f.h1Body === BODY_NONE && IDEMPOTENT.has(f.method) });
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
    pumpBody(f, ex);
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

/** Streams the client's request body to the exchange, with back-pressure both ways. */
function pumpBody(f: Forwarding, ex: H1Exchange): void {
  const incoming = f.req as IncomingMessage;
  ex.ondrain = () => incoming.resume();
  const mirror = f.target.mirror;
  incoming.on('data', (chunk: Buffer) => {
    f.activity++;
    if (f.fate !== undefined) f.fate.bytesReceived += chunk.length;
    mirror?.chunk(chunk);
    f.keep(chunk);
    if (!ex.writeBody(chunk)) incoming.pause();
  });
  incoming.on('end', () => {
    f.bodyRead();
    mirror?.end();
    ex.endBody();
    f.requestEnded();
  });
  // The client went away mid-body: the upstream connection cannot be reused.
  incoming.on('close', () => {
    if (!incoming.complete) ex.destroy();
  });
}

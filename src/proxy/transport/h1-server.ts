// The lean HTTP/1.1 server side of a listener (listener.ts): parses request heads straight from the
// socket (h1-parser.ts) and answers through H1ServerResponse, one exchange at a time (pipelined
// requests wait their turn). What it does not handle (CONNECT, Expect, HTTP/1.0) goes to node:http.
// An Upgrade request is an ordinary exchange until the handler answers 101 (switchProtocols).

import type net from 'node:net';
import { H1RequestParser, type RequestHead, type RequestSink } from './h1-parser.ts';
import { H1ServerRequest, H1ServerResponse, type H1ServerOwner } from './h1-server-message.ts';
import { rawLocalReply } from '../http/local-reply.ts';

export interface H1ServerOptions {
  readonly onRequest: (req: H1ServerRequest, res: H1ServerResponse) => void;
  /** Takes the connection over (node:http), with the bytes read but not handled yet. */
  readonly fallback: (socket: net.Socket, unread: Buffer) => void;
  /** Names this proxy in the replies to malformed requests. */
  readonly proxyId: string;
  /** Each request answered here (400, 408, 431) because it never could reach onRequest. */
  readonly onRefused?: (status: number, reason: 'bad-request' | 'header-too-large' | 'request-timeout') => void;
  /** Called once, when the connection is closed or handed to the fallback. */
  readonly onDone: (conn: H1ServerConnection) => void;
}

export class H1ServerConnection implements RequestSink, H1ServerOwner {
  readonly socket: net.Socket;
  readonly #options: H1ServerOptions;
  readonly #parser = new H1RequestParser(this);
  #req: H1ServerRequest | undefined;
  #res: H1ServerResponse | undefined;
  /** The head the parser just reported (consumed by #feed). */
  #head: RequestHead | undefined;
  #requestDone = true;
  #responseDone = true;
  #keepAlive = true;
  /** Bytes of the next request(s), read while an exchange is in flight (pipelining). */
  #pending: Buffer | undefined;
  /** Bytes of a head that spans reads, kept in case the request goes to the fallback. */
  #partialHead: Buffer[] | undefined;
  #feeding = false;
  #closing = false;
  #done = false;
  /** Sweep ticks (listener.ts) since the connection went idle / a head began. */
  idleTicks = 0;
  headTicks = 0;

  constructor(socket: net.Socket, options: H1ServerOptions) {
    this.socket = socket;
    this.#options = options;
    this.#parser.start();
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
  }

  /** Neither an exchange nor part of a head is in: the connection may be closed without loss. */
  get idle(): boolean {
    return this.#req === undefined && this.#partialHead === undefined && this.#pending === undefined;
  }

  get inHead(): boolean {
    return this.#partialHead !== undefined;
  }

  get closeAfterResponse(): boolean {
    return !this.#keepAlive || this.#closing;
  }

  /** Graceful: an idle connection closes now, a busy one after its response. */
  close(): void {
    this.#closing = true;
    if (this.idle) this.socket.end();
  }

  /** A head that has not ended in time (listener.ts' sweep): 408, then close. */
  headTimeout(): void {
    if (this.#done || this.#req !== undefined) return;
    this.#refuse(408, 'request-timeout', 'the request head did not arrive in time');
  }

  // RequestSink, called by the parser inside #feed.
  onRequest(head: RequestHead): void {
    this.#head = head;
  }

  onBody(chunk: Buffer, last: boolean): void {
    this.#req?.push(chunk);
    if (last) this.#endRequestBody();
  }

  // H1ServerOwner, called by the request and the response.
  requestDone(): void {
    if (this.#responseDone) this.#finishExchange();
  }

  responseDone(): void {
    this.#responseDone = true;
    if (this.#requestDone) this.#finishExchange();
    else this.#req?.dump();
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#done) return;
    if (this.#req !== undefined && this.#requestDone) {
      // The next request, pipelined: it waits until this exchange is over, and so do further reads.
      this.#pending = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
      this.socket.pause();
      return;
    }
    this.#feed(chunk);
  };

  #feed(buf: Buffer): void {
    this.#feeding = true;
    try {
      let off = 0;
      while (off < buf.length && !this.#done) {
        const rest = off === 0 ? buf : buf.subarray(off);
        if (this.#req === undefined) {
          const parser = this.#parser;
          const n = parser.execute(rest);
          if (n < 0) {
            this.#refuse(parser.errorStatus, parser.errorStatus === 431 ? 'header-too-large' : 'bad-request', `malformed request: ${parser.error}`);
            return;
          }
          const head = this.#head;
          if (head === undefined) {
            // The head goes on in the next read.
            if (this.#partialHead === undefined) {
              this.#partialHead = [];
              this.headTicks = 0;
            }
            this.#partialHead.push(rest);
            return;
          }
          this.#head = undefined;
          const headBytes = rest.subarray(0, n);
          off += n;
          if (head.expect || head.method === 'CONNECT' || head.minor === 0) {
            const parts = this.#partialHead ?? [];
            parts.push(headBytes, buf.subarray(off));
            this.#handOff(Buffer.concat(parts));
            return;
          }
          this.#partialHead = undefined;
          this.#begin(head);
        } else if (!this.#requestDone) {
          const parser = this.#parser;
          const n = parser.execute(rest);
          if (n < 0) {
            this.#badBody(parser.error);
            return;
          }
          off += n;
          if (parser.complete && !this.#requestDone) this.#endRequestBody();
        } else {
          // A pipelined request behind one still in flight.
          this.#pending = rest;
          this.socket.pause();
          return;
        }
      }
    } finally {
      this.#feeding = false;
    }
  }

  #begin(head: RequestHead): void {
    this.idleTicks = 0;
    this.#keepAlive = head.keepAlive;
    this.#requestDone = head.contentLength === 0;
    this.#responseDone = false;
    const req = new H1ServerRequest(this, head);
    const res = new H1ServerResponse(this, head.method);
    this.#req = req;
    this.#res = res;
    this.#options.onRequest(req, res);
  }

  #endRequestBody(): void {
    if (this.#requestDone) return;
    this.#requestDone = true;
    // pushEnd() calls requestDone(), which may finish the exchange.
    this.#req?.pushEnd();
  }

  /** Both the request and the response are over: the next request, or close. */
  #finishExchange(): void {
    if (this.#req === undefined) return;
    this.#req = undefined;
    this.#res = undefined;
    if (!this.#keepAlive || this.#closing) {
      this.#done = true;
      this.socket.end();
      return;
    }
    this.#parser.start();
    this.idleTicks = 0;
    // Inside #feed, its loop carries on with the rest of the buffer.
    if (this.#feeding) return;
    const pending = this.#pending;
    this.#pending = undefined;
    this.socket.resume();
    if (pending !== undefined) this.#feed(pending);
  }

  /** A malformed body: the request cannot be completed, nor the connection trusted. */
  #badBody(why: string): void {
    const res = this.#res;
    if (res !== undefined && !res.headersSent) this.socket.write(rawLocalReply(400, 'bad-request', `malformed request body: ${why}`, this.#options.proxyId), 'latin1');
    this.socket.destroy();
  }

  /** A reply of our own to a request that never reached a handler; then the connection closes. */
  #refuse(status: number, reason: 'bad-request' | 'header-too-large' | 'request-timeout', message: string): void {
    this.#done = true;
    this.#options.onRefused?.(status, reason);
    this.socket.end(rawLocalReply(status, reason, message, this.#options.proxyId), 'latin1');
    this.socket.destroySoon();
  }

  #detach(): void {
    const socket = this.socket;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('close', this.#onClose);
    socket.off('drain', this.#onDrain);
  }

  #handOff(unread: Buffer): void {
    this.#done = true;
    this.#detach();
    this.#options.onDone(this);
    this.#options.fallback(this.socket, unread);
  }

  readonly #onEnd = (): void => {
    // The client is done sending; a request it had not finished cannot be.
    if (this.#req !== undefined && !this.#requestDone) this.socket.destroy();
  };

  readonly #onClose = (): void => {
    this.#done = true;
    this.#detach();
    this.#options.onDone(this);
    const req = this.#req;
    const res = this.#res;
    this.#req = undefined;
    this.#res = undefined;
    if (req !== undefined && !this.#requestDone) req.abort();
    if (res !== undefined && !this.#responseDone) res.abort();
  };

  readonly #onDrain = (): void => {
    this.#res?.emit('drain');
  };

  // H1ServerOwner: the response was a 101. The socket is the handler's from now on, with the
  // bytes read after the request (held back, as a pipelined request would be, until this answer).
  switchProtocols(): Buffer {
    this.#done = true;
    this.#detach();
    this.#options.onDone(this);
    const pending = this.#pending;
    this.#pending = undefined;
    this.#req = undefined;
    this.#res = undefined;
    return pending ?? Buffer.alloc(0);
  }
}

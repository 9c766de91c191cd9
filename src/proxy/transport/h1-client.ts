// The sidecar's HTTP/1.1 client to endpoints, on raw net sockets: one pooled connection carries one
// exchange at a time (the request head as one string, the body as is or re-chunked; the response
// parsed by h1-parser.ts). forward.ts drives it; h1-pool.ts keeps the idle connections.

import net from 'node:net';
import type { Duplex } from 'node:stream';
import { H1ResponseParser, type ResponseSink } from './h1-parser.ts';
import { dialEndpoint, type EndpointTls, type TlsResumption } from './mesh-tls.ts';
import type { H1RequestOptions } from './h1-pool.ts';

/** Where an exchange was when it failed: forward.ts turns this into its retry decision. */
export type H1Stage = 'connect' | 'before-head' | 'after-head';

/** How the request body goes upstream. */
export const BODY_NONE = 0;
/** As it comes (Content-Length framing, which the head already carries). */
export const BODY_RAW = 1;
/** Re-chunked: the server side hands us de-chunked data. */
export const BODY_CHUNKED = 2;

/** One exchange's callbacks; none is called after onEnd or onError. */
export interface H1Handler {
  /** The connection is ready for the request (just connected, or idle in the pool). */
  onReady(ex: H1Exchange): void;
  /** An interim 1xx head (100, 102, 103), before onHead; a handler without this skips them. */
  onInterim?(status: number, headers: string[]): void;
  /** The final response head. */
  onHead(status: number, headers: string[]): void;
  /** Body bytes, de-chunked; `last`: nothing follows. */
  onData(chunk: Buffer, last: boolean): void;
  /** A chunked body's trailer fields (those that may travel on), after the last body bytes and before onEnd. */
  onTrailers?(trailers: string[]): void;
  /** The response is complete; the connection is already back in the pool (or closed). */
  onEnd(): void;
  onError(err: NodeJS.ErrnoException, stage: H1Stage): void;
  /**
   * The reused connection was stale (closed by the server before any response byte) and the
   * exchange goes again on a new connection to the same endpoint; `onReady` follows. Not a failure
   * of the endpoint: for metrics only.
   */
  onStaleRetry?(): void;
  /**
   * A 101 to an upgrade request (H1RequestOptions.upgrade), once the request is completely sent:
   * the head's fields (with `upgrade`), the socket, now the handler's alone, and the bytes of the
   * new protocol that came with the head. Without this callback the socket is closed.
   */
  onUpgrade?(headers: string[], socket: Duplex, head: Buffer): void;
}

/** The pool side of a connection. */
export interface H1Owner {
  release(conn: H1Connection): void;
  forget(conn: H1Connection): void;
  /** Moves `ex` to a new connection after a stale reused one failed (RFC 9112 §9.3.1); false if it cannot. */
  retryStale(ex: H1Exchange, handler: H1Handler): boolean;
  /** TLS session resumption for this endpoint's mutual-TLS connections; absent: a full handshake each time. */
  readonly resumption?: TlsResumption;
}

/**
 * How long a connection may idle when the server said `Keep-Alive: timeout=N` (`serverMs`): a
 * little less, so the proxy closes it before the server does and never writes a request onto a
 * connection the server is closing (a quarter of it, at most 1 s, is kept as margin).
 */
export function keepAliveIdleMs(serverMs: number): number {
  return serverMs - Math.min(1000, serverMs / 4);
}

/**
 * Every connection reads into this one buffer (net's `onread`): a read is parsed before the next
 * one lands, and what must outlive it (a partial head, body bytes) is copied. This skips the
 * Readable stream machinery and one allocation per read.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function httpError(message: string, code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** A request/response on one connection. Every method is a no-op once the exchange is over. */
export class H1Exchange {
  /** The connection, while this exchange owns it. */
  conn: H1Connection | undefined;
  /** Callbacks, until the response ended or failed (or was discarded). */
  handler: H1Handler | undefined;
  /**
   * The connection had carried an earlier exchange (it may have been closed by the peer meanwhile).
   * Cleared when a stale retry moves the exchange to a new connection, so it goes again only once.
   */
  reused: boolean;
  /** How the pool opened it; a stale retry opens its new connection with the same. */
  readonly options: H1RequestOptions;
  /** Called when a body write that returned false has drained, or the body is no longer wanted. */
  ondrain: (() => void) | undefined = undefined;

  constructor(conn: H1Connection, handler: H1Handler, reused: boolean, options: H1RequestOptions) {
    this.conn = conn;
    this.handler = handler;
    this.reused = reused;
    this.options = options;
  }

  /** Writes the request head (one string, ending in the blank line); BODY_NONE ends the request. */
  writeHead(head: string, body: number): void {
    this.conn?.writeHead(this, head, body);
  }

  /** Writes body bytes; false asks the caller to wait for `ondrain`. */
  writeBody(chunk: Buffer): boolean {
    const conn = this.conn;
    return conn === undefined || conn.writeBody(chunk);
  }

  endBody(): void {
    this.conn?.endBody(this);
  }

  /** Back-pressure from whoever consumes the response. */
  pause(): void {
    this.conn?.socket.pause();
  }

  resume(): void {
    this.conn?.socket.resume();
  }

  /** No more callbacks: the response is read to its end and the connection reused if it can be. */
  discard(): void {
    this.handler = undefined;
  }

  /** Cancels: the connection is closed (unless the exchange is over and it went back to the pool). */
  destroy(): void {
    this.handler = undefined;
    this.conn?.kill();
  }
}

export class H1Connection implements ResponseSink {
  readonly socket: net.Socket;
  readonly #owner: H1Owner;
  readonly #parser: H1ResponseParser;
  #exchange: H1Exchange | undefined;
  #connected = false;
  #connectTimer: NodeJS.Timeout | undefined;
  #chunked = false;
  /** The request of the exchange has no body: all of it went with the head. */
  #bodyless = false;
  #requestDone = true;
  #responseDone = true;
  dead = false;
  /** Carries one upgrade exchange and is never pooled: bytes come as 'data' events, which a tunnel can pipe. */
  readonly dedicated: boolean;
  /** A 101 arrived before the request was completely sent: its fields and the bytes after it. */
  #switching: { readonly headers: string[]; readonly rest: Buffer } | undefined;
  #upgradeHeaders: string[] | undefined;
  /** When an idle connection is closed (performance.now() time), set by the pool. */
  idleDeadline = 0;
  /** How long this connection may idle, from the policy of its latest exchange. */
  idleMs = 60_000;

  /** `tls`: mutual TLS to a sidecar that must prove `identity`; absent: plaintext. */
  constructor(owner: H1Owner, host: string, port: number, connectMs: number, tls?: EndpointTls, dedicated = false) {
    this.#owner = owner;
    this.#parser = new H1ResponseParser(this);
    this.dedicated = dedicated;
    let socket: net.Socket;
    if (tls === undefined && dedicated) {
      // No `onread`: a socket that reads into a callback can never be piped afterwards.
      socket = net.connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000 });
      socket.on('data', this.#onData);
      socket.on('connect', this.#onConnect);
    } else if (tls === undefined) {
      socket = net.connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 1000, onread: { buffer: READ_BUFFER, callback: this.#onRead } });
      socket.on('connect', this.#onConnect);
    } else {
      // TLS sockets have no `onread`: decrypted bytes come as data events, each its own buffer.
      socket = dialEndpoint({ host, port, tls: { ...tls, alpn: 'http/1.1' }, resumption: owner.resumption }).socket;
      socket.setKeepAlive(true, 1000);
      socket.on('data', this.#onData);
      socket.on('secureConnect', this.#onConnect);
    }
    this.socket = socket;
    // Listeners are set once for the connection's life; events go to the exchange of the moment.
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
    if (connectMs > 0) this.#connectTimer = setTimeout(this.#onConnectTimeout, connectMs);
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Starts an exchange; `onReady` comes now if connected, else on connect. */
  begin(ex: H1Exchange, noResponseBody: boolean): void {
    this.#exchange = ex;
    this.#requestDone = false;
    this.#responseDone = false;
    this.#bodyless = false;
    this.#parser.start(noResponseBody, this.dedicated);
    if (this.#connected) ex.handler?.onReady(ex);
  }

  writeHead(ex: H1Exchange, head: string, body: number): void {
    this.socket.write(head, 'latin1');
    this.#chunked = body === BODY_CHUNKED;
    this.#bodyless = body === BODY_NONE;
    if (body === BODY_NONE) this.endBody(ex);
  }

  writeBody(chunk: Buffer): boolean {
    if (chunk.length === 0) return true; // an empty chunk would end a chunked body
    const socket = this.socket;
    if (!this.#chunked) return socket.write(chunk);
    socket.cork();
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    const ok = socket.write('\r\n', 'latin1');
    socket.uncork();
    return ok;
  }

  endBody(ex: H1Exchange): void {
    if (this.#requestDone) return;
    if (this.#chunked && ex.conn === this) this.socket.write('0\r\n\r\n', 'latin1');
    this.#requestDone = true;
    if (this.#switching !== undefined) this.#switchProtocols(this.#switching.headers, this.#switching.rest);
    else if (this.#responseDone) this.#finishExchange();
  }

  /** Closes the connection; an exchange still on it gets no callback (its owner asked for this). */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.#connectTimer);
    this.socket.destroy();
    const ex = this.#exchange;
    if (ex) {
      this.#exchange = undefined;
      ex.conn = undefined;
      ex.handler = undefined;
      // A writer waiting for drain would wait forever; its further writes are no-ops.
      if (!this.#requestDone) ex.ondrain?.();
    }
    this.#owner.forget(this);
  }

  // ResponseSink, called by the parser inside #onRead. The lists are the parser's own, not views.
  onInterim(status: number, headers: string[]): void {
    this.#exchange?.handler?.onInterim?.(status, headers);
  }

  onHead(status: number, headers: string[]): void {
    // A 101 is handed over with the socket once the parser returns (#onRead).
    if (status === 101) this.#upgradeHeaders = headers;
    else this.#exchange?.handler?.onHead(status, headers);
  }

  onTrailers(trailers: string[]): void {
    this.#exchange?.handler?.onTrailers?.(trailers);
  }

  onBody(chunk: Buffer, last: boolean): void {
    const handler = this.#exchange?.handler;
    // The read buffer is shared: what the handler keeps must be its own.
    if (handler) handler.onData(Buffer.from(chunk), last);
  }

  readonly #onConnect = (): void => {
    this.#connected = true;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    const ex = this.#exchange;
    ex?.handler?.onReady(ex);
  };

  readonly #onConnectTimeout = (): void => {
    this.#connectTimer = undefined;
    if (!this.#connected) this.#fail(httpError('connect timeout', 'WEFT_CONNECT_TIMEOUT'));
  };

  readonly #onData = (chunk: Buffer): void => {
    this.#onRead(chunk.length, chunk);
  };

  readonly #onRead = (nread: number, shared: Buffer): boolean => {
    if (this.#exchange === undefined || this.#responseDone) {
      // Bytes nobody asked for: the connection cannot be trusted with another request.
      this.kill();
      return false;
    }
    const buf = shared.subarray(0, nread);
    const parser = this.#parser;
    const n = parser.execute(buf);
    if (this.dead) return false; // a callback cancelled the exchange
    if (n < 0) {
      this.#fail(httpError(`malformed response: ${parser.error}`, 'HPE_INVALID_RESPONSE'));
      return false;
    }
    if (this.#upgradeHeaders !== undefined) {
      const headers = this.#upgradeHeaders;
      this.#upgradeHeaders = undefined;
      // A copy: only dedicated connections see a 101, and they read into buffers of their own, but
      // the rest must outlive this read either way.
      this.#switchProtocols(headers, Buffer.from(buf.subarray(n)));
      return false;
    }
    if (parser.complete) {
      if (n < buf.length) parser.keepAlive = false;
      this.#completeResponse();
    }
    // Keep reading: back-pressure pauses the socket explicitly (H1Exchange.pause).
    return true;
  };

  readonly #onEnd = (): void => {
    if (this.#switching !== undefined) {
      // Closed after its 101 but before the request was sent: no tunnel to open.
      this.#fail(httpError('socket hang up after 101', 'ECONNRESET'));
      return;
    }
    if (this.#exchange !== undefined && !this.#responseDone) {
      if (this.#parser.finish()) {
        this.#parser.keepAlive = false;
        this.#completeResponse();
      } else {
        this.#fail(httpError('socket hang up', 'ECONNRESET'));
        return;
      }
    }
    this.kill();
  };

  readonly #onError = (err: NodeJS.ErrnoException): void => {
    this.#fail(err);
  };

  readonly #onClose = (): void => {
    this.#fail(httpError('socket closed', 'ECONNRESET'));
  };

  readonly #onDrain = (): void => {
    this.#exchange?.ondrain?.();
  };

  #completeResponse(): void {
    const ex = this.#exchange!;
    this.#responseDone = true;
    const handler = ex.handler;
    ex.handler = undefined;
    if (this.#requestDone) this.#finishExchange();
    handler?.onEnd();
  }

  /** Both directions are done: the connection goes back to the pool, or closes. */
  #finishExchange(): void {
    const ex = this.#exchange;
    if (ex) {
      ex.conn = undefined;
      ex.ondrain = undefined;
    }
    this.#exchange = undefined;
    if (this.dead) return;
    const parser = this.#parser;
    if (parser.keepAliveTimeoutMs >= 0) {
      // The server said how long it keeps an idle connection: close it a little before that.
      const idle = keepAliveIdleMs(parser.keepAliveTimeoutMs);
      if (idle < this.idleMs) this.idleMs = idle;
    }
    if (!parser.keepAlive || this.idleMs <= 0 || this.dedicated) {
      this.kill();
      return;
    }
    if (this.socket.isPaused()) this.socket.resume();
    this.#owner.release(this);
  }

  /**
   * The 101 ends the HTTP exchange: the socket leaves this connection (and the pool) for the
   * handler. A client may not switch mid-message (RFC 9110 §7.8), so while the request is still
   * being sent the switch waits, the socket paused, for endBody.
   */
  #switchProtocols(headers: string[], rest: Buffer): void {
    if (!this.#requestDone) {
      this.#switching = { headers, rest };
      this.socket.pause();
      return;
    }
    this.#switching = undefined;
    const ex = this.#exchange;
    const handler = ex?.handler;
    this.dead = true;
    clearTimeout(this.#connectTimer);
    const socket = this.socket;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    socket.off('drain', this.#onDrain);
    this.#exchange = undefined;
    if (ex !== undefined) {
      ex.conn = undefined;
      ex.handler = undefined;
      ex.ondrain = undefined;
    }
    this.#owner.forget(this);
    if (handler?.onUpgrade !== undefined) {
      handler.onUpgrade(headers, socket, rest);
    } else {
      socket.destroy();
    }
  }

  /**
   * The connection failed: the exchange on it (if its response is not over) hears why, unless it
   * may go again on a new connection. A kept-alive connection can be closed by the server just as
   * a request is written on it: a request without a body that the caller marked retryable
   * (idempotent, RFC 9110 §9.2.2), on a reused connection, with no byte of a response back, is
   * sent once more on a new connection to the same endpoint (RFC 9112 §9.3.1 allows it; Go's
   * http.Transport does so on its own, Envoy with its `reset-before-request` retry condition).
   * The endpoint is not at fault: the handler hears no error.
   */
  #fail(err: NodeJS.ErrnoException): void {
    const ex = this.#exchange;
    const handler = ex !== undefined && !this.#responseDone ? ex.handler : undefined;
    const stage: H1Stage = !this.#connected ? 'connect' : this.#parser.headReceived ? 'after-head' : 'before-head';
    const stale = handler !== undefined && ex!.reused && ex!.options.retryStale === true && this.#bodyless && stage === 'before-head' && !this.#parser.bytesReceived;
    this.kill();
    if (stale && this.#owner.retryStale(ex!, handler)) return;
    handler?.onError(err, stage);
  }
}

/** Never copied: hop-by-hop fields (RFC 9110 §7.6.1), Host (written first), and the framing, which this writer emits itself. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate', 'http2-settings', 'host', 'content-length']);

export type ExtraHeaders = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/**
 * The request head for one hop, as one string: the incoming request's end-to-end fields in their
 * order (hop-by-hop ones and those named by `Connection` dropped, as http/headers.ts does), then
 * `te: trailers` when asked, the hop's own fields (replacing incoming ones of the same name) and
 * the body framing, written from the decision the server side's parser made (RFC 9112 §6.3):
 * `bodyLength` -1 is `transfer-encoding: chunked`, N ≥ 0 is `content-length: N`, undefined writes
 * neither (no body). No incoming field, `connection` option or `extra` entry can add, drop or
 * change the framing. `upgrade`: the protocols an upgrade request offers, written with
 * `connection: upgrade`.
 */
export function requestHead(method: string, path: string, host: string, rawHeaders: readonly string[], options: { connection?: string; teTrailers?: boolean; extra?: ExtraHeaders; bodyLength?: number; upgrade?: string }): string {
  const named = options.connection ? options.connection.toLowerCase().split(',').map((s) => s.trim()) : undefined;
  const extra = options.extra;
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (named !== undefined && named.includes(lower)) || (extra !== undefined && Object.hasOwn(extra, lower))) continue;
    head += `${name}: ${rawHeaders[i + 1]}\r\n`;
  }
  if (options.teTrailers) head += 'te: trailers\r\n';
  if (extra !== undefined) {
    for (const name in extra) {
      const value = extra[name];
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      if (Array.isArray(value)) for (const v of value) head += `${name}: ${v}\r\n`;
      else head += `${name}: ${value}\r\n`;
    }
  }
  // The one hop-by-hop pair a hop writes itself: the protocols the request offers (RFC 9110 §7.8).
  if (options.upgrade !== undefined) head += `connection: upgrade\r\nupgrade: ${options.upgrade}\r\n`;
  const bodyLength = options.bodyLength;
  if (bodyLength !== undefined) head += bodyLength < 0 ? 'transfer-encoding: chunked\r\n' : `content-length: ${bodyLength}\r\n`;
  return head + '\r\n';
}

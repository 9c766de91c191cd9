// The request and response of one exchange on the lean HTTP/1.1 server (h1-server.ts): the part of
// node:http's IncomingMessage and ServerResponse that the forwarding path uses, without streams.

import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { http } from '../../lib/node-http.ts';
import type { RequestHead } from './h1-parser.ts';
import type { RequestTarget } from '../http/request-target.ts';

/** What a message needs from its connection. */
export interface H1ServerOwner {
  /** The socket: writes, and pause/resume for request-body back-pressure. */
  readonly socket: import('node:net').Socket;
  /** The request body was read to its end. */
  requestDone(): void;
  /** The response was written to its end. */
  responseDone(): void;
  /** The response must close the connection (HTTP version, Connection: close, draining). */
  readonly closeAfterResponse: boolean;
  /**
   * A 101 went out: the connection stops speaking HTTP and gives up the socket. Returns the bytes
   * the client sent after the request, held back until now.
   */
  switchProtocols(): Buffer;
}

// Duplicates of these are dropped (node:http's rule), cookies join with '; ', set-cookie is a list.
const FIRST_ONLY = new Set(['content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires']);

/**
 * The request: head fields as node:http gives them (`headers` built on first use), and the body as
 * 'data' / 'end' events that start once someone listens or resumes, like a paused Readable.
 */
export class H1ServerRequest extends EventEmitter {
  readonly method: string;
  readonly url: string;
  /** The target as the parser judged it (request-target.ts). */
  readonly target: RequestTarget;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly rawHeaders: string[];
  readonly #names: string[];
  #headers: IncomingHttpHeaders | undefined;
  /** The whole body has arrived (true at once for a request without one). */
  complete: boolean;
  readonly #owner: H1ServerOwner;
  /** Body chunks not yet emitted (not flowing, or paused); `#ended`: the end waits behind them. */
  #queue: Buffer[] | undefined;
  #ended = false;
  #flowing = false;
  #paused = false;
  #flushScheduled = false;

  /** The connection (node:http's IncomingMessage has it too): a TLS socket carries the peer's identity. */
  get socket(): import('node:net').Socket {
    return this.#owner.socket;
  }

  constructor(owner: H1ServerOwner, head: RequestHead) {
    super();
    this.#owner = owner;
    this.method = head.method;
    this.url = head.url;
    this.target = head.target;
    this.httpVersionMinor = head.minor;
    this.rawHeaders = head.rawHeaders;
    this.#names = head.names;
    this.complete = head.contentLength === 0;
    // A request without a body still ends, once read (as a Readable would).
    this.#ended = this.complete;
  }

  get headers(): IncomingHttpHeaders {
    if (this.#headers !== undefined) return this.#headers;
    const out: Record<string, string | string[]> = {};
    const raw = this.rawHeaders;
    const names = this.#names;
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const value = raw[2 * i + 1];
      const seen = out[name];
      if (seen === undefined) out[name] = name === 'set-cookie' ? [value] : value;
      else if (name === 'set-cookie') (seen as string[]).push(value);
      else if (FIRST_ONLY.has(name)) continue;
      else out[name] = `${seen}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
    return (this.#headers = out);
  }

  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    if (event === 'data' && !this.#paused) this.#startFlowing();
    return this;
  }

  pause(): this {
    if (!this.#paused) {
      this.#paused = true;
      if (!this.complete) this.#owner.socket.pause();
    }
    return this;
  }

  resume(): this {
    this.#paused = false;
    this.#startFlowing();
    return this;
  }

  /** Streams the body into a writable (node:http's client request), with back-pressure. */
  pipe<T extends NodeJS.WritableStream>(dest: T): T {
    this.on('data', (chunk: Buffer) => {
      if (!dest.write(chunk)) {
        this.pause();
        dest.once('drain', () => this.resume());
      }
    });
    this.once('end', () => dest.end());
    return dest;
  }

  /** From the connection: body bytes (a view on a buffer of our own). */
  push(chunk: Buffer): void {
    if (this.#flowing && !this.#paused && this.#queue === undefined) {
      this.emit('data', chunk);
      return;
    }
    (this.#queue ??= []).push(chunk);
    // Hold further reads until these are taken.
    this.#owner.socket.pause();
  }

  /** From the connection: the body is complete. */
  pushEnd(): void {
    this.complete = true;
    if (this.#flowing && !this.#paused && this.#queue === undefined) this.emit('end');
    else this.#ended = true;
    this.#owner.requestDone();
  }

  /** From the connection: it closed before the body or the response ended. */
  abort(): void {
    this.emit('close');
  }

  /** The response ended first: whatever body is left is read and dropped (node:http's dump). */
  dump(): void {
    if (!this.complete) this.resume();
  }

  #startFlowing(): void {
    this.#flowing = true;
    if ((this.#queue !== undefined || this.#ended) && !this.#flushScheduled) {
      // Later, as a Readable would: a caller adds its 'end' listener after its 'data' one.
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    } else if (!this.complete) {
      this.#owner.socket.resume();
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const queue = this.#queue;
    while (queue !== undefined && queue.length > 0 && !this.#paused) this.emit('data', queue.shift()!);
    if (this.#paused) return;
    this.#queue = undefined;
    if (this.#ended) {
      this.#ended = false;
      this.emit('end');
    } else if (!this.complete) {
      this.#owner.socket.resume();
    }
  };
}

// Cached per second, as node:http does.
let dateText = '';
let dateAt = 0;
function httpDate(): string {
  const now = Date.now();
  if (now - dateAt >= 1000) {
    dateAt = now - (now % 1000);
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

const STATUS_LINES: string[] = [];
function statusLine(status: number): string {
  return (STATUS_LINES[status] ??= `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Unknown'}\r\n`);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LENGTH = /^\d{1,15}$/;
const BAD_VALUE = /[\r\n\0]/;

function invalid(what: string, name: string): Error {
  return Object.assign(new TypeError(`invalid ${what} for header ${JSON.stringify(name)}`), { code: 'ERR_INVALID_CHAR' });
}

/** Below this, head and body are copied into one buffer: one write, one system call. */
const COALESCE_BYTES = 16 * 1024;

// Body framing of the response.
const FRAME_NONE = 0;
const FRAME_LENGTH = 1;
const FRAME_CHUNKED = 2;

/** `name: value\r\n` lines of a flat [name, value, …] list (checked by the parser) or an object (checked here). */
function fieldLines(fields: readonly string[] | OutgoingHttpHeaders): string {
  let out = '';
  if (Array.isArray(fields)) {
    for (let i = 0; i < fields.length; i += 2) out += `${fields[i]}: ${fields[i + 1]}\r\n`;
    return out;
  }
  const object = fields as OutgoingHttpHeaders;
  for (const name in object) {
    const value = object[name];
    if (value === undefined) continue;
    if (!TOKEN.test(name)) throw invalid('name', name);
    for (const v of Array.isArray(value) ? value : [String(value)]) {
      if (BAD_VALUE.test(v)) throw invalid('value', name);
      out += `${name}: ${v}\r\n`;
    }
  }
  return out;
}

/**
 * The response: writeHead takes a flat [name, value, …] list (as the upstream client parses it;
 * names lower case, already checked) or an object; the head goes out with the first body bytes.
 * Without a Content-Length the body is chunked, unless all of it comes with end() and no trailers
 * were added. Interim 1xx heads (writeInterim) go out at once, before the final head.
 *
 * Framing is this writer's own (RFC 9112 §6.3): a given Content-Length is read as the length, not
 * copied, Transfer-Encoding and Connection are never copied, and a response that carries no content
 * carries no framing it may not (RFC 9110 §8.6, §6.4.1): none on 1xx and 204, Content-Length but
 * no Transfer-Encoding on 304, and a HEAD response keeps the length its GET would have.
 */
export class H1ServerResponse extends EventEmitter {
  headersSent = false;
  statusCode = 200;
  /** Written to its end. */
  finished = false;
  readonly #owner: H1ServerOwner;
  readonly #noBody: boolean;
  /** The head, until it is written. */
  #head: string | undefined;
  #frame = FRAME_NONE;
  /** Trailer field lines for the end of a chunked body (addTrailers), if any. */
  #trailers: string | undefined = undefined;

  constructor(owner: H1ServerOwner, method: string) {
    super();
    this.#owner = owner;
    this.#noBody = method === 'HEAD';
  }

  writeHead(status: number, headers?: readonly string[] | OutgoingHttpHeaders): this {
    if (this.headersSent) throw Object.assign(new Error('headers already sent'), { code: 'ERR_HTTP_HEADERS_SENT' });
    let head = statusLine(status);
    let length: string | undefined;
    let date = false;
    if (Array.isArray(headers)) {
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i];
        if (name === 'content-length') {
          length ??= headers[i + 1];
          continue;
        }
        if (name === 'date') date = true;
        else if (name === 'transfer-encoding' || name === 'connection') continue;
        head += `${name}: ${headers[i + 1]}\r\n`;
      }
    } else if (headers !== undefined) {
      const object = headers as OutgoingHttpHeaders;
      for (const name in object) {
        const value = object[name];
        if (value === undefined) continue;
        if (!TOKEN.test(name)) throw invalid('name', name);
        const lower = name.toLowerCase();
        if (lower === 'content-length') {
          // The list form comes from the upstream parser, which checked its length; this one is checked here.
          length = String(Array.isArray(value) ? value[0] : value);
          if (!LENGTH.test(length)) throw invalid('value', name);
          continue;
        }
        if (lower === 'date') date = true;
        else if (lower === 'transfer-encoding' || lower === 'connection') continue;
        if (Array.isArray(value)) {
          for (const v of value) {
            if (BAD_VALUE.test(v)) throw invalid('value', name);
            head += `${name}: ${v}\r\n`;
          }
        } else {
          const v = String(value);
          if (BAD_VALUE.test(v)) throw invalid('value', name);
          head += `${name}: ${v}\r\n`;
        }
      }
    }
    // 1xx and 204 carry no content and no Content-Length (RFC 9110 §8.6); a 304 and a HEAD
    // response may state the length of the content they do not carry.
    const contentless = status < 200 || status === 204;
    if (length !== undefined && !contentless) head += `content-length: ${length}\r\n`;
    if (!date) head += `date: ${httpDate()}\r\n`;
    if (this.#owner.closeAfterResponse) head += 'connection: close\r\n';
    this.statusCode = status;
    this.headersSent = true;
    this.#head = head;
    this.#frame = this.#noBody || contentless || status === 304 ? FRAME_NONE : length !== undefined ? FRAME_LENGTH : FRAME_CHUNKED;
    return this;
  }

  /**
   * Sends an interim 1xx head now (RFC 9110 §15.2: 100 Continue, 102 Processing, 103 Early Hints),
   * ahead of the final one; `headers` as for writeHead. The lean server serves HTTP/1.1 clients
   * only, to whom 1xx may be sent. Returns socket.write's answer (false: wait for 'drain').
   * Throws ERR_HTTP_INVALID_STATUS_CODE for 101 (not interim: upgrades go elsewhere) or a non-1xx
   * status, and ERR_HTTP_HEADERS_SENT after the final head.
   */
  writeInterim(status: number, headers?: readonly string[] | OutgoingHttpHeaders): boolean {
    if (this.headersSent) throw Object.assign(new Error('headers already sent'), { code: 'ERR_HTTP_HEADERS_SENT' });
    if (!Number.isInteger(status) || status < 100 || status > 199 || status === 101) throw Object.assign(new RangeError(`invalid interim status ${status}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' });
    const socket = this.#owner.socket;
    if (socket.destroyed) return false;
    return socket.write(`${statusLine(status)}${headers === undefined ? '' : fieldLines(headers)}\r\n`, 'latin1');
  }

  /**
   * Trailer fields for the end of the body (node:http's addTrailers): sent after the last chunk of
   * a chunked body (RFC 9112 §7.1.2), so a response given trailers before its head went out stays
   * chunked. A body framed by Content-Length, or none, cannot carry them: they are dropped. Whether
   * the client accepts trailers (`TE: trailers`) is the caller's decision.
   */
  addTrailers(trailers: readonly string[] | OutgoingHttpHeaders): void {
    const lines = fieldLines(trailers);
    if (lines.length > 0) this.#trailers = this.#trailers === undefined ? lines : this.#trailers + lines;
  }

  write(chunk: Buffer | string): boolean {
    if (this.finished) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#frame === FRAME_NONE || body.length === 0) return this.#flushHead('');
    if (this.#frame === FRAME_CHUNKED) return this.#send(`${this.#takeHead()}${body.length.toString(16)}\r\n`, body, '\r\n');
    return this.#send(this.#takeHead(), body, '');
  }

  end(chunk?: Buffer | string): this {
    if (this.finished) return this;
    const body = chunk === undefined ? undefined : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (!this.headersSent) this.writeHead(this.statusCode, body ? { 'content-length': body.length } : { 'content-length': 0 });
    this.finished = true;
    if (this.#head !== undefined && this.#frame === FRAME_CHUNKED && this.#trailers === undefined) {
      // The whole body is here and nothing went out yet: a length is simpler than chunks.
      this.#frame = FRAME_LENGTH;
      this.#head += `content-length: ${body?.length ?? 0}\r\n`;
    }
    const hasBody = body !== undefined && body.length > 0 && this.#frame !== FRAME_NONE;
    if (this.#frame === FRAME_CHUNKED) {
      // The last chunk, then the trailer section (empty unless addTrailers was called).
      const trailers = this.#trailers;
      if (hasBody) this.#send(`${this.#takeHead()}${body.length.toString(16)}\r\n`, body, trailers === undefined ? '\r\n0\r\n\r\n' : `\r\n0\r\n${trailers}\r\n`);
      else this.#flushHead(trailers === undefined ? '0\r\n\r\n' : `0\r\n${trailers}\r\n`);
    } else if (hasBody) {
      this.#send(this.#takeHead(), body, '');
    } else if (this.#head !== undefined) {
      this.#flushHead('');
    }
    this.#owner.responseDone();
    return this;
  }

  /**
   * Answers 101 Switching Protocols with `headers` (a flat list, names lower case, checked by the
   * response parser; `upgrade` among them) and hands the socket over: the caller pipes it from now
   * on, starting with `head`, the client's bytes read after the request.
   */
  switchProtocols(headers: readonly string[]): { socket: import('node:net').Socket; head: Buffer } {
    if (this.headersSent) throw Object.assign(new Error('headers already sent'), { code: 'ERR_HTTP_HEADERS_SENT' });
    let text = statusLine(101);
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    text += 'connection: upgrade\r\n\r\n';
    this.statusCode = 101;
    this.headersSent = true;
    this.finished = true;
    const socket = this.#owner.socket;
    const head = this.#owner.switchProtocols();
    if (!socket.destroyed) socket.write(text, 'latin1');
    return { socket, head };
  }

  /** Closes the connection: the only signal left once a head has gone out. */
  destroy(_err?: Error): this {
    this.#owner.socket.destroy();
    return this;
  }

  /** From the connection: it closed before this response ended. */
  abort(): void {
    this.emit('close');
  }

  #takeHead(): string {
    const head = this.#head;
    if (head === undefined) return '';
    this.#head = undefined;
    return this.#frame === FRAME_CHUNKED ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}\r\n`;
  }

  #flushHead(tail: string): boolean {
    const text = this.#takeHead() + tail;
    const socket = this.#owner.socket;
    // A client gone meanwhile: nothing to write to (its 'close' reaches the handler).
    if (text.length === 0 || socket.destroyed) return false;
    return socket.write(text, 'latin1');
  }

  /** prefix + body + suffix in one write when small (the prefix may carry the head). */
  #send(prefix: string, body: Buffer, suffix: string): boolean {
    const socket = this.#owner.socket;
    if (socket.destroyed) return false;
    const total = prefix.length + body.length + suffix.length;
    if (total <= COALESCE_BYTES) {
      const out = Buffer.allocUnsafe(total);
      out.write(prefix, 0, 'latin1');
      body.copy(out, prefix.length);
      if (suffix.length > 0) out.write(suffix, prefix.length + body.length, 'latin1');
      return socket.write(out);
    }
    socket.cork();
    if (prefix.length > 0) socket.write(prefix, 'latin1');
    let ok = socket.write(body);
    if (suffix.length > 0) ok = socket.write(suffix, 'latin1');
    socket.uncork();
    return ok;
  }
}

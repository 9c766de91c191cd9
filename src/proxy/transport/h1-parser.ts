// HTTP/1.1 message parsers, fed a socket's bytes as they arrive: responses for the upstream client
// (h1-client.ts; end-to-end headers handed on as a flat [name, value, …] list, ready for writeHead)
// and requests for the lean server (h1-server.ts). Head, then the body's framing (RFC 9112 §6.3),
// decided here once: writers emit framing from this decision, never from copied fields. A
// response's interim 1xx heads and chunked trailer fields are reported too.

import { FORBIDDEN_TRAILERS } from './trailer-fields.ts';
import { addContentLength, CL_CONFLICT, clError, F_CONNECTION, F_CONTENT_LENGTH, F_EXPECT, F_HOP, F_HOST, F_TRANSFER_ENCODING, F_UPGRADE, FIELD_CHAR, keepAliveTimeout, knownName, proxyConnectionClose, TOKEN_CHAR } from './h1-fields.ts';
import { forbiddenConnectionOption } from '../http/headers.ts';
import { parseRequestTarget, type RequestTarget } from '../http/request-target.ts';

/** What the parser reports; called synchronously from `execute`. */
export interface ResponseSink {
  /**
   * A final (non-1xx) response head, or a 101 to a request that asked to upgrade (it keeps its
   * `upgrade` field). `headers` excludes hop-by-hop fields; names are lower case.
   */
  onHead(status: number, headers: string[]): void;
  /** De-chunked body bytes (views on the fed buffer). `last`: this chunk ends the body. */
  onBody(chunk: Buffer, last: boolean): void;
  /**
   * An interim 1xx head (100 Continue, 102 Processing, 103 Early Hints; RFC 9110 §15.2), before the
   * final one: end-to-end fields as for onHead, Content-Length dropped (§8.6). 101 is an error here.
   */
  onInterim?(status: number, headers: string[]): void;
  /**
   * The trailer fields of a chunked body (RFC 9112 §7.1.2), once all have arrived and before the
   * response completes: [name, value, …], names lower case, fields that may not travel in a trailer
   * section dropped (trailer-fields.ts). Not called when the section is empty.
   */
  onTrailers?(trailers: string[]): void;
}

/** A parsed request head (request mode). */
export interface RequestHead {
  readonly method: string;
  /** The request target as sent (origin-form, absolute-form, authority-form or `*`). */
  readonly url: string;
  /** The target parsed (request-target.ts): what routing, authorization and the app see. */
  readonly target: RequestTarget;
  /** 0 or 1 (HTTP/1.0, HTTP/1.1). */
  readonly minor: number;
  /** Every field, names as sent: [name, value, …]. */
  readonly rawHeaders: string[];
  /** The field names lower-cased, one per field (parallel to rawHeaders' names). */
  readonly names: string[];
  /** Body length: -1 for chunked, 0 for none. */
  readonly contentLength: number;
  /** The Connection field's value(s), joined. */
  readonly connection: string | undefined;
  /** The connection may carry another request after this one (HTTP version and Connection). */
  readonly keepAlive: boolean;
  /** An Upgrade or Expect field was sent: the lean server leaves such requests to node:http. */
  readonly upgrade: boolean;
  readonly expect: boolean;
}

/** What the request parser reports; called synchronously from `execute`. */
export interface RequestSink {
  onRequest(head: RequestHead): void;
  /** Body bytes, de-chunked (views on the fed buffer). `last`: the body's end (Content-Length framing). */
  onBody(chunk: Buffer, last: boolean): void;
}

// States.
const S_HEAD = 0;
const S_BODY_LENGTH = 1;
const S_BODY_EOF = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_EXT = 4;
const S_CHUNK_SIZE_LF = 5;
const S_CHUNK_DATA = 6;
const S_CHUNK_DATA_CR = 7;
const S_CHUNK_DATA_LF = 8;
const S_TRAILER_START = 9;
const S_TRAILER_LINE = 10;
const S_TRAILER_END_LF = 11;
const S_DONE = 12;
const S_ERROR = 13;

// Where the head scan stopped, so a head split over reads resumes mid-line.
const H_STATUS = 0;
const H_STATUS_LF = 1;
const H_LINE = 2;
const H_NAME = 3;
const H_OWS = 4;
const H_VALUE = 5;
const H_VALUE_LF = 6;
const H_END_LF = 7;

// Where a chunk extension's scan is (S_CHUNK_EXT).
const X_NAME_START = 0;
const X_NAME = 1;
const X_VALUE_START = 2;
const X_TOKEN = 3;
const X_QUOTED = 4;
const X_QUOTED_PAIR = 5;
const X_AFTER_QUOTE = 6;

const CR = 13;
const LF = 10;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** The parser of both kinds of message; H1ResponseParser and H1RequestParser below choose one. */
class H1Parser {
  readonly #sink: { onBody(chunk: Buffer, last: boolean): void };
  readonly #responseSink: ResponseSink | undefined;
  readonly #requestSink: RequestSink | undefined;
  readonly #maxHeadBytes: number;
  #state = S_DONE;
  #noBody = false;
  /** The request asked to upgrade: a 101 is its answer, not a malformed response (RFC 9110 §15.2.2). */
  #upgrade = false;
  /** The head so far when it spans reads (its first #headLen bytes are used). */
  #headBuf: Buffer | undefined;
  #headLen = 0;
  /** The scan of the head: phase, and the resume offset (relative to the head's start). */
  #phase = H_STATUS;
  #scanPos = 0;
  #statusEnd = 0;
  /** The current field's name start, name end, value start, value end (relative offsets). */
  #fNameStart = 0;
  #fNameEnd = 0;
  #fValueStart = 0;
  #fValueEnd = 0;
  /** Offsets of the fields scanned so far, four per field. */
  readonly #fields: number[] = [];
  /** How many of #fields' entries belong to this head (the array is reused, never shrunk). */
  #fieldsLen = 0;
  #remaining = 0;
  /** The request line, checked as it ended: method end, target start and end (relative), HTTP minor version. */
  #methodEnd = 0;
  #targetStart = 0;
  #targetEnd = 0;
  #minor = 0;
  /** The parsed target when it is not the plain origin-form (`/…`, built later from the line). */
  #target: RequestTarget | undefined;
  #sizeDigits = 0;
  /** Where in a chunk extension the last byte was (X_*). */
  #extPhase = 0;
  #trailerBytes = 0;
  /** A response's trailer section as it arrives (allocated only when it has a field), and its length. */
  #trailerBuf: Buffer | undefined;
  #trailerLen = 0;
  /** Whether the connection may carry another request after this response. */
  keepAlive = true;
  /**
   * A response's `Keep-Alive: timeout=N` in ms (how long the server keeps an idle connection; a
   * de facto parameter, sent by Node's http server and Apache), or -1. The field itself stays on
   * this hop (it is hop-by-hop, RFC 9110 §7.6.1).
   */
  keepAliveTimeoutMs = -1;
  /** A final response head was parsed. */
  headReceived = false;
  /** Any byte of a response arrived. */
  bytesReceived = false;
  status = 0;
  error = '';
  /** The status a server answers a malformed request with: 431 for a head too large, else 400. */
  errorStatus = 400;

  constructor(response: ResponseSink | undefined, request: RequestSink | undefined, maxHeadBytes: number) {
    this.#sink = (response ?? request)!;
    this.#responseSink = response;
    this.#requestSink = request;
    this.#maxHeadBytes = maxHeadBytes;
  }

  /** Expects a new message; `noBody` for the answer to a HEAD request, `upgrade` to one that asked to upgrade. */
  start(noBody = false, upgrade = false): void {
    this.#state = S_HEAD;
    this.#noBody = noBody;
    this.#upgrade = upgrade;
    this.#target = undefined;
    this.#resetHead();
    this.#trailerLen = 0;
    this.keepAlive = true;
    this.keepAliveTimeoutMs = -1;
    this.headReceived = false;
    this.bytesReceived = false;
    this.status = 0;
    this.error = '';
    this.errorStatus = 400;
  }

  /** A head has begun but not ended (a request's first bytes are in). */
  get inHead(): boolean {
    return this.#state === S_HEAD && (this.#headBuf !== undefined || this.#scanPos > 0);
  }

  /** The response is complete. */
  get complete(): boolean {
    return this.#state === S_DONE;
  }

  /** The body runs until the connection closes. */
  get closeDelimited(): boolean {
    return this.#state === S_BODY_EOF;
  }

  /**
   * Consumes bytes; stops at the end of the response. Returns how many bytes were consumed, or -1
   * on a malformed response (`error` says why).
   */
  execute(buf: Buffer): number {
    const len = buf.length;
    let i = 0;
    if (len > 0) this.bytesReceived = true;
    while (i < len) {
      switch (this.#state) {
        case S_HEAD: {
          if (this.#requestSink !== undefined && this.#headBuf === undefined && this.#scanPos === 0) {
            // A server ignores empty lines before a request line (RFC 9112 §2.2), e.g. after a body.
            while (i < len && (buf[i] === CR || buf[i] === LF)) i++;
            if (i === len) return len;
          }
          const n = this.#head(buf, i);
          // (#head may have moved the state on; TypeScript's narrowing by the switch does not know.)
          const state = this.#state as number;
          if (n < 0) return state === S_ERROR ? -1 : len;
          i = n;
          // A request's head is handed over before its body: the server decides what to do with it.
          if (state === S_DONE || this.#requestSink !== undefined) return i;
          break;
        }
        case S_BODY_LENGTH: {
          const take = Math.min(this.#remaining, len - i);
          this.#remaining -= take;
          const last = this.#remaining === 0;
          if (last) this.#state = S_DONE;
          this.#sink.onBody(i === 0 && take === len ? buf : buf.subarray(i, i + take), last);
          i += take;
          if (last) return i;
          break;
        }
        case S_BODY_EOF:
          this.#sink.onBody(i === 0 ? buf : buf.subarray(i), false);
          return len;
        case S_CHUNK_DATA: {
          const take = Math.min(this.#remaining, len - i);
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = S_CHUNK_DATA_CR;
          this.#sink.onBody(buf.subarray(i, i + take), false);
          i += take;
          break;
        }
        default: {
          // Chunked framing, byte by byte (sizes, CRLFs, trailers are short).
          const c = buf[i++];
          if (!this.#chunkByte(c)) return -1;
          if (this.#state === S_DONE) return i;
        }
      }
    }
    return i;
  }

  /** The connection closed. Returns true if that ends the response (a close-delimited body). */
  finish(): boolean {
    if (this.#state === S_BODY_EOF) {
      this.#state = S_DONE;
      return true;
    }
    return this.#state === S_DONE;
  }

  #fail(why: string, status = 400): number {
    this.#state = S_ERROR;
    this.errorStatus = status;
    this.error = why;
    this.#headBuf = undefined;
    return -1;
  }

  #chunkByte(c: number): boolean {
    switch (this.#state) {
      case S_CHUNK_SIZE: {
        const h = hexValue(c);
        if (h >= 0) {
          if (++this.#sizeDigits > 13) return this.#fail('chunk size too large') > 0;
          this.#remaining = this.#remaining * 16 + h;
          return true;
        }
        if (this.#sizeDigits === 0) return this.#fail('chunk size missing') > 0;
        // No whitespace after the size: llhttp refuses it, and a hop that reads `5 ;x` otherwise
        // would frame the body differently.
        if (c === CR) this.#state = S_CHUNK_SIZE_LF;
        else if (c === 59 /* ; */) {
          this.#state = S_CHUNK_EXT;
          this.#extPhase = X_NAME_START;
        } else return this.#fail('bad chunk size') > 0;
        return true;
      }
      case S_CHUNK_EXT:
        // Extensions are ignored, but checked: anything but the grammar could end the line
        // somewhere else for another hop.
        if (++this.#trailerBytes > this.#maxHeadBytes || !this.#extByte(c)) return this.#fail('bad chunk extension') > 0;
        return true;
      case S_CHUNK_SIZE_LF:
        if (c !== LF) return this.#fail('bad chunk size line') > 0;
        if (this.#remaining === 0) {
          this.#state = S_TRAILER_START;
          this.#trailerBytes = 0;
        } else {
          this.#state = S_CHUNK_DATA;
        }
        return true;
      case S_CHUNK_DATA_CR:
        if (c !== CR) return this.#fail('chunk data longer than its size') > 0;
        this.#state = S_CHUNK_DATA_LF;
        return true;
      case S_CHUNK_DATA_LF:
        if (c !== LF) return this.#fail('bad chunk end') > 0;
        this.#state = S_CHUNK_SIZE;
        this.#sizeDigits = 0;
        this.#remaining = 0;
        this.#trailerBytes = 0;
        return true;
      case S_TRAILER_START:
        if (c === CR) this.#state = S_TRAILER_END_LF;
        else if (c === LF) return this.#fail('bad trailer') > 0;
        else {
          this.#state = S_TRAILER_LINE;
          // A response's trailer fields are kept for onTrailers; a request's are not forwarded.
          if (this.#responseSink !== undefined) this.#keepTrailerByte(c);
        }
        return ++this.#trailerBytes <= this.#maxHeadBytes || this.#fail('trailers too large') > 0;
      case S_TRAILER_LINE:
        if (c === LF) this.#state = S_TRAILER_START;
        if (this.#responseSink !== undefined) this.#keepTrailerByte(c);
        return ++this.#trailerBytes <= this.#maxHeadBytes || this.#fail('trailers too large') > 0;
      case S_TRAILER_END_LF:
        if (c !== LF) return this.#fail('bad end of chunked body') > 0;
        if (this.#trailerLen > 0 && !this.#emitTrailers()) return false;
        this.#state = S_DONE;
        return true;
      default:
        return this.#fail('data after the end of the response') > 0;
    }
  }

  /**
   * One byte of a chunk's extensions, after a ';': `name [= (token / quoted-string)]`, repeated
   * after ';', up to the CR (RFC 9112 §7.1.1, without BWS, as llhttp reads them). False if invalid.
   */
  #extByte(c: number): boolean {
    switch (this.#extPhase) {
      case X_NAME_START:
        if (TOKEN_CHAR[c] !== 1) return false;
        this.#extPhase = X_NAME;
        return true;
      case X_NAME:
        if (TOKEN_CHAR[c] === 1) return true;
        if (c === 61 /* = */) this.#extPhase = X_VALUE_START;
        else return this.#extEnd(c);
        return true;
      case X_VALUE_START:
        if (c === 34 /* " */) this.#extPhase = X_QUOTED;
        else if (TOKEN_CHAR[c] === 1) this.#extPhase = X_TOKEN;
        else return this.#extEnd(c);
        return true;
      case X_TOKEN:
        return TOKEN_CHAR[c] === 1 || this.#extEnd(c);
      case X_QUOTED:
        // qdtext: HTAB, SP, visible ASCII but '"' and '\', obs-text (RFC 9110 §5.6.4).
        if (c === 34) this.#extPhase = X_AFTER_QUOTE;
        else if (c === 92 /* \ */) this.#extPhase = X_QUOTED_PAIR;
        else return FIELD_CHAR[c] === 1;
        return true;
      case X_QUOTED_PAIR:
        this.#extPhase = X_QUOTED;
        return FIELD_CHAR[c] === 1;
      default:
        return this.#extEnd(c);
    }
  }

  /** The byte after an extension's name or value: ';' for another, CR for the line's end. */
  #extEnd(c: number): boolean {
    if (c === 59) this.#extPhase = X_NAME_START;
    else if (c === CR) this.#state = S_CHUNK_SIZE_LF;
    else return false;
    return true;
  }

  #keepTrailerByte(c: number): void {
    let buf = this.#trailerBuf;
    if (buf === undefined || this.#trailerLen === buf.length) {
      // #trailerBytes bounds the section by the head limit, so this stays small.
      const grown = Buffer.allocUnsafe(buf === undefined ? 256 : buf.length * 2);
      if (buf !== undefined) buf.copy(grown, 0, 0, this.#trailerLen);
      this.#trailerBuf = buf = grown;
    }
    buf[this.#trailerLen++] = c;
  }

  /**
   * Parses the kept trailer section (field lines, each ending in CRLF; RFC 9112 §7.1.2, the field
   * syntax of §5) and hands the fields that may travel on to the sink. False on a malformed line.
   */
  #emitTrailers(): boolean {
    const buf = this.#trailerBuf!;
    const end = this.#trailerLen;
    this.#trailerLen = 0;
    const trailers: string[] = [];
    let i = 0;
    while (i < end) {
      const nameStart = i;
      while (i < end && TOKEN_CHAR[buf[i]] === 1) i++;
      // No name, whitespace before the colon, or obs-fold (a line that starts with whitespace).
      if (i === nameStart || buf[i] !== 58 /* : */) return this.#fail('bad trailer field') > 0;
      const nameEnd = i++;
      while (i < end && (buf[i] === 32 || buf[i] === 9)) i++;
      const valueStart = i;
      while (i < end && buf[i] !== CR && buf[i] !== LF) {
        if (FIELD_CHAR[buf[i]] !== 1) return this.#fail('control characters in a trailer field') > 0;
        i++;
      }
      if (buf[i] !== CR || buf[i + 1] !== LF) return this.#fail('bad trailer line end') > 0;
      let valueEnd = i;
      while (valueEnd > valueStart && (buf[valueEnd - 1] === 32 || buf[valueEnd - 1] === 9)) valueEnd--;
      i += 2;
      const name = buf.toString('latin1', nameStart, nameEnd).toLowerCase();
      if (FORBIDDEN_TRAILERS.has(name)) continue;
      trailers.push(name, buf.toString('latin1', valueStart, valueEnd));
    }
    if (trailers.length > 0) this.#responseSink!.onTrailers?.(trailers);
    return true;
  }

  #resetHead(): void {
    this.#headBuf = undefined;
    this.#headLen = 0;
    this.#phase = H_STATUS;
    this.#scanPos = 0;
    this.#fieldsLen = 0;
  }

  /**
   * Parses a head starting at input[start]. Returns the offset in `input` after it, or -1 when
   * more bytes are needed (state stays S_HEAD) or on error (state S_ERROR).
   */
  #head(input: Buffer, start: number): number {
    let buf = input;
    let h0 = start;
    let end = input.length;
    let kept = 0;
    if (this.#headBuf !== undefined) {
      // Continue a head begun in earlier reads: append (amortised doubling) and scan on.
      kept = this.#headLen;
      // Only what can still be head: the rest of this read may be a body, or further requests,
      // which do not count towards the head's limit.
      const add = Math.min(input.length - start, this.#maxHeadBytes + 4 - kept);
      if (kept + add > this.#headBuf.length) {
        const grown = Buffer.allocUnsafe(Math.min(Math.max(this.#headBuf.length * 2, kept + add), this.#maxHeadBytes + 4));
        this.#headBuf.copy(grown, 0, 0, kept);
        this.#headBuf = grown;
      }
      input.copy(this.#headBuf, kept, start, start + add);
      this.#headLen = kept + add;
      buf = this.#headBuf;
      h0 = 0;
      end = this.#headLen;
    }
    const headEnd = this.#scan(buf, h0, h0 + this.#scanPos, end);
    if (headEnd === -2) return -1;
    if (headEnd === -1) {
      if (end - h0 > this.#maxHeadBytes) return this.#fail('head too large', 431);
      if (this.#headBuf === undefined) {
        // Copy: the socket's buffer is not ours to hold.
        this.#headBuf = Buffer.allocUnsafe(Math.min(Math.max(1024, (end - h0) * 2), this.#maxHeadBytes + 4));
        input.copy(this.#headBuf, 0, h0, end);
        this.#headLen = end - h0;
      }
      return -1;
    }
    if (headEnd - h0 > this.#maxHeadBytes + 4) return this.#fail('head too large', 431);
    if (this.#parseHead(buf, h0, headEnd) < 0) return -1;
    // Offsets past what was kept map back onto `input`.
    return buf === input ? headEnd : start + (headEnd - kept);
  }

  /**
   * Scans head bytes buf[i, end) (the head starts at h0), resuming where the last scan stopped.
   * Returns the offset after the blank line, -1 if it has not arrived, -2 on a malformed head.
   */
  #scan(buf: Buffer, h0: number, i: number, end: number): number {
    let phase = this.#phase;
    let c = 0;
    while (i < end) {
      switch (phase) {
        case H_STATUS:
          while (i < end && (c = buf[i]) !== CR) {
            if (FIELD_CHAR[c] !== 1) return this.#fail(this.#requestSink !== undefined ? 'control characters in the request line' : 'control characters in the status line') - 1;
            i++;
          }
          if (i === end) break;
          this.#statusEnd = i - h0;
          // A request line that can never be valid is refused as it ends, not after a head that may never come.
          if (this.#requestSink !== undefined && this.#requestLine(buf, h0, i) < 0) return -2;
          phase = H_STATUS_LF;
          i++;
          break;
        case H_STATUS_LF:
        case H_VALUE_LF:
          if (buf[i] !== LF) return this.#fail('bad line end') - 1;
          if (phase === H_VALUE_LF) {
            const f = this.#fields;
            const n = this.#fieldsLen;
            f[n] = this.#fNameStart;
            f[n + 1] = this.#fNameEnd;
            f[n + 2] = this.#fValueStart;
            f[n + 3] = this.#fValueEnd;
            this.#fieldsLen = n + 4;
          }
          phase = H_LINE;
          i++;
          break;
        case H_LINE:
          c = buf[i];
          if (c === CR) {
            phase = H_END_LF;
          } else {
            if (TOKEN_CHAR[c] !== 1) return this.#fail('bad header line') - 1;
            this.#fNameStart = i - h0;
            phase = H_NAME;
          }
          i++;
          break;
        case H_NAME:
          while (i < end && (c = buf[i]) !== 58 /* : */) {
            if (TOKEN_CHAR[c] !== 1) return this.#fail('bad header name') - 1;
            i++;
          }
          if (i === end) break;
          this.#fNameEnd = i - h0;
          phase = H_OWS;
          i++;
          break;
        case H_OWS:
          while (i < end && ((c = buf[i]) === 32 || c === 9)) i++;
          if (i === end) break;
          this.#fValueStart = this.#fValueEnd = i - h0;
          phase = H_VALUE;
          break;
        case H_VALUE: {
          while (i < end && (c = buf[i]) !== CR) {
            if (FIELD_CHAR[c] !== 1) return this.#fail('control characters in a header value') - 1;
            i++;
          }
          if (i === end) break;
          // The whole value is in `buf` now (a head that spans reads is scanned in the kept copy):
          // trailing whitespace is trimmed once, not tracked byte by byte.
          let valueEnd = i;
          const valueStart = h0 + this.#fValueStart;
          while (valueEnd > valueStart && ((c = buf[valueEnd - 1]) === 32 || c === 9)) valueEnd--;
          this.#fValueEnd = valueEnd - h0;
          phase = H_VALUE_LF;
          i++;
          break;
        }
        case H_END_LF:
          if (buf[i] !== LF) return this.#fail('bad line end') - 1;
          this.#phase = H_STATUS;
          return i + 1;
      }
    }
    this.#phase = phase;
    this.#scanPos = i - h0;
    return -1;
  }

  /** Makes sense of a scanned head buf[h0, headEnd). */
  #parseHead(buf: Buffer, h0: number, headEnd: number): number {
    return this.#requestSink !== undefined ? this.#parseRequestHead(this.#requestSink, buf, h0, headEnd) : this.#parseResponseHead(this.#responseSink!, buf, h0, headEnd);
  }

  #parseResponseHead(sink: ResponseSink, buf: Buffer, h0: number, headEnd: number): number {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason]
    const statusEnd = this.#statusEnd;
    if (statusEnd < 12 || buf[h0] !== 72 || buf[h0 + 1] !== 84 || buf[h0 + 2] !== 84 || buf[h0 + 3] !== 80 || buf[h0 + 4] !== 47 || buf[h0 + 5] !== 49 || buf[h0 + 6] !== 46 || buf[h0 + 8] !== 32) {
      return this.#fail('bad status line');
    }
    const minor = buf[h0 + 7] - 48;
    if (minor !== 0 && minor !== 1) return this.#fail('bad HTTP version');
    const d0 = buf[h0 + 9] - 48;
    const d1 = buf[h0 + 10] - 48;
    const d2 = buf[h0 + 11] - 48;
    if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || (statusEnd > 12 && buf[h0 + 12] !== 32)) return this.#fail('bad status code');
    const status = d0 * 100 + d1 * 10 + d2;

    const fields = this.#fields;
    const fieldsLen = this.#fieldsLen;
    const headers: string[] = [];
    let contentLength = -1;
    let te: string | undefined;
    let connection: string | undefined;
    let proxyClose = false;
    // One string for the head; names and values are slices of it.
    const text = fieldsLen === 0 ? '' : buf.toString('latin1', h0, headEnd);
    for (let f = 0; f < fieldsLen; f += 4) {
      const k = knownName(buf, h0 + fields[f], h0 + fields[f + 1]);
      const value = text.slice(fields[f + 2], fields[f + 3]);
      if (k === undefined) {
        headers.push(text.slice(fields[f], fields[f + 1]).toLowerCase(), value);
        continue;
      }
      switch (k.kind) {
        case F_UPGRADE:
          // A 101 names the protocol switched to; the caller checks it against the request's.
          if (status === 101 && this.#upgrade) break;
          continue;
        case F_HOP:
          if (k.name === 'keep-alive') this.keepAliveTimeoutMs = keepAliveTimeout(value);
          else if (k.name === 'proxy-connection' && proxyConnectionClose(value)) proxyClose = true;
          continue;
        case F_HOST:
          continue;
        case F_TRANSFER_ENCODING:
          te = te === undefined ? value : `${te}, ${value}`;
          continue;
        case F_CONNECTION:
          connection = connection === undefined ? value : `${connection}, ${value}`;
          continue;
        case F_CONTENT_LENGTH: {
          const n = addContentLength(contentLength, value);
          if (n < -1) return this.#fail(clError(n));
          // An equal repeat is forwarded once.
          if (contentLength !== -1) continue;
          contentLength = n;
        }
      }
      headers.push(k.name, value);
    }
    this.#resetHead();
    // 101 only answers a request that asked to upgrade (RFC 9110 §7.8).
    if (status === 101) {
      if (!this.#upgrade) return this.#fail('unexpected 101 Switching Protocols');
      // The HTTP exchange ends with the head: what follows is the new protocol's, not a body.
      this.headReceived = true;
      this.status = 101;
      this.keepAlive = false;
      this.#state = S_DONE;
      sink.onHead(101, headers);
      return 0;
    }

    let keepAlive = minor === 1;
    // The usual values, without splitting.
    if (connection === 'keep-alive' || connection === 'Keep-Alive') keepAlive = true;
    else if (connection === 'close' || connection === 'Close') keepAlive = false;
    else if (connection !== undefined) {
      const tokens = connection.toLowerCase().split(',');
      let extra: string[] | undefined;
      for (let t of tokens) {
        t = t.trim();
        if (t === 'close') keepAlive = false;
        else if (t === 'keep-alive') keepAlive ||= minor === 0;
        else if (t) (extra ??= []).push(t);
      }
      if (extra) {
        // Fields named by Connection are hop-by-hop too, but never the framing the body was read
        // by (RFC 9110 §7.6.1): the writer of the next hop needs the length.
        for (let i = headers.length - 2; i >= 0; i -= 2) if (extra.includes(headers[i]) && headers[i] !== 'content-length') headers.splice(i, 2);
      }
    }

    if (status < 200) {
      // 100 Continue, 102, 103: interim; the final head follows on the same response. An interim
      // head has no content, so no Content-Length (RFC 9110 §8.6).
      if (contentLength !== -1) for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-length') headers.splice(i, 2);
      this.#state = S_HEAD;
      sink.onInterim?.(status, headers);
      return 0;
    }

    if (proxyClose) keepAlive = false;
    this.headReceived = true;
    this.status = status;
    if (this.#noBody || status === 204 || status === 304) {
      this.#state = S_DONE;
    } else if (te !== undefined) {
      const last = te.slice(te.lastIndexOf(',') + 1).trim().toLowerCase();
      if (last === 'chunked') {
        this.#state = S_CHUNK_SIZE;
        this.#sizeDigits = 0;
        this.#remaining = 0;
        this.#trailerBytes = 0;
      } else {
        this.#state = S_BODY_EOF;
        keepAlive = false;
      }
      if (contentLength !== -1) {
        // Both framings: chunked wins, the length is dropped and the connection not reused.
        keepAlive = false;
        for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-length') headers.splice(i, 2);
      }
    } else if (contentLength > 0) {
      this.#state = S_BODY_LENGTH;
      this.#remaining = contentLength;
    } else if (contentLength === 0) {
      this.#state = S_DONE;
    } else {
      this.#state = S_BODY_EOF;
      keepAlive = false;
    }
    this.keepAlive = keepAlive;
    sink.onHead(status, headers);
    return 0;
  }

  /**
   * Checks a request line buf[h0, lineEnd) as soon as it ends: method SP request-target SP
   * HTTP/1.x, one space each (RFC 9112 §3), the target in a form its method allows (§3.2,
   * request-target.ts). Returns 0, or -1 after failing (400).
   */
  #requestLine(buf: Buffer, h0: number, lineEnd: number): number {
    let i = h0;
    while (i < lineEnd && TOKEN_CHAR[buf[i]] === 1) i++;
    if (i === h0 || i === lineEnd || buf[i] !== 32) return this.#fail('bad method');
    const methodEnd = i++;
    // PRI is the HTTP/2 preface's method (RFC 9113 §3.4), never a request (llhttp takes it only as
    // the start of the preface).
    if (methodEnd - h0 === 3 && buf[h0] === 80 && buf[h0 + 1] === 82 && buf[h0 + 2] === 73) return this.#fail('bad method');
    const targetStart = i;
    // Visible ASCII and obs-text; no spaces or controls, which would let the line be read two ways.
    let plain = buf[i] === 47; // origin-form, the common case: no string needed to judge it
    while (i < lineEnd && buf[i] > 32 && buf[i] !== 127) {
      if (buf[i] === 35 /* # */) plain = false;
      i++;
    }
    if (i === targetStart) return this.#fail('bad request target');
    // `GET /` and nothing more is HTTP/0.9, which has no headers to frame anything: refused.
    if (i === lineEnd) return this.#fail('no HTTP version (HTTP/0.9 is not supported)');
    if (buf[i] !== 32) return this.#fail('bad request target');
    const targetEnd = i++;
    if (lineEnd - i !== 8 || buf[i] !== 72 || buf[i + 1] !== 84 || buf[i + 2] !== 84 || buf[i + 3] !== 80 || buf[i + 4] !== 47 || buf[i + 5] !== 49 || buf[i + 6] !== 46) {
      return this.#fail('bad HTTP version');
    }
    const minor = buf[i + 7] - 48;
    if (minor !== 0 && minor !== 1) return this.#fail('unsupported HTTP version');
    // CONNECT takes only the authority-form, so a `/` target is not plain for it.
    if (plain && methodEnd - h0 === 7 && buf.toString('latin1', h0, methodEnd) === 'CONNECT') plain = false;
    if (!plain) {
      const target = parseRequestTarget(buf.toString('latin1', h0, methodEnd), buf.toString('latin1', targetStart, targetEnd));
      if (typeof target === 'string') return this.#fail(target);
      this.#target = target;
    }
    this.#methodEnd = methodEnd - h0;
    this.#targetStart = targetStart - h0;
    this.#targetEnd = targetEnd - h0;
    this.#minor = minor;
    return 0;
  }

  #parseRequestHead(sink: RequestSink, buf: Buffer, h0: number, headEnd: number): number {
    const minor = this.#minor;
    const fields = this.#fields;
    const fieldsLen = this.#fieldsLen;
    const rawHeaders: string[] = [];
    const names: string[] = [];
    let contentLength = -1;
    let te: string | undefined;
    let connection: string | undefined;
    let hosts = 0;
    let clValue: string | undefined;
    let proxyClose = false;
    let upgrade = false;
    let expect = false;
    const text = buf.toString('latin1', h0, headEnd);
    const method = text.slice(0, this.#methodEnd);
    const url = text.slice(this.#targetStart, this.#targetEnd);
    const target = this.#target ?? { authority: undefined, path: url };
    this.#target = undefined;
    for (let f = 0; f < fieldsLen; f += 4) {
      const k = knownName(buf, h0 + fields[f], h0 + fields[f + 1]);
      const name = text.slice(fields[f], fields[f + 1]);
      const value = text.slice(fields[f + 2], fields[f + 3]);
      rawHeaders.push(name, value);
      names.push(k === undefined ? name.toLowerCase() : k.name);
      if (k === undefined) continue;
      switch (k.kind) {
        case F_HOP:
          if (k.name === 'proxy-connection' && proxyConnectionClose(value)) proxyClose = true;
          break;
        case F_HOST:
          // Two Hosts could route one request two ways (RFC 9112 §3.2).
          if (++hosts > 1) return this.#fail('more than one host');
          break;
        case F_UPGRADE:
          upgrade = true;
          break;
        case F_EXPECT:
          expect = true;
          break;
        case F_TRANSFER_ENCODING:
          te = te === undefined ? value : `${te}, ${value}`;
          break;
        case F_CONNECTION:
          connection = connection === undefined ? value : `${connection}, ${value}`;
          break;
        case F_CONTENT_LENGTH: {
          // A repeat must be the same bytes: `3` and `0003` are one number to weft, but a hop
          // that compares the strings (or takes the first or the last) may not agree.
          if (clValue !== undefined && value !== clValue) return this.#fail(clError(CL_CONFLICT));
          clValue = value;
          const n = addContentLength(contentLength, value);
          if (n < -1) return this.#fail(clError(n));
          contentLength = n;
        }
      }
    }
    this.#resetHead();

    // Connection may name only hop-by-hop fields (RFC 9110 §7.6.1): one naming the framing or Host
    // would have the next hop drop what framed or routed this request.
    if (connection !== undefined) {
      const named = forbiddenConnectionOption(connection);
      if (named !== undefined) return this.#fail(`connection names ${named}`);
    }

    // Framing (RFC 9112 §6.3). Anything two hops could read two ways is refused, never guessed:
    // that is how requests are smuggled.
    if (te !== undefined) {
      if (contentLength !== -1) return this.#fail('both content-length and transfer-encoding');
      if (te.trim().toLowerCase() !== 'chunked') return this.#fail('unsupported transfer-encoding (only chunked)');
      this.#state = S_CHUNK_SIZE;
      this.#sizeDigits = 0;
      this.#remaining = 0;
      this.#trailerBytes = 0;
      contentLength = -1;
    } else if (contentLength > 0) {
      this.#state = S_BODY_LENGTH;
      this.#remaining = contentLength;
    } else {
      this.#state = S_DONE;
      contentLength = 0;
    }

    let keepAlive = minor === 1;
    if (connection !== undefined) {
      for (let t of connection.toLowerCase().split(',')) {
        t = t.trim();
        if (t === 'close') {
          keepAlive = false;
          break;
        }
        if (t === 'keep-alive') keepAlive = true;
      }
    }
    if (proxyClose) keepAlive = false;
    this.keepAlive = keepAlive;
    this.headReceived = true;
    sink.onRequest({ method, url, target, minor, rawHeaders, names, contentLength, connection, keepAlive, upgrade, expect });
    return 0;
  }
}

/** Parses responses for the upstream client; start() before each. */
export class H1ResponseParser extends H1Parser {
  constructor(sink: ResponseSink, maxHeadBytes = 64 * 1024) {
    super(sink, undefined, maxHeadBytes);
  }
}

/** Parses requests for the lean server; start() before each (the default head limit is node:http's). */
export class H1RequestParser extends H1Parser {
  constructor(sink: RequestSink, maxHeadBytes = 16 * 1024) {
    super(undefined, sink, maxHeadBytes);
  }
}

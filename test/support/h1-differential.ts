// Differential testing of weft's HTTP/1.1 parser (src/proxy/transport/h1-parser.ts) against Node's
// llhttp, driven through node:http with its default strict settings: the generators of hostile
// messages, a driver for each parser, and the comparison (with the known, intended differences).

import http from 'node:http';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { H1RequestParser, H1ResponseParser, type RequestHead } from '../../src/proxy/transport/h1-parser.ts';

// ---------------------------------------------------------------------------------------------
// Generators. Every message is built from small pieces chosen among valid and subtly invalid
// spellings (the request-smuggling literature: CL.TE, TE.CL, TE.TE obfuscations, bare CR/LF,
// obs-fold, odd whitespace, non-token bytes), then serialised byte for byte (latin1).

const EOL = fc.oneof({ weight: 12, arbitrary: fc.constant('\r\n') }, fc.constantFrom('\n', '\r', '\r\r\n', '\n\r'));

const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'get', 'G@T', 'M-SEARCH', 'FOO', 'PRI', 'SEARCH', 'CONNECT', 'G ET', 'GET\t', 'ÿET', ''];
const TARGETS = ['/', '/a?b=c', '*', 'http://h/x', 'HTTP://h/x', 'a/b', '/a b', '/a\tb', '/%00', '/\x7f', '/\xe9', '//x', 'h:80', '/#frag', '/a\x00b', '/a\x01', '', '/a\rb', '/a\nb'];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 ', 'HTTP/11', 'HTTP/1.', 'HTTP/1.1\x00', 'HTTPS/1.1', ''];
const NAMES = ['Host', 'Content-Length', 'Transfer-Encoding', 'Connection', 'X-A', 'Upgrade', 'Expect', 'Keep-Alive', 'TE', 'Trailer', 'Content-Type', 'x-b', 'Transfer-Encoding ', ' Transfer-Encoding', 'Transfer_Encoding', 'X\x00A', 'X A', 'X@A', 'X"A', 'Content-Length\t', '', 'Transfer-Encodingx', 'Te', 'X\xe9', 'X\x7f', 'Proxy-Connection'];
const SEPARATORS = [':', ': ', ': ', ': ', ':\t', ' :', ':  ', '\t:', ':\x0b', ': \x00'];
const CL_VALUES = ['0', '3', '5', '10', '+3', ' 3', '03', '3 ', '3,3', '3, 4', '-1', '0x3', '99999999999999999999', '', '3 3', '3\t', '0003', '1e1', '4294967299'];
const TE_VALUES = ['chunked', 'chunked', 'Chunked', 'CHUNKED', ' chunked', 'chunked ', 'xchunked', 'chunked, identity', 'identity, chunked', 'gzip, chunked', 'chunked, chunked', 'chunked;q=1', '"chunked"', 'chunked\x00', 'chunk\x0bed', 'identity', 'chunked,', ',chunked', 'gzip', 'chunked,,', 'chu nked', 'chunked\t', '\tchunked'];
const CONNECTION_VALUES = ['close', 'keep-alive', 'Upgrade', 'content-length', 'transfer-encoding', 'host', 'close, x-a', 'keep-alive, close', 'Keep-Alive', 'x-a', 'CLOSE', 'te'];
const PLAIN_VALUES = ['b', 'a b', '', 'x\x01y', 'x\x7fy', 'x\ty', '\xe9', 'v\x00', 'websocket', '100-continue', 'h', 'a,b', ' b ', 'x\x1by', 'a\rb', 'a\r', 'a\rContent-Length: 3', 'a\nTransfer-Encoding: chunked'];

/** One header line's pieces (the value may be followed by obs-fold continuation lines). */
interface FieldSpec {
  name: string;
  sep: string;
  value: string;
  trailing: string;
  fold: string | undefined;
  eol: string;
}

const caseMutated = (s: string): fc.Arbitrary<string> =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(s) }, fc.constant(s.toLowerCase()), fc.constant(s.toUpperCase()));

function valueFor(name: string): fc.Arbitrary<string> {
  const n = name.trim().toLowerCase();
  if (n === 'content-length') return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...CL_VALUES) }, fc.nat(40).map(String));
  if (n.startsWith('transfer-encoding') || n === 'transfer_encoding') return fc.constantFrom(...TE_VALUES);
  if (n === 'connection' || n === 'proxy-connection') return fc.constantFrom(...CONNECTION_VALUES);
  return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...PLAIN_VALUES) }, fc.constantFrom('a'.repeat(300), 'b'.repeat(9000), 'c'.repeat(17000)), fc.string({ maxLength: 12, unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) }));
}

const fieldSpec: fc.Arbitrary<FieldSpec> = fc.constantFrom(...NAMES).chain((base) =>
  fc.record({
    name: caseMutated(base),
    sep: fc.oneof({ weight: 8, arbitrary: fc.constant(': ') }, fc.constantFrom(...SEPARATORS)),
    value: valueFor(base),
    trailing: fc.oneof({ weight: 8, arbitrary: fc.constant('') }, fc.constantFrom(' ', '\t', ' \t ')),
    fold: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, fc.constantFrom('\r\n chunked', '\r\n\tx', '\n y', '\r\n ')),
    eol: EOL,
  }),
);

const serialiseField = (f: FieldSpec): string => `${f.name}${f.sep}${f.value}${f.trailing}${f.fold ?? ''}${f.eol}`;

/** A chunk of a chunked body: its declared size may lie. */
interface ChunkSpec {
  data: string;
  sizeDelta: number;
  sizeSpelling: string;
  ext: string;
  eol: string;
  dataEol: string;
}

const chunkSpec: fc.Arbitrary<ChunkSpec> = fc.record({
  data: fc.oneof(fc.constantFrom('abc', 'hello', 'x', '0\r\n\r\n', 'GET /s HTTP/1.1\r\nHost: s\r\n\r\n'), fc.string({ maxLength: 20 })),
  sizeDelta: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, fc.constantFrom(-1, 1, 5)),
  sizeSpelling: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, fc.constantFrom('upper', '0', '00000000000000', 'ffffffffffffffff', '+', ' ', '0x', '-')),
  ext: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, fc.constantFrom(';a=b', ';a', ' ;a=b', ';a="b c"', ';a=\x00', '\t;x', ';a=b;c=d', ';' + 'e'.repeat(5000), ';a=b\nc', '; a = b ', ';a="\xe9"', ';a="\\\x01"', ';a=""', ';a="b"c', ';a="b";c', ';\xe9', ';a=\xe9', ';=b', ';a=')),
  eol: EOL,
  dataEol: EOL,
});

function chunkSize(c: ChunkSpec, length: number): string {
  const n = Math.max(0, length + c.sizeDelta);
  const hex = n.toString(16);
  switch (c.sizeSpelling) {
    case 'upper': return hex.toUpperCase();
    case '0': return `0${hex}`;
    case '00000000000000': return `00000000000000${hex}`;
    case 'ffffffffffffffff': return 'ffffffffffffffff';
    case '': return hex;
    default: return `${c.sizeSpelling}${hex}`;
  }
}

interface BodySpec {
  kind: 'raw' | 'chunked';
  raw: string;
  chunks: ChunkSpec[];
  lastExt: string;
  lastEol: string;
  trailers: readonly FieldSpec[];
  endEol: string;
}

const bodySpec: fc.Arbitrary<BodySpec> = fc.record({
  kind: fc.constantFrom('raw', 'chunked'),
  raw: fc.oneof(fc.constantFrom('', 'abc', 'hello', 'hello world', '0\r\n\r\n', 'x'.repeat(40)), fc.string({ maxLength: 16 })),
  chunks: fc.array(chunkSpec, { maxLength: 3 }),
  lastExt: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, fc.constantFrom(';a=b', ' ', ';\x00')),
  lastEol: EOL,
  trailers: fc.oneof({ weight: 3, arbitrary: fc.constant<FieldSpec[]>([]) }, fc.array(fieldSpec, { maxLength: 2 })),
  endEol: EOL,
});

function serialiseBody(b: BodySpec): string {
  if (b.kind === 'raw') return b.raw;
  let s = '';
  for (const c of b.chunks) {
    const data = Buffer.from(c.data, 'utf8').toString('latin1');
    s += `${chunkSize(c, data.length)}${c.ext}${c.eol}${data}${c.dataEol}`;
  }
  return `${s}0${b.lastExt}${b.lastEol}${b.trailers.map(serialiseField).join('')}${b.endEol}`;
}

/** What follows the message on the connection: where a smuggled request would show. */
const TAILS = ['', 'GET /next HTTP/1.1\r\nHost: b\r\n\r\n', '\r\nGET /next HTTP/1.1\r\nHost: b\r\n\r\n', 'xyz', 'GET /next HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\nok'];

export interface RequestCase {
  /** The bytes (latin1). */
  readonly text: string;
  /** Where the bytes are cut into reads. */
  readonly cuts: readonly number[];
}

const requestText: fc.Arbitrary<string> = fc
  .record({
    method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('GET', 'POST') }, fc.constantFrom(...METHODS)),
    target: fc.oneof({ weight: 8, arbitrary: fc.constant('/') }, fc.constantFrom(...TARGETS)),
    version: fc.oneof({ weight: 10, arbitrary: fc.constant('HTTP/1.1') }, fc.constantFrom(...VERSIONS)),
    sp1: fc.oneof({ weight: 20, arbitrary: fc.constant(' ') }, fc.constantFrom('  ', '\t', '')),
    sp2: fc.oneof({ weight: 20, arbitrary: fc.constant(' ') }, fc.constantFrom('  ', '\t', '')),
    lead: fc.oneof({ weight: 20, arbitrary: fc.constant('') }, fc.constantFrom('\r\n', '\n', ' ', '\r\n\r\n')),
    lineEol: EOL,
    host: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, fc.constant(false)),
    fields: fc.array(fieldSpec, { maxLength: 5 }),
    endEol: EOL,
    body: bodySpec,
    tail: fc.constantFrom(...TAILS),
  })
  .map((r) => {
    const line = r.version === '' ? `${r.method}${r.sp1}${r.target}` : `${r.method}${r.sp1}${r.target}${r.sp2}${r.version}`;
    const fields = (r.host ? 'Host: h\r\n' : '') + r.fields.map(serialiseField).join('');
    return `${r.lead}${line}${r.lineEol}${fields}${r.endEol}${serialiseBody(r.body)}${r.tail}`;
  });

/** Cut positions: none, a few random ones, or every byte. */
function cutsFor(length: number): fc.Arbitrary<number[]> {
  return fc.oneof(
    fc.constant<number[]>([]),
    fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 6 }).map((a) => a.sort((x, y) => x - y)),
    fc.constant<number[]>(length > 4000 ? [] : Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1)),
  );
}

export const requestCase: fc.Arbitrary<RequestCase> = requestText.chain((text) => cutsFor(text.length).map((cuts) => ({ text, cuts })));

export interface ResponseCase {
  readonly text: string;
  readonly cuts: readonly number[];
  /** The request it answers: HEAD has no body whatever the head says. */
  readonly method: 'GET' | 'HEAD';
}

const STATUS_LINES = ['HTTP/1.1 200 OK', 'HTTP/1.0 200 OK', 'HTTP/1.1 204 No Content', 'HTTP/1.1 304 Not Modified', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 200', 'HTTP/1.1 200 ', 'HTTP/1.1 500 a\tb', 'HTTP/1.1 099 X', 'HTTP/1.1 1000 X', 'HTTP/1.1 20 X', 'HTTP/1.2 200 OK', 'HTTP/2.0 200 OK', 'http/1.1 200 OK', 'HTTP/1.1  200 OK', 'HTTP/1.1 200 O\x01K', 'HTTP/1.1 299 X', 'HTTP/1.1 600 X', 'HTTP/1.1 205 Reset'];

/** Interim 1xx heads before the final one (RFC 9110 §15.2): a parser must read past them. */
const INTERIM = ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n', 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n'];

const responseText: fc.Arbitrary<string> = fc
  .record({
    interim: fc.oneof({ weight: 12, arbitrary: fc.constant('') }, fc.constantFrom(...INTERIM)),
    line: fc.oneof({ weight: 10, arbitrary: fc.constant('HTTP/1.1 200 OK') }, fc.constantFrom(...STATUS_LINES)),
    lineEol: EOL,
    fields: fc.array(fieldSpec, { maxLength: 5 }),
    endEol: EOL,
    body: bodySpec,
    tail: fc.constantFrom('', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'xyz'),
  })
  .map((r) => `${r.interim}${r.line}${r.lineEol}${r.fields.map(serialiseField).join('')}${r.endEol}${serialiseBody(r.body)}${r.tail}`);

export const responseCase: fc.Arbitrary<ResponseCase> = responseText.chain((text) =>
  fc.record({ text: fc.constant(text), cuts: cutsFor(text.length), method: fc.oneof({ weight: 5, arbitrary: fc.constant('GET' as const) }, fc.constant('HEAD' as const)) }),
);

// ---------------------------------------------------------------------------------------------
// Drivers. Each returns the messages it saw, in order, and how the connection's bytes ended.

export interface ParsedRequest {
  method: string;
  url: string;
  version: string;
  rawHeaders: string[];
  body: string;
  complete: boolean;
  keepAlive: boolean;
  /** Upgrade, CONNECT, Expect or HTTP/1.0: weft's lean server hands such a request, from its head on, to node:http. */
  handedOff: boolean;
}

export interface RequestOutcome {
  messages: ParsedRequest[];
  /** The parser refused the bytes (before the end of the input): weft's error text or llhttp's code. */
  error: string | undefined;
  /** The input ended inside a message (a head or body not finished). */
  partial: boolean;
}

/** weft's request parser, fed like h1-server.ts feeds it (a fresh start() after each message). */
export function weftRequests(text: string, cuts: readonly number[]): RequestOutcome {
  const bytes = Buffer.from(text, 'latin1');
  const messages: ParsedRequest[] = [];
  let head: RequestHead | undefined;
  let current: ParsedRequest | undefined;
  const parser = new H1RequestParser({
    onRequest(h) {
      head = h;
    },
    onBody(chunk) {
      if (current) current.body += chunk.toString('latin1');
    },
  });
  parser.start();
  let from = 0;
  let stopped = false;
  for (const cut of [...cuts, bytes.length]) {
    if (stopped) break;
    const buf = bytes.subarray(from, cut);
    from = cut;
    let off = 0;
    while (off < buf.length && !stopped) {
      const rest = buf.subarray(off);
      const n = parser.execute(rest);
      if (n < 0) return { messages, error: parser.error, partial: false };
      if (current === undefined) {
        if (head === undefined) break; // the head goes on in the next read
        const h = head;
        head = undefined;
        const handedOff = h.upgrade || h.expect || h.method === 'CONNECT' || h.minor === 0;
        current = { method: h.method, url: h.url, version: `1.${h.minor}`, rawHeaders: h.rawHeaders, body: '', complete: false, keepAlive: h.keepAlive, handedOff };
        messages.push(current);
        if (handedOff) {
          stopped = true;
          break;
        }
      }
      off += n;
      if (parser.complete) {
        current.complete = true;
        current = undefined;
        if (!messages[messages.length - 1].keepAlive) stopped = true;
        parser.start();
      }
    }
  }
  return { messages, error: undefined, partial: !stopped && (current !== undefined || parser.inHead) };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** An in-memory socket: `push` feeds the server, written bytes are dropped. */
function memorySocket(): Duplex {
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
    final(callback) {
      callback();
    },
  });
  Object.defineProperty(socket, 'remoteAddress', { value: '127.0.0.1' });
  return socket;
}

/** llhttp, through http.createServer() with its defaults (strict; 16 KiB heads), fed the same reads. */
export async function llhttpRequests(text: string, cuts: readonly number[]): Promise<RequestOutcome> {
  const bytes = Buffer.from(text, 'latin1');
  const messages: ParsedRequest[] = [];
  const reqs: http.IncomingMessage[] = [];
  let error: string | undefined;
  let eof = false;
  let stopped = false;
  // requireHostHeader is node:http's own check after parsing, not llhttp's: off, to compare parsers.
  const server = http.createServer({ requireHostHeader: false });
  const socket = memorySocket();
  const record = (req: http.IncomingMessage, keepAlive: boolean, handedOff: boolean): ParsedRequest => {
    const m: ParsedRequest = { method: req.method ?? '', url: req.url ?? '', version: req.httpVersion, rawHeaders: req.rawHeaders, body: '', complete: false, keepAlive, handedOff };
    if (!stopped) {
      messages.push(m);
      reqs.push(req);
    }
    if (handedOff || !keepAlive) stopped = true;
    return m;
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const handedOff = req.headers.expect !== undefined || req.httpVersionMinor === 0;
    const m = record(req, res.shouldKeepAlive, handedOff);
    req.on('data', (c: Buffer) => (m.body += c.toString('latin1')));
    req.on('end', () => res.end());
    req.on('error', () => {});
  });
  server.on('checkContinue', (req: http.IncomingMessage) => {
    record(req, true, true);
  });
  server.on('checkExpectation', (req: http.IncomingMessage) => {
    record(req, true, true);
  });
  server.on('upgrade', (req: http.IncomingMessage) => record(req, true, true));
  server.on('connect', (req: http.IncomingMessage) => record(req, true, true));
  server.on('clientError', (err: NodeJS.ErrnoException) => {
    // Bytes after a message that ends the connection are not parsed by weft either.
    const last = reqs[reqs.length - 1];
    if (stopped && (last === undefined || last.complete || messages[messages.length - 1].handedOff)) {
      setImmediate(() => socket.destroy());
      return;
    }
    if (error === undefined && !eof) error = err.code ?? 'clientError';
    else if (eof && err.code === 'HPE_INVALID_EOF_STATE') error ??= 'EOF';
    setImmediate(() => socket.destroy());
  });
  server.emit('connection', socket);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    socket.push(bytes.subarray(from, cut));
    from = cut;
    if (cuts.length < 64) await settle();
  }
  await settle();
  for (let i = 0; i < reqs.length; i++) messages[i].complete = reqs[i].complete;
  const last = messages[messages.length - 1];
  const bodyUnfinished = last !== undefined && !last.handedOff && !last.complete;
  const errorBeforeEof = error;
  eof = true;
  socket.push(null);
  await settle();
  socket.destroy();
  server.close();
  if (errorBeforeEof !== undefined) return { messages, error: errorBeforeEof, partial: false };
  return { messages, error: undefined, partial: bodyUnfinished || error === 'EOF' };
}

export interface ParsedResponse {
  status: number;
  /** End-to-end fields only, names lower-cased: framing and hop-by-hop fields are compared by their effect. */
  headers: string[];
  body: string;
  /** The response ended before the connection did. */
  completeBeforeEof: boolean;
  /** It ended at the latest when the connection closed. */
  completeAtEof: boolean;
}

export interface ResponseOutcome {
  response: ParsedResponse | undefined;
  error: string | undefined;
}

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'http2-settings', 'host', 'content-length']);

/** The fields both sides compare: what weft forwards by rule, minus what Connection names. */
function endToEnd(rawLowerPairs: string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i < rawLowerPairs.length; i += 2) if (rawLowerPairs[i] === 'connection') for (const t of rawLowerPairs[i + 1].toLowerCase().split(',')) named.add(t.trim());
  const out: string[] = [];
  for (let i = 0; i < rawLowerPairs.length; i += 2) if (!HOP.has(rawLowerPairs[i]) && !named.has(rawLowerPairs[i])) out.push(rawLowerPairs[i], rawLowerPairs[i + 1]);
  return out;
}

/** weft's response parser, fed like h1-client.ts feeds it, then the end of the connection. */
export function weftResponse(c: ResponseCase): ResponseOutcome {
  const bytes = Buffer.from(c.text, 'latin1');
  let response: ParsedResponse | undefined;
  const parser = new H1ResponseParser({
    onHead(status, headers) {
      response = { status, headers, body: '', completeBeforeEof: false, completeAtEof: false };
    },
    onBody(chunk) {
      response!.body += chunk.toString('latin1');
    },
  });
  parser.start(c.method === 'HEAD');
  let from = 0;
  for (const cut of [...c.cuts, bytes.length]) {
    const n = parser.execute(bytes.subarray(from, cut));
    from = cut;
    if (n < 0) return { response: undefined, error: parser.error };
    if (parser.complete) break;
  }
  if (response === undefined) return { response: undefined, error: 'no response (the head did not end)' };
  {
    // The head's fields: weft hands on its end-to-end list; the same filter as llhttp's side applies.
    const pairs = response.headers;
    response.headers = endToEnd(pairs);
    response.completeBeforeEof = parser.complete;
    response.completeAtEof = parser.complete || parser.finish();
  }
  return { response, error: undefined };
}

/** llhttp, through http.request() on an in-memory socket, fed the same reads, then the end. */
export async function llhttpResponse(c: ResponseCase): Promise<ResponseOutcome> {
  const bytes = Buffer.from(c.text, 'latin1');
  const socket = memorySocket();
  let response: ParsedResponse | undefined;
  let res: http.IncomingMessage | undefined;
  let error: string | undefined;
  let eof = false;
  const req = http.request({ method: c.method, host: 'h', path: '/', createConnection: () => socket as unknown as import('node:net').Socket });
  // An error after the response completed is about bytes after it, which weft's client never
  // reads (h1-client.ts closes such a connection): only errors before the end count.
  const onError = (err: NodeJS.ErrnoException): void => {
    if (!eof && !(res?.complete ?? false)) error ??= err.code ?? 'error';
  };
  req.on('response', (r: http.IncomingMessage) => {
    res = r;
    const pairs: string[] = [];
    for (let i = 0; i < r.rawHeaders.length; i += 2) pairs.push(r.rawHeaders[i].toLowerCase(), r.rawHeaders[i + 1]);
    const parsed: ParsedResponse = { status: r.statusCode ?? 0, headers: endToEnd(pairs), body: '', completeBeforeEof: false, completeAtEof: false };
    response = parsed;
    r.on('data', (d: Buffer) => (parsed.body += d.toString('latin1')));
    r.on('error', onError);
  });
  req.on('error', onError);
  req.end();
  await settle();
  let from = 0;
  for (const cut of [...c.cuts, bytes.length]) {
    socket.push(bytes.subarray(from, cut));
    from = cut;
    if (c.cuts.length < 64) await settle();
  }
  await settle();
  if (response !== undefined) response.completeBeforeEof = res?.complete ?? false;
  eof = true;
  socket.push(null);
  await settle();
  if (response !== undefined) response.completeAtEof = res?.complete ?? false;
  socket.destroy();
  await settle();
  if (error !== undefined || response === undefined) return { response: undefined, error: error ?? 'no response' };
  return { response, error: undefined };
}

// ---------------------------------------------------------------------------------------------
// The comparison, and the differences that are intended.

/**
 * A place where weft and llhttp part on purpose, allowed only when weft's side is safe (nothing
 * two hops could read two ways gets through) and the reason is written here. `stricter`: weft
 * refuses what llhttp accepts; `laxer`: weft accepts what llhttp refuses.
 */
export interface KnownDifference {
  readonly id: string;
  readonly direction: 'stricter' | 'laxer';
  /** The refusing side's error: weft's text (stricter) or llhttp's code (laxer). */
  readonly error: RegExp;
  /** Whether the input is of this class: the whole input (latin1), and the message weft parsed, if any. */
  readonly applies: (text: string, message: ParsedRequest | undefined) => boolean;
  readonly reason: string;
}

/** A request line (of any message in the input) with a run of spaces or a tab between its parts. */
const LOOSE_REQUEST_LINE = /(^|\n)[!-~]*([ ]{2,}|\t|[ ]\t|\t[ ])[^\r\n]*HTTP\/|(^|\n)[!-~]+ [^ \r\n]+( {2,}|\t)/;

export const KNOWN_REQUEST_DIFFERENCES: KnownDifference[] = [
  {
    id: 'transfer-coding-other-than-chunked',
    direction: 'stricter',
    error: /^unsupported transfer-encoding/,
    applies: () => true,
    reason:
      'weft frames a request body only as chunked (RFC 9112 §6.1: a server that does not understand a transfer coding answers 501); ' +
      'llhttp accepts any list whose last coding is chunked (`gzip, chunked`, `identity, chunked`, `chunked, chunked`), which a next hop may read another way (TE.TE).',
  },
  {
    id: 'more-than-one-host',
    direction: 'stricter',
    error: /^more than one host$/,
    applies: () => true,
    reason: 'two Host fields could route one request two ways; RFC 9112 §3.2 says a server answers 400. llhttp leaves Host to the application.',
  },
  {
    id: 'request-line-whitespace-runs',
    direction: 'stricter',
    error: /^(bad method|bad request target|bad HTTP version)$/,
    applies: (text) => LOOSE_REQUEST_LINE.test(text),
    reason: 'RFC 9112 §3 puts exactly one SP between method, target and version; llhttp tolerates runs of spaces, which lets two parsers split one line two ways.',
  },
  {
    id: 'http-versions-other-than-1x',
    direction: 'stricter',
    error: /^(bad HTTP version|unsupported HTTP version|bad request target|bad method|control characters in the request line|no HTTP version \(HTTP\/0\.9 is not supported\))$/,
    applies: (text) => /(^|\n)[^\r\n]* HTTP\/(?!1\.[01]\r?\n)/.test(text) || /(^|\n)[!-~]+ [^ \r\n]+\r?\n/.test(text),
    // (The request-line helper's branch refuses a version-less line as soon as it ends.)
    reason:
      'weft speaks HTTP/1.0 and HTTP/1.1 only (RFC 9112 §2.3); llhttp also accepts `HTTP/2.0`, `HTTP/1.2` and a version-less HTTP/0.9 line (`GET /x`), ' +
      'which no hop behind the sidecar should be asked to read.',
  },
  {
    id: 'request-line-judged-late',
    direction: 'laxer',
    error: /^HPE_INVALID_(METHOD|VERSION)$/,
    applies: (_text, m) => m === undefined,
    // TODO(request line validated early): the request-line helper's class. weft judges the line
    // when the head ends (with that branch: when the line ends), llhttp at its first bad byte.
    reason: 'llhttp refuses a bad method or version at its first bad byte; weft waits for the line (or the head) to end before judging it. Nothing is forwarded either way.',
  },
  {
    id: 'request-target-forms',
    direction: 'laxer',
    error: /^HPE_INVALID_URL$/,
    applies: (_text, m) => m === undefined || !/^\/[\x21-\x7e]*$/.test(m.url),
    // TODO(request-target forms): the request-line helper's class; weft accepts a target in none
    // of the four forms (`a/b`; refused with that branch) and obs-text bytes (0x80-0xff) in a
    // target (accepted there too), which RFC 3986 does not allow.
    reason: 'RFC 9112 §3.2 allows four target forms of URI characters; weft forwards any other target as one opaque string, so it cannot split a request, but it should be refused.',
  },
  {
    id: 'trailer-fields-unchecked',
    direction: 'laxer',
    error: /^(HPE_CR_EXPECTED|HPE_INVALID_HEADER_TOKEN|HPE_LF_EXPECTED|HPE_STRICT|HPE_INVALID_CHUNK_SIZE|HPE_CLOSED_CONNECTION|HPE_INVALID_TRANSFER_ENCODING|HPE_INVALID_CONTENT_LENGTH|HPE_UNEXPECTED_CONTENT_LENGTH)$/,
    applies: (text) => /\r\n0(;[^\r\n]*)?\r\n[^\r]/.test(text),
    // TODO(trailers): weft drops a request's trailer fields unread, ending each at LF, so bytes
    // llhttp refuses in a trailer (bare LF, NUL, non-token names, framing fields) pass. With the
    // trailers branch, a response's trailer section is parsed (#emitTrailers); a request's could go
    // through the same check and simply not be forwarded.
    reason:
      'weft never forwards request trailers, and it writes the framing of what it forwards itself, so a trailer it misreads cannot reach the next hop; it should still be refused. ' +
      'llhttp also obeys `Connection: close` and `Transfer-Encoding` in trailers, which RFC 9110 §6.5.1 forbids a sender to put there; weft ignores them.',
  },
  {
    id: 'method-pri',
    direction: 'stricter',
    error: /^bad method$/,
    applies: (text) => /(^|\n)PRI /.test(text),
    reason: 'PRI is the method of the HTTP/2 preface (RFC 9113 §3.4), never an HTTP/1.1 request; weft refuses it at once, llhttp only when the bytes after the head are not the rest of the preface (`SM`).',
  },
  {
    id: 'connection-names-framing-or-host',
    direction: 'stricter',
    error: /^connection names (content-length|transfer-encoding|host)$/,
    applies: () => true,
    reason: 'Connection may name only hop-by-hop fields (RFC 9110 §7.6.1); one naming Content-Length, Transfer-Encoding or Host would have a next hop drop what framed or routed the request (issue 10, class 1). llhttp leaves it to the application.',
  },
  {
    id: 'request-target-form-refused',
    direction: 'stricter',
    // request-target.ts' refusals, some prefixed with the form (`CONNECT target: …`).
    error: /(request target|asterisk-form|authority|empty host|bad host|bad port|CONNECT needs host:port|absolute-form target)/,
    applies: () => true,
    reason: 'RFC 9112 §3.2: origin-form, absolute-form, authority-form for CONNECT, asterisk-form for OPTIONS, and no fragment; llhttp takes any URL-shaped target (a fragment, `a/b` for some methods) and leaves the form to the application.',
  },
  {
    id: 'chunk-extension-without-name',
    direction: 'stricter',
    error: /^bad chunk extension$/,
    applies: (text) => /\r?\n[0-9a-fA-F]+(;[^\r\n]*)?;=/.test(text),
    reason: 'a chunk extension is `;` token [`=` value] (RFC 9112 §7.1.1); weft refuses `;=b`, which has no name, and llhttp takes it.',
  },
  {
    id: 'chunk-size-digits',
    direction: 'stricter',
    error: /^chunk size too large$/,
    applies: () => true,
    reason: 'weft takes at most 13 hex digits (leading zeros included) for a chunk size, which keeps the size an exact JavaScript number; llhttp takes up to 2^64-1.',
  },
  {
    id: 'identical-content-length-repeats',
    direction: 'laxer',
    error: /^HPE_UNEXPECTED_CONTENT_LENGTH$/,
    applies: (_text, m) => m !== undefined && new Set(m.rawHeaders.filter((_, i) => i % 2 === 1 && /^content-length$/i.test(m.rawHeaders[i - 1]))).size === 1,
    reason: 'RFC 9110 §8.6 lets a recipient take repeated identical lengths as one (weft requires the same bytes); weft forwards one Content-Length of its own. llhttp refuses any repeat.',
  },
  {
    id: 'extension-methods',
    direction: 'laxer',
    error: /^HPE_INVALID_METHOD$/,
    applies: (_text, m) => m !== undefined && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(m.method) && !http.METHODS.includes(m.method),
    reason:
      'a method is any token (RFC 9110 §9.1); llhttp knows a fixed list. weft forwards an extension method with framing it writes itself, so nothing in it can be read as a second request.',
  },
];

/** A response head with both Content-Length and Transfer-Encoding (any spelling llhttp reads as those). */
const BOTH_FRAMINGS = /\ncontent-length[ \t]*:[^\n]*\n(?:[^\r\n][^\n]*\n)*?transfer-encoding[ \t]*:|\ntransfer-encoding[ \t]*:[^\n]*\n(?:[^\r\n][^\n]*\n)*?content-length[ \t]*:/i;

export const KNOWN_RESPONSE_DIFFERENCES: KnownDifference[] = [
  {
    id: 'status-line-strict',
    direction: 'stricter',
    error: /^(bad status line|bad HTTP version|bad status code|control characters in the status line)$/,
    applies: () => true,
    reason:
      'weft reads `HTTP/1.0` or `HTTP/1.1`, one SP, a status 100-999 and an optional reason of field characters (RFC 9112 §4); llhttp also takes other versions (`HTTP/2.0`), status 0-99 and control bytes in the reason. A response weft cannot read is a 502, never guessed at.',
  },
  {
    id: 'both-content-length-and-transfer-encoding',
    direction: 'laxer',
    error: /^(HPE_INVALID_CONTENT_LENGTH|HPE_INVALID_TRANSFER_ENCODING)$/,
    applies: (text) => BOTH_FRAMINGS.test(text),
    reason:
      'RFC 9112 §6.3 ¶3: Transfer-Encoding overrides Content-Length; weft reads such a response by its transfer coding, forwards it in framing of its own and never reuses the connection, so no bytes after it are read as another response. llhttp refuses it outright.',
  },
  {
    id: 'response-head-limit',
    direction: 'laxer',
    error: /^HPE_HEADER_OVERFLOW$/,
    applies: (text) => text.length > 16 * 1024 - 200,
    reason: "weft's response heads (and trailers) may be 64 KiB, the upstream client's limit; node:http's client stops at 16 KiB.",
  },
  {
    id: 'chunk-extension-without-name',
    direction: 'stricter',
    error: /^bad chunk extension$/,
    applies: (text) => /\r?\n[0-9a-fA-F]+(;[^\r\n]*)?;=/.test(text),
    reason: 'a chunk extension is `;` token [`=` value] (RFC 9112 §7.1.1); weft refuses `;=b`, which has no name, and llhttp takes it.',
  },
  {
    id: 'chunk-size-digits',
    direction: 'stricter',
    error: /^chunk size too large$/,
    applies: () => true,
    reason: 'as for requests: weft takes at most 13 hex digits for a chunk size (an exact JavaScript number); llhttp takes up to 2^64-1.',
  },
  {
    id: 'response-chunked-not-last',
    direction: 'laxer',
    error: /^HPE_INVALID_TRANSFER_ENCODING$/,
    applies: (text) => [...head(text).matchAll(/\ntransfer-encoding[ \t]*:([^\r\n]*)/gi)].some((m) => !/(^|,)[ \t]*chunked[ \t]*$/i.test(m[1])),
    reason:
      'RFC 9112 §6.3 ¶4: a response whose transfer coding does not end in chunked is read until the connection closes; weft does so (and never reuses the connection). llhttp refuses it.',
  },
  {
    id: 'identical-content-length-repeats',
    direction: 'laxer',
    error: /^HPE_UNEXPECTED_CONTENT_LENGTH$/,
    applies: (text) => new Set([...head(text).matchAll(/\ncontent-length[ \t]*:[ \t]*0*(\d+)[ \t]*\r?\n/gi)].map((m) => m[1])).size === 1,
    reason: 'RFC 9110 §8.6 lets a recipient take repeated equal lengths as one; weft forwards one Content-Length of its own. llhttp refuses any repeat.',
  },
  {
    id: 'trailer-fields-unchecked',
    direction: 'laxer',
    error: /^(HPE_CR_EXPECTED|HPE_INVALID_HEADER_TOKEN|HPE_LF_EXPECTED|HPE_STRICT|HPE_INVALID_CONTENT_LENGTH|HPE_INVALID_TRANSFER_ENCODING|HPE_UNEXPECTED_CONTENT_LENGTH)$/,
    applies: (text) => /\r\n0(;[^\r\n]*)?\r\n[^\r]/.test(text),
    // TODO(response trailers): the trailers helper's class; weft drops trailer lines unread.
    reason: 'as for requests: weft does not read trailer fields yet, so it takes lines llhttp refuses (no colon, bare LF, framing fields in trailers); it forwards none of them.',
  },
];

/**
 * Where the first final head of the input starts and ends: past empty lines before a request line
 * (RFC 9112 §2.2) and interim 1xx heads; end is -1 if it has not ended.
 */
function finalHeadSpan(text: string): { start: number; end: number } {
  for (let from = /^[\r\n]*/.exec(text)![0].length; ; ) {
    const m = /\r?\n\r?\n/.exec(text.slice(from));
    if (m === null) return { start: from, end: -1 };
    const end = from + m.index;
    if (!/^HTTP\/1\.[01] 1\d\d/.test(text.slice(from))) return { start: from, end };
    from = end + m[0].length;
  }
}

/** The first final head, each line after a LF (for matching `\nname:`). */
function head(text: string): string {
  const { start, end } = finalHeadSpan(text);
  return `\n${text.slice(start, end < 0 ? text.length : end)}\n`;
}


export type Verdict = { ok: true; known?: string } | { ok: false; why: string };

function known(list: KnownDifference[], direction: 'stricter' | 'laxer', error: string, text: string, message: ParsedRequest | undefined, why: string): Verdict {
  const k = list.find((d) => d.direction === direction && d.error.test(error) && d.applies(text, message));
  return k !== undefined ? { ok: true, known: k.id } : { ok: false, why };
}

const show = (v: unknown): string => JSON.stringify(v);
/** For messages: long strings (bodies, huge values) cut to their first 200 characters. */
const brief = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' && x.length > 200 ? `${x.slice(0, 200)}…(${x.length})` : x));

/** Agrees, or differs only as a known difference says. */
export function compareRequests(text: string, w: RequestOutcome, l: RequestOutcome): Verdict {
  const n = Math.min(w.messages.length, l.messages.length);
  for (let i = 0; i < n; i++) {
    const a = w.messages[i];
    const b = l.messages[i];
    const headA = { method: a.method, url: a.url, version: a.version, rawHeaders: a.rawHeaders };
    const headB = { method: b.method, url: b.url, version: b.version, rawHeaders: b.rawHeaders };
    if (show(headA) !== show(headB)) return { ok: false, why: `message ${i}: heads differ: weft ${brief(headA)}, llhttp ${brief(headB)}` };
    // From a hand-off on, node:http parses the connection for weft too.
    if (a.handedOff) return { ok: true };
    if (b.handedOff) return { ok: false, why: `message ${i}: llhttp hands the connection over (upgrade/CONNECT/Expect/1.0), weft does not` };
    if (a.keepAlive !== b.keepAlive) return { ok: false, why: `message ${i}: keep-alive weft ${a.keepAlive}, llhttp ${b.keepAlive}` };
    // A message both refuse partway: node:http drops the body bytes it had parsed with the socket,
    // weft has streamed them on (in framing it writes itself, then aborts): only the refusal counts.
    // And a message one side refuses partway is judged as a refusal, below.
    if (i === n - 1 && (w.error !== undefined || l.error !== undefined) && (!a.complete || !b.complete)) break;
    if (a.body !== b.body) return { ok: false, why: `message ${i}: bodies differ: weft ${brief(a.body)}, llhttp ${brief(b.body)}` };
    if (a.complete !== b.complete) return { ok: false, why: `message ${i}: complete weft ${a.complete}, llhttp ${b.complete}` };
  }
  if (w.messages.length < l.messages.length) {
    if (w.error !== undefined) return known(KNOWN_REQUEST_DIFFERENCES, 'stricter', w.error, text, undefined, `weft refuses (${w.error}) message ${n} that llhttp accepts: ${brief(l.messages[n])}`);
    return { ok: false, why: `llhttp parsed message ${n} ${brief(l.messages[n])}, weft did not (${w.partial ? 'waits for more' : 'no error'})` };
  }
  if (w.messages.length > l.messages.length) {
    const why = `weft parsed message ${n} ${brief(w.messages[n])}; llhttp ${l.error !== undefined ? `refused it (${l.error})` : 'did not'}`;
    return l.error !== undefined ? known(KNOWN_REQUEST_DIFFERENCES, 'laxer', l.error, text, w.messages[n], why) : { ok: false, why };
  }
  if (w.error !== undefined && l.error === undefined) return known(KNOWN_REQUEST_DIFFERENCES, 'stricter', w.error, text, undefined, `weft refuses (${w.error}) message ${n} that llhttp accepts`);
  if (w.error === undefined && l.error !== undefined) return known(KNOWN_REQUEST_DIFFERENCES, 'laxer', l.error, text, undefined, `llhttp refuses message ${n} (${l.error}); weft ${w.partial ? 'waits for more' : 'accepts it'}`);
  if (w.error === undefined && w.partial !== l.partial) return { ok: false, why: `after ${n} messages: weft ${w.partial ? 'waits for more' : 'is idle'}, llhttp ${l.partial ? 'waits for more' : 'is idle'}` };
  return { ok: true };
}

export function compareResponses(text: string, w: ResponseOutcome, l: ResponseOutcome): Verdict {
  if (w.error !== undefined && l.error !== undefined) return { ok: true };
  if (w.error !== undefined) return known(KNOWN_RESPONSE_DIFFERENCES, 'stricter', w.error, text, undefined, `weft refuses (${w.error}) a response that llhttp accepts: ${brief(l.response)}`);
  if (l.error !== undefined) return known(KNOWN_RESPONSE_DIFFERENCES, 'laxer', l.error, text, undefined, `llhttp refuses the response (${l.error}); weft accepts it: ${brief(w.response)}`);
  if (show(w.response) !== show(l.response)) return { ok: false, why: `responses differ: weft ${brief(w.response)}, llhttp ${brief(l.response)}` };
  return { ok: true };
}

/**
 * The one known difference that is not a refusal: `Transfer-Encoding: chunked<HTAB>`. RFC 9110
 * §5.5 trims OWS (SP and HTAB) around a value, so weft reads chunked; llhttp takes the tab for
 * another coding (a request is refused, a response read to the close). weft forwards in framing
 * of its own, so no next hop can read the body the second way. llhttp is given the input with
 * such tabs in the first head as spaces (same length, same cuts), and must then agree.
 */
const TE_TRAILING_TABS = /(\ntransfer-encoding[ \t]*:[^\r\n]*?chunked)([ \t]*\t[ \t]*)(?=[\r\n]|$)/gi;

function forLlhttp(text: string): { text: string; known?: string } {
  // In the first final head only: a body may carry anything.
  const { end } = finalHeadSpan(text);
  if (end < 0) return { text };
  const normal = text.slice(0, end).replace(TE_TRAILING_TABS, (_m, before: string, ows: string) => before + ' '.repeat(ows.length)) + text.slice(end);
  return normal === text ? { text } : { text: normal, known: 'transfer-encoding-ows' };
}

const withKnown = (v: Verdict, known: string | undefined): Verdict => (v.ok && v.known === undefined && known !== undefined ? { ok: true, known } : v);

/** One request case through both parsers. */
export async function checkRequest(c: RequestCase): Promise<Verdict> {
  const l = forLlhttp(c.text);
  return withKnown(compareRequests(c.text, weftRequests(c.text, c.cuts), await llhttpRequests(l.text, c.cuts)), l.known);
}

/** One response case through both parsers. */
export async function checkResponse(c: ResponseCase): Promise<Verdict> {
  const l = forLlhttp(c.text);
  return withKnown(compareResponses(c.text, weftResponse(c), await llhttpResponse({ ...c, text: l.text })), l.known);
}

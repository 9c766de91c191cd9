import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H1RequestParser, H1ResponseParser, type RequestHead } from './h1-parser.ts';

interface Parsed {
  status?: number;
  headers?: string[];
  body: string;
  lastSeen: boolean;
  complete: boolean;
  keepAlive: boolean;
  consumed: number;
  error?: string;
  /** Interim heads as `status` and their fields, in order. */
  interim: { status: number; headers: string[] }[];
  trailers?: string[];
  /** Whether the trailers came after the last body bytes and before the response completed. */
  trailersInOrder?: boolean;
}

/** Feeds `input` in the pieces given (cut at `cuts`), then optionally the end of the connection. */
function parse(input: string | Buffer, cuts: number[] = [], options: { noBody?: boolean; eof?: boolean; upgrade?: boolean } = {}): Parsed {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out: Parsed = { body: '', lastSeen: false, complete: false, keepAlive: true, consumed: 0, interim: [] };
  const parser = new H1ResponseParser({
    onInterim(status, headers) {
      assert.equal(out.status, undefined, 'interim heads come before the final one');
      out.interim.push({ status, headers });
    },
    onTrailers(trailers) {
      assert.equal(out.trailers, undefined, 'one trailer section');
      out.trailers = trailers;
      out.trailersInOrder = out.status !== undefined && !parser.complete;
    },
    onHead(status, headers) {
      assert.equal(out.status, undefined, 'one head per response');
      out.status = status;
      out.headers = headers;
    },
    onBody(chunk, last) {
      assert.ok(!out.lastSeen, 'nothing after the last chunk');
      out.body += chunk.toString('latin1');
      out.lastSeen = last;
    },
  }, 1024);
  parser.start(options.noBody ?? false, options.upgrade ?? false);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut < from) continue;
    const n = parser.execute(bytes.subarray(from, cut));
    if (n < 0) {
      out.error = parser.error;
      return out;
    }
    out.consumed += n;
    if (parser.complete) break;
    from = cut;
  }
  if (options.eof && !parser.complete) parser.finish();
  out.complete = parser.complete;
  out.keepAlive = parser.keepAlive;
  return out;
}

const BASIC = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nX-Thing:  spaced value \t\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello world';

test('a head and a content-length body, cut at every byte boundary, parse the same', () => {
  const whole = parse(BASIC);
  assert.equal(whole.status, 200);
  assert.deepEqual(whole.headers, ['content-type', 'text/plain', 'content-length', '11', 'x-thing', 'spaced value', 'set-cookie', 'a=1', 'set-cookie', 'b=2']);
  assert.equal(whole.body, 'hello world');
  assert.equal(whole.lastSeen, true);
  assert.equal(whole.complete, true);
  assert.equal(whole.keepAlive, true);
  for (let cut = 0; cut <= BASIC.length; cut++) {
    const split = parse(BASIC, [cut]);
    assert.deepEqual({ ...split, consumed: 0 }, { ...whole, consumed: 0 }, `cut at ${cut}`);
  }
  // And one byte at a time.
  const bytewise = parse(BASIC, Array.from({ length: BASIC.length }, (_, i) => i));
  assert.deepEqual({ ...bytewise, consumed: 0 }, { ...whole, consumed: 0 });
});

test('chunked framing with extensions and trailers, cut at every byte boundary', () => {
  const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5;ext=1\r\nhello\r\n1;x\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: t\r\n\r\n';
  const whole = parse(text);
  assert.equal(whole.status, 200);
  assert.deepEqual(whole.headers, ['x-a', '1'], 'transfer-encoding is hop-by-hop');
  assert.equal(whole.body, 'hello 0123456789');
  assert.equal(whole.complete, true);
  assert.equal(whole.keepAlive, true);
  assert.equal(whole.consumed, text.length);
  for (let cut = 0; cut <= text.length; cut++) {
    const split = parse(text, [cut]);
    assert.equal(split.body, whole.body, `cut at ${cut}`);
    assert.equal(split.complete, true, `cut at ${cut}`);
    assert.deepEqual(split.headers, whole.headers);
  }
  for (let a = 40; a < text.length; a += 3) {
    const twice = parse(text, [a, a + 2]);
    assert.equal(twice.body, whole.body, `cuts at ${a}, ${a + 2}`);
    assert.equal(twice.complete, true);
  }
});

test('a chunked body without trailers, and upper-case hex sizes', () => {
  const r = parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n');
  assert.equal(r.body, 'abcdefghijklmnopqrstuvwxyz');
  assert.equal(r.complete, true);
});

test('content-length: the response stops at its length; extra bytes are left unconsumed', () => {
  const text = 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcEXTRA';
  const r = parse(text);
  assert.equal(r.body, 'abc');
  assert.equal(r.complete, true);
  assert.equal(r.consumed, text.length - 'EXTRA'.length);
  const zero = parse('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
  assert.equal(zero.complete, true);
  assert.equal(zero.body, '');
});

test('the answer to HEAD, 204 and 304 have no body whatever their head says', () => {
  const head = parse('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n', [], { noBody: true });
  assert.equal(head.complete, true);
  assert.deepEqual(head.headers, ['content-length', '1000'], 'the length is passed on');
  assert.equal(head.keepAlive, true);
  const chunkedHead = parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', [], { noBody: true });
  assert.equal(chunkedHead.complete, true);
  for (const status of [204, 304]) {
    const r = parse(`HTTP/1.1 ${status} X\r\ncontent-length: 10\r\nx: y\r\n\r\n`);
    assert.equal(r.status, status);
    assert.equal(r.complete, true);
    assert.equal(r.body, '');
  }
});

test('interim 1xx responses are reported before the final head, in one read or split', () => {
  const text = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\nConnection: x-hop\r\nX-Hop: 1\r\nContent-Length: 7\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok';
  for (let cut = 0; cut <= text.length; cut++) {
    const r = parse(text, [cut]);
    assert.deepEqual(r.interim, [
      { status: 100, headers: [] },
      // Hop-by-hop fields (and those Connection names) stay behind; a 1xx has no Content-Length.
      { status: 103, headers: ['link', '</a>; rel=preload'] },
      { status: 102, headers: [] },
    ], `cut at ${cut}`);
    assert.equal(r.status, 201, `cut at ${cut}`);
    assert.deepEqual(r.headers, ['content-length', '2']);
    assert.equal(r.body, 'ok');
    assert.equal(r.complete, true);
    assert.equal(r.keepAlive, true, 'Connection in an interim head does not decide the final one');
  }
  // A 101 was never asked for on this path; an interim head cannot end the response either.
  assert.match(parse('HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n').error ?? '', /101/);
  const onlyInterim = parse('HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n', [], { eof: true });
  assert.equal(onlyInterim.complete, false);
  assert.equal(onlyInterim.status, undefined);
});

test('chunked trailer fields are reported after the body, forbidden ones dropped, cut at every byte', () => {
  const text = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: grpc-status\r\n\r\n3\r\nabc\r\n0\r\nGrpc-Status: 5\r\ngrpc-message:  not found \t\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\nHost: evil\r\nConnection: close\r\nContent-Type: text/html\r\nx-checksum: abc\r\nx-checksum: def\r\n\r\n';
  const whole = parse(text);
  assert.equal(whole.error, undefined);
  assert.deepEqual(whole.headers, [], 'Trailer is hop-by-hop in the head');
  assert.equal(whole.body, 'abc');
  assert.deepEqual(whole.trailers, ['grpc-status', '5', 'grpc-message', 'not found', 'x-checksum', 'abc', 'x-checksum', 'def']);
  assert.equal(whole.trailersInOrder, true);
  assert.equal(whole.complete, true);
  assert.equal(whole.keepAlive, true, 'a Connection trailer field does not close the connection');
  assert.equal(whole.consumed, text.length);
  for (let cut = 0; cut <= text.length; cut++) {
    const split = parse(text, [cut]);
    assert.deepEqual(split.trailers, whole.trailers, `cut at ${cut}`);
    assert.equal(split.complete, true, `cut at ${cut}`);
  }
  const bytewise = parse(text, Array.from({ length: text.length }, (_, i) => i));
  assert.deepEqual(bytewise.trailers, whole.trailers);

  // No trailer section, or only forbidden fields: no call.
  assert.equal(parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n').trailers, undefined);
  const forbidden = parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\ncontent-length: 5\r\n\r\n');
  assert.equal(forbidden.trailers, undefined);
  assert.equal(forbidden.complete, true);

  // The parser is reused for the next response on the connection: nothing of these trailers stays.
  const seen: (string[] | undefined)[] = [];
  let got: string[] | undefined;
  const parser = new H1ResponseParser({ onHead: () => {}, onBody: () => {}, onTrailers: (t) => (got = t) });
  for (const response of ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx-a: 1\r\n\r\n', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx-b: 2\r\n\r\n']) {
    got = undefined;
    parser.start();
    assert.equal(parser.execute(Buffer.from(response, 'latin1')), response.length);
    seen.push(got);
  }
  assert.deepEqual(seen, [['x-a', '1'], undefined, ['x-b', '2']]);
});

test('malformed trailer fields are errors, as in a head', () => {
  const chunked = (trailer: string) => parse(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n${trailer}\r\n`);
  for (const bad of ['no-colon\r\n', ': no-name\r\n', 'x-a : space-before-colon\r\n', 'x-a: 1\r\n folded\r\n', 'x-a: bare-lf\n', 'x-a: nul\0\r\n', 'x(a): 1\r\n']) {
    const r = chunked(bad);
    assert.ok(r.error, `${JSON.stringify(bad)} is an error`);
    assert.equal(r.trailers, undefined);
  }
  // Bounded like a head: the parser's limit here is 1024 bytes.
  assert.ok(chunked(`x-big: ${'a'.repeat(2000)}\r\n`).error);
});

test('a 101 answers only a request that asked to upgrade: its head ends the exchange, the bytes after it are not consumed', () => {
  const text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\nFRAME';
  for (let cut = 0; cut <= text.length; cut++) {
    const r = parse(text, [cut], { upgrade: true });
    assert.equal(r.status, 101, `cut at ${cut}`);
    assert.deepEqual(r.headers, ['upgrade', 'websocket', 'sec-websocket-accept', 'abc'], 'upgrade kept, connection dropped');
    assert.equal(r.complete, true);
    assert.equal(r.keepAlive, false);
    assert.equal(r.body, '');
    assert.equal(r.consumed, text.length - 'FRAME'.length);
  }
  assert.ok(parse(text).error, 'not asked: malformed');
  // Any other answer to an upgrade request is an ordinary response, without its Upgrade field.
  const declined = parse('HTTP/1.1 426 Upgrade Required\r\nupgrade: websocket\r\ncontent-length: 2\r\n\r\nno', [], { upgrade: true });
  assert.equal(declined.status, 426);
  assert.deepEqual(declined.headers, ['content-length', '2']);
  assert.equal(declined.body, 'no');
  assert.equal(declined.keepAlive, true);
});

test('no length and not chunked: the body runs to the close, and the connection is not reused', () => {
  const text = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nsome bytes and more';
  const open = parse(text);
  assert.equal(open.complete, false);
  assert.equal(open.body, 'some bytes and more');
  const closed = parse(text, [30], { eof: true });
  assert.equal(closed.complete, true);
  assert.equal(closed.keepAlive, false);
  assert.equal(closed.body, 'some bytes and more');
  // A transfer coding other than chunked last is read to the close as well.
  const gz = parse('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nzzz', [], { eof: true });
  assert.equal(gz.complete, true);
  assert.equal(gz.body, 'zzz');
  assert.equal(gz.keepAlive, false);
});

test('connection handling: close, HTTP/1.0, keep-alive, and fields named by Connection', () => {
  assert.equal(parse('HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n').keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n').keepAlive, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n').keepAlive, true);
  const r = parse('HTTP/1.1 200 OK\r\nconnection: x-private, keep-alive\r\nkeep-alive: timeout=5\r\nx-private: 1\r\nx-public: 2\r\nupgrade: h2c\r\nproxy-authenticate: Basic\r\ncontent-length: 0\r\n\r\n');
  assert.deepEqual(r.headers, ['x-public', '2', 'content-length', '0']);
  assert.equal(r.keepAlive, true);
});

test('chunked and content-length together: chunked wins, the length is dropped and the connection not reused', () => {
  const r = parse('HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
  assert.equal(r.body, 'ok');
  assert.equal(r.complete, true);
  assert.deepEqual(r.headers, []);
  assert.equal(r.keepAlive, false);
});

test('repeated equal content-lengths are one; different ones are an error', () => {
  const same = parse('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok');
  assert.deepEqual(same.headers, ['content-length', '2']);
  assert.equal(same.body, 'ok');
  assert.match(parse('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok').error ?? '', /content-length/);
});

test('malformed responses are errors', () => {
  const bad = [
    'HTTP/2.0 200 OK\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'HTTP/1.1 200OK\r\n\r\n',
    'ICY 200 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    'HTTP/1.1 200 OK\r\n: empty name\r\n\r\n',
    'HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nx: a\r\n folded\r\n\r\n',
    'HTTP/1.1 200 OK\r\nx: a\0b\r\n\r\n',
    'HTTP/1.1 200 OK\r\nx: a\nb: c\r\n\r\n',
    'HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n',
    'HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\r\n',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\nab\r\n',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffff\r\n',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\n',
  ];
  for (const text of bad) {
    for (const cut of [0, 17, text.length - 3]) {
      const r = parse(text, [cut]);
      assert.ok(r.error, `expected an error for ${JSON.stringify(text)} cut at ${cut}, got ${JSON.stringify(r)}`);
    }
  }
});

test('a head larger than the limit is an error, even before its end arrives', () => {
  const big = `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(2000)}`;
  assert.match(parse(big, [500, 1000, 1500]).error ?? '', /too large/);
  assert.match(parse(`${big}\r\n\r\n`).error ?? '', /too large/);
});

test('the parser is reusable: start() expects the next response on the connection', () => {
  const seen: number[] = [];
  const parser = new H1ResponseParser({ onHead: (s) => seen.push(s), onBody: () => {} });
  for (const status of [200, 404, 500]) {
    parser.start(false);
    const text = Buffer.from(`HTTP/1.1 ${status} X\r\ncontent-length: 1\r\n\r\nx`);
    assert.equal(parser.execute(text), text.length);
    assert.equal(parser.complete, true);
  }
  assert.deepEqual(seen, [200, 404, 500]);
  // Bytes after a complete response, with no new start(), are an error.
  assert.equal(parser.execute(Buffer.from('H')), -1);
});

test('latin1 bytes in header values pass through unchanged', () => {
  const r = parse(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nx-name: caf'), Buffer.from([0xe9]), Buffer.from('\r\ncontent-length: 0\r\n\r\n')]));
  assert.equal(r.headers?.[1], 'caf\u00e9');
});

// Request mode (the lean server's parser).

interface ParsedRequest {
  heads: RequestHead[];
  bodies: string[];
  complete: boolean;
  error?: string;
  errorStatus?: number;
}

/** Feeds `input` cut at `cuts`, the way h1-server.ts does: heads first, then bodies, message after message. */
function parseRequests(input: string | Buffer, cuts: number[] = [], maxHead = 1024): ParsedRequest {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out: ParsedRequest = { heads: [], bodies: [], complete: false };
  const parser = new H1RequestParser({
    onRequest(head) {
      out.heads.push(head);
      out.bodies.push('');
    },
    onBody(chunk) {
      out.bodies[out.bodies.length - 1] += chunk.toString('latin1');
    },
  }, maxHead);
  parser.start();
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut < from) continue;
    let piece = bytes.subarray(from, cut);
    from = cut;
    while (piece.length > 0) {
      const n = parser.execute(piece);
      if (n < 0) {
        out.error = parser.error;
        out.errorStatus = parser.errorStatus;
        return out;
      }
      piece = piece.subarray(n);
      if (parser.complete) parser.start();
    }
  }
  out.complete = parser.complete || out.heads.length > 0 && !parser.inHead;
  return out;
}

const GET = 'GET /path?q=1 HTTP/1.1\r\nHost: svc.ns\r\nUser-Agent: t\r\nX-Custom: A b\r\n\r\n';

test('request: line, fields in order with names as sent and lower-cased, cut anywhere', () => {
  const whole = parseRequests(GET);
  assert.equal(whole.heads.length, 1);
  const h = whole.heads[0];
  assert.equal(h.method, 'GET');
  assert.equal(h.url, '/path?q=1');
  assert.equal(h.minor, 1);
  assert.deepEqual(h.rawHeaders, ['Host', 'svc.ns', 'User-Agent', 't', 'X-Custom', 'A b']);
  assert.deepEqual(h.names, ['host', 'user-agent', 'x-custom']);
  assert.equal(h.contentLength, 0);
  assert.equal(h.keepAlive, true);
  for (let cut = 0; cut <= GET.length; cut++) assert.deepEqual(parseRequests(GET, [cut]).heads, whole.heads, `cut at ${cut}`);
});

test('request: pipelined messages with content-length and chunked bodies, cut at every byte', () => {
  const text = `POST /a HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\n\r\nhello${GET}PUT /b HTTP/1.1\r\nhost: h\r\nTransfer-Encoding: Chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\ntrailer: t\r\n\r\n\r\nDELETE /c HTTP/1.1\r\nhost: h\r\n\r\n`;
  const whole = parseRequests(text);
  assert.deepEqual(whole.heads.map((h) => `${h.method} ${h.url} ${h.contentLength}`), ['POST /a 5', 'GET /path?q=1 0', 'PUT /b -1', 'DELETE /c 0']);
  assert.deepEqual(whole.bodies, ['hello', '', 'abcde', '']);
  for (let cut = 0; cut <= text.length; cut++) {
    const split = parseRequests(text, [cut]);
    assert.deepEqual(split.bodies, whole.bodies, `cut at ${cut}`);
    assert.deepEqual(split.heads.map((h) => h.url), whole.heads.map((h) => h.url));
  }
  const bytewise = parseRequests(text, Array.from({ length: text.length }, (_, i) => i));
  assert.deepEqual(bytewise.bodies, whole.bodies);
});

test('request: keep-alive from the version and Connection; upgrade and expect are flagged', () => {
  assert.equal(parseRequests('GET / HTTP/1.1\r\nconnection: close\r\n\r\n').heads[0].keepAlive, false);
  assert.equal(parseRequests('GET / HTTP/1.0\r\n\r\n').heads[0].keepAlive, false);
  assert.equal(parseRequests('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').heads[0].keepAlive, true);
  const up = parseRequests('GET / HTTP/1.1\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n').heads[0];
  assert.equal(up.upgrade, true);
  assert.equal(up.connection, 'upgrade');
  assert.equal(parseRequests('POST / HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\n').heads[0].expect, true);
});

test('request: anything two hops could frame or route differently is a 400 (no smuggling)', () => {
  const bad: Record<string, string> = {
    'both framings': 'POST / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n',
    'both framings, te first': 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n',
    'conflicting lengths': 'POST / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n',
    'length list': 'POST / HTTP/1.1\r\ncontent-length: 3, 3\r\n\r\n',
    'signed length': 'POST / HTTP/1.1\r\ncontent-length: +3\r\n\r\n',
    'te not chunked': 'POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n',
    'te chunked twice': 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n',
    'te chunked then gzip': 'POST / HTTP/1.1\r\ntransfer-encoding: chunked, gzip\r\n\r\n',
    'te with a trailing garbage': 'POST / HTTP/1.1\r\ntransfer-encoding: xchunked\r\n\r\n',
    'space before colon': 'POST / HTTP/1.1\r\ntransfer-encoding : chunked\r\n\r\n',
    'obs-fold': 'GET / HTTP/1.1\r\nx: a\r\n b\r\n\r\n',
    'bare LF': 'GET / HTTP/1.1\nhost: h\n\n',
    'LF in value': 'GET / HTTP/1.1\r\nx: a\nb: c\r\n\r\n',
    'NUL in value': 'GET / HTTP/1.1\r\nx: a\0b\r\n\r\n',
    'two hosts': 'GET / HTTP/1.1\r\nhost: a\r\nHost: b\r\n\r\n',
    'two spaces': 'GET  / HTTP/1.1\r\n\r\n',
    'space in target': 'GET /a b HTTP/1.1\r\n\r\n',
    'tab in target': 'GET /a\tb HTTP/1.1\r\n\r\n',
    'no version': 'GET /\r\n\r\n',
    'HTTP/2 text': 'GET / HTTP/2.0\r\n\r\n',
    'bad method': 'G(T / HTTP/1.1\r\n\r\n',
    'bad chunk size': 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
    'negative chunk size': 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n-1\r\n',
    'huge chunk size': 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffff\r\n',
    'chunk longer than its size': 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n',
    'bare LF after chunk size': 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\nab\r\n',
  };
  for (const [what, text] of Object.entries(bad)) {
    for (const cut of [0, 9, text.length - 2]) {
      const r = parseRequests(text, [cut]);
      assert.ok(r.error, `${what}: expected an error cut at ${cut}, got ${JSON.stringify(r.heads)}`);
      assert.equal(r.errorStatus, 400, what);
    }
  }
});

test('request: a head over the limit is a 431, before its end arrives too', () => {
  const big = `GET / HTTP/1.1\r\nx-big: ${'a'.repeat(2000)}`;
  for (const text of [big, `${big}\r\n\r\n`]) {
    const r = parseRequests(text, [500, 1000, 1500]);
    assert.match(r.error ?? '', /too large/);
    assert.equal(r.errorStatus, 431);
  }
  // Chunk extensions and trailers are bounded as well.
  const ext = parseRequests(`POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n1;${'e'.repeat(2000)}\r\n`);
  assert.ok(ext.error);
});

test('request: the response parser is unchanged by request-only field kinds (host and upgrade stay hop-by-hop)', () => {
  const r = parse('HTTP/1.1 200 OK\r\nhost: x\r\nupgrade: y\r\nexpect: z\r\ncontent-length: 0\r\n\r\n');
  assert.deepEqual(r.headers, ['expect', 'z', 'content-length', '0']);
});

test('request: a Connection naming the framing or Host is a 400, so no hop drops what framed or routed the request', () => {
  for (const connection of ['content-length', 'Content-Length', 'keep-alive, content-length', 'transfer-encoding', 'close,Transfer-Encoding', 'host', 'x-a, HOST']) {
    // The smuggling shape of issue 10: the body is a second request that would travel unframed.
    const text = `POST /x HTTP/1.1\r\nHost: echo\r\nConnection: ${connection}\r\nContent-Length: 38\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: echo\r\n\r\n`;
    const r = parseRequests(text);
    assert.equal(r.errorStatus, 400, connection);
    assert.equal(r.heads.length, 0, connection);
  }
  // Two Connection fields are one list.
  assert.equal(parseRequests('GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: content-length\r\n\r\n').errorStatus, 400);
  // Hop-by-hop names are still fine.
  assert.equal(parseRequests('GET / HTTP/1.1\r\nConnection: keep-alive, x-private, upgrade\r\nx-private: 1\r\n\r\n').heads.length, 1);
});

test('request: each target form is parsed once into authority and origin-form path', () => {
  const cases: [string, { authority: string | undefined; path: string }][] = [
    ['GET /a/b?c=d HTTP/1.1', { authority: undefined, path: '/a/b?c=d' }],
    ['GET http://echo/admin HTTP/1.1', { authority: 'echo', path: '/admin' }],
    ['GET HTTP://echo/admin HTTP/1.1', { authority: 'echo', path: '/admin' }],
    ['GET hTtPs://echo.ns:8080 HTTP/1.1', { authority: 'echo.ns:8080', path: '/' }],
    ['GET http://echo?x=1 HTTP/1.1', { authority: 'echo', path: '/?x=1' }],
    ['GET http://[::1]:80/p HTTP/1.1', { authority: '[::1]:80', path: '/p' }],
    ['OPTIONS * HTTP/1.1', { authority: undefined, path: '*' }],
    ['CONNECT echo:443 HTTP/1.1', { authority: 'echo:443', path: 'echo:443' }],
  ];
  for (const [line, target] of cases) {
    const text = `${line}\r\nhost: h\r\n\r\n`;
    const r = parseRequests(text);
    assert.equal(r.error, undefined, line);
    assert.deepEqual(r.heads[0].target, target, line);
    // The same whichever way the line is cut.
    for (let cut = 1; cut < line.length + 2; cut++) assert.deepEqual(parseRequests(text, [cut]).heads[0]?.target, target, `${line} cut at ${cut}`);
  }
});

test('request: a target in a form its method does not allow is a 400 as soon as the line ends', () => {
  const bad = [
    'GET admin/secret HTTP/1.1',
    'GET * HTTP/1.1',
    'OPTIONS *x HTTP/1.1',
    'CONNECT /x HTTP/1.1',
    'CONNECT echo HTTP/1.1',
    'GET echo:80 HTTP/1.1',
    'GET /a#frag HTTP/1.1',
    'GET http://echo/a#frag HTTP/1.1',
    'GET http://user@echo/ HTTP/1.1',
    'GET http:///x HTTP/1.1',
    'GET http://echo:99999/ HTTP/1.1',
    'GET http://ec"ho/ HTTP/1.1',
    'GET ftp://echo/x HTTP/1.1',
    'GET http:/echo/x HTTP/1.1',
    // HTTP/0.9: a method and a target, no version.
    'GET /',
  ];
  for (const line of bad) {
    // Only the line and its CR: no header and no blank line is needed to refuse it.
    const r = parseRequests(`${line}\r`);
    assert.equal(r.errorStatus, 400, line);
    assert.ok(r.error, line);
  }
});

test('response: a Connection naming Content-Length does not take the length the body was read by', () => {
  const r = parse('HTTP/1.1 200 OK\r\nConnection: content-length, x-a\r\nx-a: 1\r\ncontent-length: 5\r\n\r\nhello');
  assert.deepEqual(r.headers, ['content-length', '5']);
  assert.equal(r.body, 'hello');
  assert.equal(r.complete, true);
});

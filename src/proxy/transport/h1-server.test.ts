import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { H1ServerConnection } from './h1-server.ts';
import type { H1ServerRequest, H1ServerResponse } from './h1-server-message.ts';
import { H1ResponseParser } from './h1-parser.ts';

type Handler = (req: H1ServerRequest, res: H1ServerResponse) => void;

interface Server {
  port: number;
  fallbacks: Buffer[];
  /** `status reason` of each request the server refused (its onRefused). */
  refused: string[];
  close(): Promise<void>;
}

async function serve(handler: Handler): Promise<Server> {
  const fallbacks: Buffer[] = [];
  const refused: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    new H1ServerConnection(socket, {
      onRequest: handler,
      fallback: (s, unread) => {
        fallbacks.push(unread);
        s.end('HTTP/1.1 418 Fallback\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      },
      proxyId: 'test-proxy',
      onRefused: (status, reason) => refused.push(`${status} ${reason}`),
      onDone: () => {},
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    fallbacks,
    refused,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Interim heads before this response, as `status field: value; …`. */
  interim: string[];
  trailers?: string[];
}

/** Sends `chunks` (with a pause between them) and reads `count` responses, or until the server closes. */
async function talk(port: number, chunks: (string | Buffer)[], count: number, method = 'GET'): Promise<{ responses: Response[]; closed: boolean; raw: string }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const responses: Response[] = [];
  let current: Response | undefined;
  let raw = '';
  let interim: string[] = [];
  const parser = new H1ResponseParser({
    onInterim(status, headers) {
      interim.push(`${status}${headers.map((h, i) => (i % 2 === 0 ? ` ${h}:` : ` ${h};`)).join('')}`);
    },
    onHead(status, headers) {
      current = { status, headers: {}, body: '', interim };
      interim = [];
      for (let i = 0; i < headers.length; i += 2) current.headers[headers[i]] = headers[i + 1];
    },
    onBody(chunk) {
      current!.body += chunk.toString('latin1');
    },
    onTrailers(trailers) {
      current!.trailers = trailers;
    },
  });
  parser.start(method === 'HEAD');
  let closed = false;
  const done = new Promise<void>((resolve) => {
    socket.on('data', (data: Buffer) => {
      raw += data.toString('latin1');
      let buf = data;
      while (buf.length > 0) {
        const n = parser.execute(buf);
        assert.ok(n >= 0, `malformed response: ${parser.error}`);
        buf = buf.subarray(n);
        if (parser.complete) {
          responses.push(current!);
          if (responses.length === count) resolve();
          parser.start(method === 'HEAD');
        }
      }
    });
    socket.on('close', () => {
      closed = true;
      if (parser.finish() && current && !responses.includes(current)) responses.push(current);
      resolve();
    });
    socket.on('error', () => {});
  });
  for (const c of chunks) {
    socket.write(c);
    await new Promise((r) => setTimeout(r, 5));
  }
  await done;
  // Give a close that follows the last response a moment to arrive.
  if (!closed) await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 50))]);
  closed ||= socket.destroyed || socket.readableEnded;
  socket.destroy();
  return { responses, closed, raw };
}

function readBody(req: H1ServerRequest): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('latin1')));
    req.once('end', () => resolve(body));
  });
}

test('pipelined requests are answered in order, each after the one before, bodies included', async () => {
  const delays: Record<string, number> = { '/slow': 30, '/fast': 0 };
  const srv = await serve((req, res) => {
    void readBody(req).then((body) => {
      setTimeout(() => res.writeHead(200, ['content-type', 'text/plain']).end(`${req.method} ${req.url} ${body}`), delays[req.url] ?? 1);
    });
    if (req.complete) req.resume();
  });
  const text = 'GET /slow HTTP/1.1\r\nhost: h\r\n\r\nPOST /fast HTTP/1.1\r\nhost: h\r\ncontent-length: 4\r\n\r\nbodyPUT /c HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n';
  const { responses } = await talk(srv.port, [text], 3);
  assert.deepEqual(responses.map((r) => r.body), ['GET /slow ', 'POST /fast body', 'PUT /c abc']);
  assert.equal(responses[0].headers['content-length'], '10', 'a body given whole to end() goes out with a length');
  assert.ok(responses[0].headers.date);
  // The same, a byte at a time.
  const bytes = [...Buffer.from(text)].map((b) => Buffer.from([b]));
  const slow = await talk(srv.port, bytes.length > 200 ? [Buffer.concat(bytes.slice(0, 40)), ...bytes.slice(40, 80), Buffer.concat(bytes.slice(80))] : bytes, 3);
  assert.deepEqual(slow.responses.map((r) => r.body), ['GET /slow ', 'POST /fast body', 'PUT /c abc']);
  await srv.close();
});

test('a request body streams with back-pressure: data waits while paused, and the body arrives before a listener is added', async () => {
  const srv = await serve((req, res) => {
    req.pause();
    setTimeout(() => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        req.pause();
        setTimeout(() => req.resume(), 1);
      });
      req.once('end', () => res.writeHead(200, ['x-n', String(n)]).end());
      req.resume();
    }, 20);
  });
  const body = Buffer.alloc(300_000, 'x');
  const { responses } = await talk(srv.port, [`POST / HTTP/1.1\r\nhost: h\r\ncontent-length: ${body.length}\r\n\r\n`, body], 1);
  assert.equal(responses[0].headers['x-n'], String(body.length));
  await srv.close();
});

test('without a length the response is chunked; HEAD and 204 carry no body; Connection: close closes after the answer', async () => {
  const srv = await serve((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('one,');
      setTimeout(() => res.end('two'), 5);
    } else if (req.url === '/empty') {
      res.writeHead(204, []).end();
    } else {
      res.writeHead(200, ['content-length', '5']).end(req.method === 'HEAD' ? undefined : 'hello');
    }
  });
  const stream = await talk(srv.port, ['GET /stream HTTP/1.1\r\nhost: h\r\n\r\n'], 1);
  assert.equal(stream.responses[0].body, 'one,two');
  assert.equal(stream.responses[0].headers['content-type'], 'text/plain');
  assert.match(stream.raw, /transfer-encoding: chunked/);
  const head = await talk(srv.port, ['HEAD / HTTP/1.1\r\nhost: h\r\n\r\n'], 1, 'HEAD');
  assert.equal(head.responses[0].headers['content-length'], '5');
  assert.ok(head.raw.endsWith('\r\n\r\n'), 'no body after the head');
  const empty = await talk(srv.port, ['GET /empty HTTP/1.1\r\nhost: h\r\n\r\nGET / HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\nGET /never HTTP/1.1\r\nhost: h\r\n\r\n'], 3);
  assert.equal(empty.responses.length, 2, 'nothing after the request that asked to close');
  assert.equal(empty.responses[0].status, 204);
  assert.equal(empty.responses[1].body, 'hello');
  assert.match(empty.raw, /connection: close/);
  assert.equal(empty.closed, true);
  await srv.close();
});

test('malformed and hostile requests get a local reply that says why, and the connection closes', async () => {
  let reached = 0;
  const srv = await serve((_req, res) => {
    reached++;
    res.writeHead(200, ['content-length', '0']).end();
  });
  const cases: [string, number, string][] = [
    ['POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'bad-request'],
    ['GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n', 400, 'bad-request'],
    ['GET /\r\n\r\n', 400, 'bad-request'],
    [`GET / HTTP/1.1\r\nhost: h\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'header-too-large'],
  ];
  for (const [text, status, reason] of cases) {
    const { responses, closed } = await talk(srv.port, [text], 1);
    assert.equal(responses[0]?.status, status, text.slice(0, 60));
    assert.equal(responses[0].headers['x-weft-reason'], reason);
    assert.equal(JSON.parse(responses[0].body).error.proxy, 'test-proxy');
    assert.equal(closed, true);
  }
  assert.equal(reached, 0);
  assert.deepEqual(srv.refused, cases.map(([, status, reason]) => `${status} ${reason}`), 'each refusal is reported (it is counted in requests_total)');
  // A bad chunk after the head reached the handler: 400 if nothing was answered yet, then close.
  const srv2 = await serve((req) => req.resume());
  const bad = await talk(srv2.port, ['POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n', '5\r\nabc\r\nzz\r\n'], 1);
  assert.equal(bad.responses[0]?.status, 400);
  assert.equal(bad.closed, true);
  await srv.close();
  await srv2.close();
});

test('CONNECT, Expect and HTTP/1.0 go to the fallback with every byte not yet handled', async () => {
  const srv = await serve((req, res) => res.writeHead(200, ['content-length', '2']).end('ok'));
  const connect = 'CONNECT a:1 HTTP/1.1\r\nhost: a:1\r\n\r\nTUNNEL';
  const first = 'GET / HTTP/1.1\r\nhost: h\r\n\r\n';
  const r = await talk(srv.port, [first + connect.slice(0, 20), connect.slice(20)], 2);
  assert.deepEqual(r.responses.map((x) => x.status), [200, 418]);
  assert.equal(srv.fallbacks.at(-1)?.toString('latin1'), connect);
  for (const text of ['POST / HTTP/1.1\r\nhost: h\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\n', 'GET / HTTP/1.0\r\n\r\n', 'GET / HTTP/1.0\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n']) {
    const x = await talk(srv.port, [text], 1);
    assert.equal(x.responses[0].status, 418, text);
    assert.equal(srv.fallbacks.at(-1)?.toString('latin1'), text);
  }
  await srv.close();
});

const UPGRADE = 'GET /ws HTTP/1.1\r\nhost: h\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n';

test('an upgrade request is an ordinary exchange: bytes after it wait, and a non-101 answer lets them be read as the next request', async () => {
  const seen: string[] = [];
  let answer!: () => void;
  const answered = new Promise<void>((r) => (answer = r));
  const srv = await serve((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/ws') {
      // Held until the test has sent the next request on the same connection.
      void answered.then(() => res.writeHead(426, ['content-length', '2']).end('no'));
    } else {
      res.writeHead(200, ['content-length', '2']).end('ok');
    }
  });
  const socket = net.connect(srv.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(UPGRADE);
  socket.write('GET /after HTTP/1.1\r\nhost: h\r\n\r\n');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(seen, ['GET /ws'], 'nothing after the upgrade request is read before its answer');
  let raw = '';
  socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
  answer();
  while (!raw.includes('\r\n\r\nok')) await once(socket, 'data');
  assert.deepEqual(seen, ['GET /ws', 'GET /after']);
  assert.match(raw, /^HTTP\/1\.1 426 [^]*\r\n\r\nnoHTTP\/1\.1 200 /);
  assert.equal(srv.fallbacks.length, 0);
  socket.destroy();
  await srv.close();
});

test('switchProtocols: the 101 goes out and the socket is handed over with the bytes held after the request', async () => {
  let handed: { socket: net.Socket; head: Buffer } | undefined;
  let got!: () => void;
  const ready = new Promise<void>((r) => (got = r));
  const srv = await serve((_req, res) => {
    setTimeout(() => {
      handed = res.switchProtocols(['upgrade', 'websocket', 'sec-websocket-accept', 'x']);
      got();
    }, 30);
  });
  const socket = net.connect(srv.port, '127.0.0.1');
  await once(socket, 'connect');
  let raw = '';
  socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
  socket.write(UPGRADE + 'EARLY');
  await ready;
  assert.equal(handed!.head.toString('latin1'), 'EARLY');
  handed!.socket.write('FROM-SERVER');
  while (!raw.includes('FROM-SERVER')) await once(socket, 'data');
  assert.equal(raw, 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nsec-websocket-accept: x\r\nconnection: upgrade\r\n\r\nFROM-SERVER');
  // The HTTP side has let go: what the client sends now is the new protocol's, for the new owner.
  const late = once(handed!.socket, 'data');
  handed!.socket.resume(); // left paused for the new owner (pipe resumes it)
  socket.write('LATE');
  assert.equal(((await late)[0] as Buffer).toString('latin1'), 'LATE');
  socket.destroy();
  await srv.close();
});

test('a client that goes away mid-request: the request and the response hear "close"', async () => {
  const events: string[] = [];
  let seen!: () => void;
  const reached = new Promise<void>((r) => (seen = r));
  const srv = await serve((req, res) => {
    req.on('close', () => events.push('req close'));
    res.on('close', () => events.push('res close'));
    req.resume();
    seen();
  });
  const socket = net.connect(srv.port, '127.0.0.1');
  socket.write('POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 100\r\n\r\npartial');
  await reached;
  socket.destroy();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(events.sort(), ['req close', 'res close']);
  await srv.close();
});

test('headers: duplicates combine as node:http combines them', async () => {
  let headers: Record<string, unknown> = {};
  const srv = await serve((req, res) => {
    headers = { ...req.headers };
    res.end();
  });
  await talk(srv.port, ['GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\naccept: b\r\nCookie: x=1\r\ncookie: y=2\r\nSet-Cookie: s=1\r\nset-cookie: s=2\r\nContent-Type: a\r\ncontent-type: b\r\n\r\n'], 1);
  assert.deepEqual(headers, { host: 'h', accept: 'a, b', cookie: 'x=1; y=2', 'set-cookie': ['s=1', 's=2'], 'content-type': 'a' });
  await srv.close();
});

test('interim heads go out at once, ahead of the final one; 101 or after the head is refused', { timeout: 10_000 }, async () => {
  const errors: string[] = [];
  let release: () => void = () => {};
  const later = new Promise<void>((r) => (release = r));
  const srv = await serve((_req, res) => {
    res.writeInterim(100);
    res.writeInterim(103, ['link', '</style.css>; rel=preload', 'link', '</app.js>; rel=preload']);
    res.writeInterim(102, { 'x-progress': '50%' });
    for (const bad of [101, 200, 99]) {
      try {
        res.writeInterim(bad);
      } catch (err) {
        errors.push(`${bad} ${(err as NodeJS.ErrnoException).code}`);
      }
    }
    // The final head waits for the client to have read the interim ones: they were not held back.
    void later.then(() => {
      res.writeHead(200, ['content-length', '2']).end('ok');
      try {
        res.writeInterim(103);
      } catch (err) {
        errors.push(`after ${(err as NodeJS.ErrnoException).code}`);
      }
    });
  });
  const socket = net.connect(srv.port, '127.0.0.1');
  socket.write('GET / HTTP/1.1\r\nhost: h\r\n\r\n');
  let raw = '';
  socket.on('data', (d: Buffer) => {
    raw += d.toString('latin1');
    if (raw.includes('x-progress: 50%\r\n\r\n')) release();
  });
  await new Promise<void>((resolve) => socket.on('data', () => raw.includes('\r\n\r\nok') && resolve()));
  socket.destroy();
  assert.equal(raw.slice(0, raw.indexOf('HTTP/1.1 200')), 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\nlink: </app.js>; rel=preload\r\n\r\nHTTP/1.1 102 Processing\r\nx-progress: 50%\r\n\r\n');
  assert.deepEqual(errors, ['101 ERR_HTTP_INVALID_STATUS_CODE', '200 ERR_HTTP_INVALID_STATUS_CODE', '99 ERR_HTTP_INVALID_STATUS_CODE', 'after ERR_HTTP_HEADERS_SENT']);
  await srv.close();
});

test('trailers end a chunked body, whether it streamed or came whole with end(); a length-framed body cannot carry them', async () => {
  const srv = await serve((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, ['content-type', 'text/plain']);
      res.write('one,');
      setTimeout(() => {
        res.addTrailers(['grpc-status', '0', 'x-sum', 'a']);
        res.addTrailers({ 'x-more': ['1', '2'] });
        res.end('two');
      }, 5);
    } else if (req.url === '/whole') {
      // All of the body with end(): without trailers this would become a content-length.
      res.writeHead(200, []);
      res.addTrailers(['grpc-status', '5']);
      res.end('whole');
    } else if (req.url === '/empty') {
      res.writeHead(200, []);
      res.addTrailers(['grpc-status', '5']);
      res.end();
    } else {
      res.writeHead(200, ['content-length', '5']);
      res.addTrailers(['x-lost', '1']);
      res.end('fixed');
    }
  });
  const { responses, raw } = await talk(srv.port, ['GET /stream HTTP/1.1\r\nhost: h\r\n\r\nGET /whole HTTP/1.1\r\nhost: h\r\n\r\nGET /empty HTTP/1.1\r\nhost: h\r\n\r\nGET /fixed HTTP/1.1\r\nhost: h\r\n\r\n'], 4);
  assert.equal(responses[0].body, 'one,two');
  assert.deepEqual(responses[0].trailers, ['grpc-status', '0', 'x-sum', 'a', 'x-more', '1', 'x-more', '2']);
  assert.equal(responses[1].body, 'whole');
  assert.equal(responses[1].headers['content-length'], undefined);
  assert.deepEqual(responses[1].trailers, ['grpc-status', '5']);
  assert.equal(responses[2].body, '');
  assert.deepEqual(responses[2].trailers, ['grpc-status', '5']);
  assert.ok(raw.includes('\r\n\r\n0\r\ngrpc-status: 5\r\n\r\n'), 'an empty chunked body with its trailers');
  assert.equal(responses[3].body, 'fixed');
  assert.equal(responses[3].trailers, undefined);
  assert.ok(!raw.includes('x-lost'));
  await srv.close();
});

test('trailers given as an object are checked like header fields', async () => {
  const codes: string[] = [];
  const srv = await serve((_req, res) => {
    for (const bad of [{ 'bad name': 'x' }, { 'x-a': 'line\r\nbreak' }]) {
      try {
        res.addTrailers(bad);
      } catch (err) {
        codes.push((err as NodeJS.ErrnoException).code ?? '');
      }
    }
    res.writeHead(200, ['content-length', '0']).end();
  });
  await talk(srv.port, ['GET / HTTP/1.1\r\nhost: h\r\n\r\n'], 1);
  assert.deepEqual(codes, ['ERR_INVALID_CHAR', 'ERR_INVALID_CHAR']);
  await srv.close();
});

test('the writer frames the response itself: no content on 1xx/204 means no Content-Length, 304 keeps one, HEAD keeps one; framing fields are never copied', async () => {
  const srv = await serve((req, res) => {
    const url = req.url;
    if (url === '/204-list') res.writeHead(204, ['content-length', '5', 'x-a', '1']).end('hello');
    else if (url === '/204-object') res.writeHead(204, { 'Content-Length': 5, 'x-a': '1' }).end('hello');
    else if (url === '/304') res.writeHead(304, ['content-length', '5', 'etag', '"e"']).end();
    else if (url === '/304-chunked') res.writeHead(304, { 'transfer-encoding': 'chunked', etag: '"e"' }).end();
    else if (url === '/copied') res.writeHead(200, { 'Transfer-Encoding': 'gzip', Connection: 'content-length', 'content-length': '5' }).end('hello');
    else if (url === '/bad-length') {
      assert.throws(() => res.writeHead(200, { 'content-length': '5, 6' }), { code: 'ERR_INVALID_CHAR' });
      res.writeHead(200, ['content-length', '2']).end('ok');
    } else res.writeHead(200, ['content-length', '5']).end(req.method === 'HEAD' ? undefined : 'hello');
  });
  for (const path of ['/204-list', '/204-object']) {
    const r = await talk(srv.port, [`GET ${path} HTTP/1.1\r\nhost: h\r\n\r\nGET /after HTTP/1.1\r\nhost: h\r\n\r\n`], 2);
    assert.equal(r.responses[0].status, 204);
    assert.equal(r.responses[0].headers['x-a'], '1');
    assert.doesNotMatch(r.raw.slice(0, r.raw.indexOf('\r\n\r\n')), /content-length/i, `${path}: a 204 carries no Content-Length`);
    assert.equal(r.raw.split('\r\n\r\n')[1].startsWith('HTTP/1.1 200'), true, `${path}: no body after the 204's head`);
    assert.equal(r.responses[1].body, 'hello');
  }
  const notModified = await talk(srv.port, ['GET /304 HTTP/1.1\r\nhost: h\r\n\r\n'], 1);
  assert.equal(notModified.responses[0].headers['content-length'], '5');
  assert.ok(notModified.raw.endsWith('\r\n\r\n'));
  const notChunked = await talk(srv.port, ['GET /304-chunked HTTP/1.1\r\nhost: h\r\n\r\n'], 1);
  assert.doesNotMatch(notChunked.raw, /transfer-encoding/i);
  assert.ok(notChunked.raw.endsWith('\r\n\r\n'));
  const head = await talk(srv.port, ['HEAD / HTTP/1.1\r\nhost: h\r\n\r\n'], 1, 'HEAD');
  assert.equal(head.responses[0].headers['content-length'], '5');
  const copied = await talk(srv.port, ['GET /copied HTTP/1.1\r\nhost: h\r\n\r\n'], 1);
  assert.doesNotMatch(copied.raw, /transfer-encoding|connection: content-length/i);
  assert.match(copied.raw, /content-length: 5\r\n/);
  assert.equal(copied.responses[0].body, 'hello');
  assert.equal((await talk(srv.port, ['GET /bad-length HTTP/1.1\r\nhost: h\r\n\r\n'], 1)).responses[0].body, 'ok');
  await srv.close();
});

test('a request line that can never be valid is answered 400 as it ends, without waiting for a head', async () => {
  let reached = 0;
  const srv = await serve((_req, res) => {
    reached++;
    res.writeHead(200, ['content-length', '0']).end();
  });
  // HTTP/0.9's `GET /` and one CRLF; then a target no form allows. Nothing else is sent: the reply must come anyway.
  for (const line of ['GET /\r\n', 'GET admin/secret HTTP/1.1\r\n', 'POST /x HTTP/1.1\r\nConnection: content-length\r\nContent-Length: 1\r\n\r\n']) {
    const r = await talk(srv.port, [line], 1);
    assert.equal(r.responses[0]?.status, 400, line);
    assert.equal(r.responses[0].headers['x-weft-reason'], 'bad-request');
    assert.equal(r.closed, true);
  }
  assert.equal(reached, 0);
  await srv.close();
});

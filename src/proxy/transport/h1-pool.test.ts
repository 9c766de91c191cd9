import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { H1Pool, PEER_SIDECAR_IDLE_MS, pooledIdleMs } from './h1-pool.ts';
import { INBOUND_IDLE_CLOSE_MIN_MS } from './listener.ts';
import { DEFAULT_BACKEND_POLICY } from '../../config/kinds/backend-policy.ts';
import { BODY_CHUNKED, BODY_NONE, BODY_RAW, keepAliveIdleMs, requestHead, type H1Exchange, type H1Stage } from './h1-client.ts';

interface Result {
  status: number;
  headers: string[];
  body: Buffer;
  reused: boolean;
  /** How many times the pool moved the exchange off a stale connection. */
  staleRetries: number;
}

class ExchangeError extends Error {
  readonly code: string | undefined;
  readonly stage: H1Stage;
  readonly reused: boolean;
  constructor(err: NodeJS.ErrnoException, stage: H1Stage, reused: boolean) {
    super(err.message);
    this.code = err.code;
    this.stage = stage;
    this.reused = reused;
  }
}

/** One exchange through the pool; `body` chunks are written after connect. */
function exchange(pool: H1Pool, head: string, options: { body?: Buffer[]; mode?: number; method?: string; connectMs?: number; idleMs?: number; retryStale?: boolean; onHead?: (ex: H1Exchange) => void } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    let staleRetries = 0;
    let status = 0;
    let headers: string[] = [];
    const chunks: Buffer[] = [];
    const ex: H1Exchange = pool.request({
      onReady(ex) {
        ex.writeHead(head, options.mode ?? BODY_NONE);
        if (options.body) {
          for (const c of options.body) ex.writeBody(c);
          ex.endBody();
        }
      },
      onHead(s, h) {
        status = s;
        headers = h;
        options.onHead?.(ex);
      },
      onData(chunk) {
        chunks.push(Buffer.from(chunk));
      },
      onEnd() {
        resolve({ status, headers, body: Buffer.concat(chunks), reused: ex.reused, staleRetries });
      },
      onError(err, stage) {
        reject(new ExchangeError(err, stage, ex.reused));
      },
      onStaleRetry() {
        staleRetries++;
      },
    }, { connectMs: options.connectMs ?? 2000, idleMs: options.idleMs ?? 60_000, noResponseBody: options.method === 'HEAD', retryStale: options.retryStale });
  });
}

const get = (path: string, host = 'upstream'): string => requestHead('GET', path, host, [], {});

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: http.Server | net.Server): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('sequential exchanges reuse one kept-alive connection', async () => {
  let connections = 0;
  const server = http.createServer((req, res) => res.end(`${req.method} ${req.url} ${req.headers.host}`));
  server.on('connection', () => connections++);
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    const first = await exchange(pool, get('/a'));
    assert.equal(first.status, 200);
    assert.equal(first.body.toString(), 'GET /a upstream');
    assert.equal(first.reused, false);
    for (let i = 0; i < 5; i++) {
      const r = await exchange(pool, get(`/b${i}`));
      assert.equal(r.body.toString(), `GET /b${i} upstream`);
      assert.equal(r.reused, true);
    }
    assert.equal(connections, 1);
    assert.equal(pool.idleCount, 1);
    // Concurrent exchanges each take a connection; all go back to the pool.
    const many = await Promise.all(Array.from({ length: 4 }, (_, i) => exchange(pool, get(`/c${i}`))));
    many.forEach((r, i) => assert.equal(r.body.toString(), `GET /c${i} upstream`));
    assert.equal(pool.idleCount, 4);
    assert.equal(connections, 4);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('idle connections close after idleMs', async () => {
  let closed = 0;
  const server = http.createServer((_req, res) => res.end('ok'));
  server.on('connection', (s) => s.on('close', () => closed++));
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    await exchange(pool, get('/'), { idleMs: 60 });
    assert.equal(pool.idleCount, 1);
    await sleep(20);
    assert.equal(pool.idleCount, 1, 'not yet');
    await sleep(150);
    assert.equal(pool.idleCount, 0);
    assert.equal(pool.openCount, 0);
    await sleep(20);
    assert.equal(closed, 1, 'the server saw the connection close');
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('an idle connection the server closed is dropped, and the next exchange opens a fresh one', async () => {
  let connections = 0;
  const server = http.createServer((_req, res) => res.end('ok'));
  server.on('connection', () => connections++);
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    await exchange(pool, get('/'));
    assert.equal(pool.idleCount, 1);
    server.closeIdleConnections();
    await sleep(50);
    assert.equal(pool.idleCount, 0, 'the FIN was noticed while idle');
    const r = await exchange(pool, get('/'));
    assert.equal(r.reused, false);
    assert.equal(connections, 2);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('connection: close from upstream: the connection is not reused', async () => {
  let connections = 0;
  const server = http.createServer((_req, res) => res.writeHead(200, { connection: 'close' }).end('bye'));
  server.on('connection', () => connections++);
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    assert.equal((await exchange(pool, get('/'))).body.toString(), 'bye');
    assert.equal(pool.idleCount, 0);
    assert.equal((await exchange(pool, get('/'))).reused, false);
    assert.equal(connections, 2);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('a reused connection that dies before any response byte fails before-head, marked reused', async () => {
  let n = 0;
  const server = net.createServer((socket) => {
    socket.on('data', () => {
      if (n++ === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else socket.destroy();
    });
  });
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    await exchange(pool, get('/'));
    await assert.rejects(exchange(pool, get('/')), (err: ExchangeError) => {
      assert.equal(err.stage, 'before-head');
      assert.equal(err.reused, true);
      assert.equal(err.code, 'ECONNRESET');
      return true;
    });
    assert.equal(pool.openCount, 0);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

/**
 * Issue 10's app, on raw sockets: it answers the first request on each connection and closes the
 * connection when a second one arrives (an app's keep-alive timer firing as the proxy reuses it).
 * `replyFirst`: what it writes before closing, on the second request (default nothing).
 */
async function oneRequestPerConnection(replyFirst = ''): Promise<{ server: net.Server; port: number; connections(): number; requests(): number }> {
  let connections = 0;
  let requests = 0;
  const server = net.createServer((socket) => {
    connections++;
    let served = 0;
    socket.on('data', () => {
      requests++;
      if (served++ === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else socket.end(replyFirst);
    });
    socket.on('error', () => {});
  });
  const port = await listen(server);
  return { server, port, connections: () => connections, requests: () => requests };
}

test('stale retry: a GET without body that meets a reused connection closed before any response byte goes once more on a new connection', async () => {
  const app = await oneRequestPerConnection();
  const pool = new H1Pool('127.0.0.1', app.port);
  try {
    const first = await exchange(pool, get('/'), { retryStale: true });
    assert.equal(first.staleRetries, 0);
    const second = await exchange(pool, get('/'), { retryStale: true });
    assert.equal(second.status, 200);
    assert.equal(second.body.toString(), 'ok');
    assert.equal(second.staleRetries, 1);
    assert.equal(second.reused, false, 'it ended on a new connection');
    assert.equal(app.connections(), 2);
    assert.equal(app.requests(), 3, 'the request reached the app twice: once on the stale connection, once on the new one');
  } finally {
    pool.close();
    await closeServer(app.server);
  }
});

test('stale retry: only once; a second stale failure is an error', async () => {
  // The first connection serves one request and dies on the next; every later one dies at once.
  let connections = 0;
  const server = net.createServer((socket) => {
    const n = connections++;
    let served = 0;
    socket.on('data', () => {
      if (n === 0 && served++ === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else socket.destroy();
    });
    socket.on('error', () => {});
  });
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    await exchange(pool, get('/'), { retryStale: true });
    await assert.rejects(exchange(pool, get('/'), { retryStale: true }), (err: ExchangeError) => err.stage === 'before-head' && err.reused === false);
    assert.equal(connections, 2, 'one retry, not a loop');
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('stale retry: not for a request the caller did not mark retryable (a POST), nor with a body', async () => {
  const app = await oneRequestPerConnection();
  const pool = new H1Pool('127.0.0.1', app.port);
  try {
    await exchange(pool, get('/'));
    // Not marked: the error reaches the caller, which decides (forward.ts: a POST is not replayed).
    await assert.rejects(exchange(pool, requestHead('POST', '/', 'u', [], {})), (err: ExchangeError) => err.stage === 'before-head' && err.reused === true);
    await exchange(pool, get('/'));
    // Marked, but a body went with it: it cannot be sent again.
    await assert.rejects(
      exchange(pool, requestHead('PUT', '/', 'u', ['Content-Length', '5'], {}), { retryStale: true, mode: BODY_RAW, body: [Buffer.from('hello')] }),
      (err: ExchangeError) => err.stage === 'before-head' && err.reused === true,
    );
    assert.equal(app.connections(), 2);
  } finally {
    pool.close();
    await closeServer(app.server);
  }
});

test('stale retry: not once any byte of a response came back', async () => {
  // The app starts a response on the reused connection, then closes: the request was processed.
  const app = await oneRequestPerConnection('HTTP/1.1 500 Inter');
  const pool = new H1Pool('127.0.0.1', app.port);
  try {
    await exchange(pool, get('/'), { retryStale: true });
    await assert.rejects(exchange(pool, get('/'), { retryStale: true }), (err: ExchangeError) => err.stage === 'before-head' && err.reused === true);
    assert.equal(app.connections(), 1);
  } finally {
    pool.close();
    await closeServer(app.server);
  }
});

test('Keep-Alive: timeout=N from the server: the idle connection closes a little before N, whatever idleMs says', async () => {
  let clientClosedFirst = false;
  let closed = false;
  // Node's server closes an idle connection after 2 s and says so (keep-alive: timeout=2).
  const server = http.createServer((_req, res) => res.end('ok'));
  server.keepAliveTimeout = 2_000;
  server.on('connection', (s) => {
    // A FIN from the pool arrives as 'end'; the server's own timer destroys the socket without one.
    s.on('end', () => (clientClosedFirst = true));
    s.on('close', () => (closed = true));
  });
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    const r = await exchange(pool, get('/'), { idleMs: 60_000 });
    assert.equal(r.headers.includes('keep-alive'), false, 'the field itself stays on this hop');
    assert.equal(pool.idleCount, 1);
    // keepAliveIdleMs(2000) = 1500: the pool closes it before the server's 2 s.
    while (!closed) await sleep(20);
    assert.equal(pool.openCount, 0);
    assert.equal(clientClosedFirst, true, 'the pool closed the connection, not the server');
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('keepAliveIdleMs: a little before the server\'s timeout; timeout=0 means no reuse', () => {
  assert.equal(keepAliveIdleMs(5_000), 4_000);
  assert.equal(keepAliveIdleMs(60_000), 59_000);
  assert.equal(keepAliveIdleMs(1_000), 750);
  assert.equal(keepAliveIdleMs(0), 0);
});

test('Keep-Alive: timeout=0: the connection is not kept', async () => {
  const server = net.createServer((socket) => {
    socket.on('data', () => socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: max=5, timeout=0\r\ncontent-length: 2\r\n\r\nok'));
    socket.on('error', () => {});
  });
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    await exchange(pool, get('/'));
    assert.equal(pool.idleCount, 0);
    assert.equal(pool.openCount, 0);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('a connection closed in the middle of a body fails after-head', async () => {
  const server = net.createServer((socket) => {
    socket.on('data', () => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
  });
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    await assert.rejects(exchange(pool, get('/')), (err: ExchangeError) => err.stage === 'after-head' && err.reused === false);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('a malformed response fails the exchange and closes the connection', async () => {
  const server = net.createServer((socket) => socket.on('data', () => socket.write('HTTP/1.1 200 OK\r\nbroken header\r\n\r\n')));
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    await assert.rejects(exchange(pool, get('/')), (err: ExchangeError) => err.stage === 'before-head' && err.code === 'HPE_INVALID_RESPONSE');
    assert.equal(pool.openCount, 0);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('a close-delimited response ends at the close and is not reused', async () => {
  const server = net.createServer((socket) => socket.on('data', () => socket.end('HTTP/1.1 200 OK\r\n\r\nuntil the end')));
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    const r = await exchange(pool, get('/'));
    assert.equal(r.body.toString(), 'until the end');
    assert.equal(pool.openCount, 0);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('a refused connection fails at the connect stage with its errno code', async () => {
  const probe = net.createServer();
  const port = await listen(probe);
  await closeServer(probe);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    await assert.rejects(exchange(pool, get('/')), (err: ExchangeError) => err.stage === 'connect' && err.code === 'ECONNREFUSED' && !err.reused);
    assert.equal(pool.openCount, 0);
  } finally {
    pool.close();
  }
});

test('a connection that does not open within connectMs fails at the connect stage with WEFT_CONNECT_TIMEOUT', async () => {
  // A listener whose accept queue is full (backlog 1, its process blocked): further SYNs go unanswered.
  const child = spawn(process.execPath, ['-e', `
    const s = require('node:net').createServer();
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      console.log(s.address().port);
      setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000), 10);
    });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: net.Socket[] = [];
  const pool = new H1Pool('127.0.0.1', await new Promise<number>((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim())))));
  try {
    await sleep(100);
    for (let i = 0; i < 4; i++) fillers.push(net.connect(pool.port, '127.0.0.1').on('error', () => {}));
    await sleep(200);
    const started = performance.now();
    await assert.rejects(exchange(pool, get('/'), { connectMs: 150 }), (err: ExchangeError) => err.stage === 'connect' && err.code === 'WEFT_CONNECT_TIMEOUT');
    assert.ok(performance.now() - started >= 140);
    assert.equal(pool.openCount, 0);
  } finally {
    pool.close();
    for (const f of fillers) f.destroy();
    child.kill();
  }
});

test('request bodies: content-length bytes as they are, and chunked bodies re-chunked', async () => {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(JSON.stringify({ te: req.headers['transfer-encoding'] ?? null, len: req.headers['content-length'] ?? null, body: Buffer.concat(chunks).toString() })));
  });
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    const raw = await exchange(pool, requestHead('POST', '/', 'u', ['Content-Length', '11'], { bodyLength: 11 }), { mode: BODY_RAW, body: [Buffer.from('hello'), Buffer.from(' world')] });
    assert.deepEqual(JSON.parse(raw.body.toString()), { te: null, len: '11', body: 'hello world' });
    const chunked = await exchange(pool, requestHead('POST', '/', 'u', ['Transfer-Encoding', 'chunked'], { bodyLength: -1 }), { mode: BODY_CHUNKED, body: [Buffer.from('a'.repeat(300)), Buffer.alloc(0), Buffer.from('tail')] });
    assert.deepEqual(JSON.parse(chunked.body.toString()), { te: 'chunked', len: null, body: `${'a'.repeat(300)}tail` });
    assert.equal(chunked.reused, true, 'the connection survived both bodies');
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('a response that ends before the request body: the connection waits for the body, then is reused', async () => {
  let connections = 0;
  const server = http.createServer((req, res) => {
    res.end('early');
    req.resume();
  });
  server.on('connection', () => connections++);
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    let ex!: H1Exchange;
    const early = await new Promise<string>((resolve, reject) => {
      let body = '';
      ex = pool.request({
        onReady(e) {
          e.writeHead(requestHead('POST', '/', 'u', ['Content-Length', '4'], { bodyLength: 4 }), BODY_RAW);
          e.writeBody(Buffer.from('ab'));
        },
        onHead() {},
        onData: (c) => (body += c),
        onEnd: () => resolve(body),
        onError: reject,
      }, { connectMs: 1000, idleMs: 60_000, noResponseBody: false });
    });
    assert.equal(early, 'early');
    assert.equal(pool.idleCount, 0, 'not idle while its request is unfinished');
    ex.writeBody(Buffer.from('cd'));
    ex.endBody();
    assert.equal(pool.idleCount, 1);
    assert.equal((await exchange(pool, get('/'))).reused, true);
    assert.equal(connections, 1);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('HEAD: the response has no body even with a content-length, and the connection is reused', async () => {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-length': 5 }).end('hello'));
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    const r = await exchange(pool, requestHead('HEAD', '/', 'u', [], {}), { method: 'HEAD' });
    assert.equal(r.body.length, 0);
    assert.ok(r.headers.includes('content-length'));
    assert.equal((await exchange(pool, get('/'))).body.toString(), 'hello');
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('back-pressure: a paused exchange resumes, a large chunked response arrives intact', async () => {
  const piece = Buffer.alloc(64 * 1024, 7);
  const server = http.createServer((_req, res) => {
    let n = 0;
    const pump = (): void => {
      while (n < 64) {
        n++;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    let bytes = 0;
    let pauses = 0;
    await new Promise<void>((resolve, reject) => {
      const ex = pool.request({
        onReady: (e) => e.writeHead(get('/'), BODY_NONE),
        onHead() {},
        onData(c) {
          bytes += c.length;
          if (pauses++ % 4 === 0) {
            ex.pause();
            setTimeout(() => ex.resume(), 2);
          }
        },
        onEnd: resolve,
        onError: reject,
      }, { connectMs: 1000, idleMs: 60_000, noResponseBody: false });
    });
    assert.equal(bytes, 64 * piece.length);
    assert.equal(pool.idleCount, 1);
    assert.equal((await exchange(pool, get('/'))).body.length, 64 * piece.length, 'the released connection is not left paused');
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('destroy() cancels: no callback, the connection closes; a finished exchange cannot touch its old connection', async () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end('late'), 200);
    else res.end('ok');
  });
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    let called = false;
    const ex = pool.request({
      onReady: (e) => e.writeHead(get('/slow'), BODY_NONE),
      onHead: () => (called = true),
      onData: () => (called = true),
      onEnd: () => (called = true),
      onError: () => (called = true),
    }, { connectMs: 1000, idleMs: 60_000, noResponseBody: false });
    await sleep(20);
    ex.destroy();
    await sleep(250);
    assert.equal(called, false);
    assert.equal(pool.openCount, 0);

    let old!: H1Exchange;
    await exchange(pool, get('/'), { onHead: (e) => (old = e) });
    old.destroy();
    assert.equal(pool.idleCount, 1, 'the old exchange no longer owns the connection');
    assert.equal((await exchange(pool, get('/'))).reused, true);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('discard(): the response is read to its end without callbacks and the connection reused', async () => {
  const server = http.createServer((_req, res) => res.writeHead(503, { 'x-weft-reason': 'upstream-connect-failure' }).end('{"error":{}}'));
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    let data = false;
    const ex: H1Exchange = pool.request({
      onReady: (e) => e.writeHead(get('/'), BODY_NONE),
      onHead: () => ex.discard(),
      onData: () => (data = true),
      onEnd: () => (data = true),
      onError: () => (data = true),
    }, { connectMs: 1000, idleMs: 60_000, noResponseBody: false });
    await sleep(50);
    assert.equal(data, false);
    assert.equal(pool.idleCount, 1);
  } finally {
    pool.close();
    await closeServer(server);
  }
});

test('requestHead drops hop-by-hop fields and those Connection names, and the hop replaces its own; framing comes from bodyLength only', () => {
  const head = requestHead('GET', '/p?q=1', 'svc', ['Host', 'client-host', 'Connection', 'keep-alive, X-Private', 'X-Private', 'p', 'Keep-Alive', '5', 'TE', 'trailers', 'Accept', 'a', 'accept', 'b', 'X-Weft-Source', 'forged', 'Content-Length', '3', 'Upgrade', 'h2c'], {
    connection: 'keep-alive, X-Private',
    teTrailers: true,
    extra: { 'x-weft-source': 'client.default' },
    bodyLength: 3,
  });
  assert.equal(head, 'GET /p?q=1 HTTP/1.1\r\nhost: svc\r\nAccept: a\r\naccept: b\r\nte: trailers\r\nx-weft-source: client.default\r\ncontent-length: 3\r\n\r\n');
  assert.equal(requestHead('POST', '/', 'h', ['Transfer-Encoding', 'chunked'], { bodyLength: -1 }), 'POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n');
  // The smuggling shape (issue 10): Connection naming the framing, or a filter's extra field, never removes or changes it.
  assert.equal(requestHead('POST', '/x', 'h', ['Connection', 'content-length', 'Content-Length', '38'], { connection: 'content-length', bodyLength: 38 }), 'POST /x HTTP/1.1\r\nhost: h\r\ncontent-length: 38\r\n\r\n');
  assert.equal(requestHead('POST', '/x', 'h', ['Content-Length', '5'], { extra: { 'content-length': '0', 'transfer-encoding': 'chunked' }, bodyLength: 5 }), 'POST /x HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\n\r\n');
  // No framing decision, no framing field, whatever came in.
  assert.equal(requestHead('GET', '/', 'h', ['Content-Length', '0', 'Transfer-Encoding', 'chunked'], {}), 'GET / HTTP/1.1\r\nhost: h\r\n\r\n');
});

test('upgrade: a new connection of its own; a 101 sent before the request body ends hands the socket over only after it, with the bytes that followed the 101', async () => {
  let serverSide: net.Socket | undefined;
  let received = '';
  let switched = false;
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      if (d.toString('latin1').startsWith('GET /warm ')) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      serverSide = socket;
      received += d.toString('latin1');
      // Answers as soon as the head is in, before the body, and speaks the new protocol at once.
      if (received.includes('\r\n\r\n') && !switched) {
        switched = true;
        socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\nNEW-PROTOCOL');
      }
    });
  });
  const port = await listen(server);
  const pool = new H1Pool('127.0.0.1', port);
  try {
    // A pooled connection stays idle: the upgrade does not take it.
    assert.equal((await exchange(pool, get('/warm'))).status, 200);
    const events: string[] = [];
    let bodyEx!: H1Exchange;
    const upgraded = new Promise<{ headers: string[]; socket: import('node:stream').Duplex; head: Buffer }>((resolve, reject) => {
      pool.request({
        onReady(ex) {
          bodyEx = ex;
          ex.writeHead(requestHead('POST', '/up', 'upstream', ['Content-Length', '4'], { extra: { connection: 'upgrade', upgrade: 'echo' } }), BODY_RAW);
          ex.writeBody(Buffer.from('ab'));
          events.push('half body');
        },
        onHead: () => reject(new Error('a 101 is not a final head')),
        onData: () => {},
        onEnd: () => reject(new Error('a 101 is not a response end')),
        onError: (err) => reject(err),
        onUpgrade(headers, socket, head) {
          events.push('upgraded');
          resolve({ headers, socket, head });
        },
      }, { connectMs: 2000, idleMs: 60_000, noResponseBody: false, upgrade: true });
    });
    while (!switched) await sleep(5);
    await sleep(30);
    assert.deepEqual(events, ['half body'], 'no switch while the request is still being sent');
    bodyEx.writeBody(Buffer.from('cd'));
    bodyEx.endBody();
    const up = await upgraded;
    assert.deepEqual(events, ['half body', 'upgraded']);
    assert.deepEqual(up.headers, ['upgrade', 'echo']);
    const more = up.head.length >= 'NEW-PROTOCOL'.length ? up.head : Buffer.concat([up.head, (await once(up.socket, 'data'))[0] as Buffer]);
    assert.equal(more.toString('latin1'), 'NEW-PROTOCOL');
    while (!received.endsWith('abcd')) await sleep(5); // the whole body, then the new protocol
    const back = once(serverSide!, 'data');
    up.socket.write('after');
    assert.equal(((await back)[0] as Buffer).toString('latin1'), 'after');
    assert.equal(pool.openCount, 1, 'the upgraded connection left the pool; the warm one stayed');
    up.socket.destroy();
  } finally {
    pool.close();
    serverSide?.destroy();
    await closeServer(server);
  }
});

test('a peer sidecar\'s connections idle PEER_SIDECAR_IDLE_MS under the default policy, a set idleMs up to that, and close before its inbound listener would', () => {
  const peer = 'spiffe://weft.local/ns/default/sa/api';
  assert.equal(pooledIdleMs(DEFAULT_BACKEND_POLICY.timeouts.idleMs, undefined), DEFAULT_BACKEND_POLICY.timeouts.idleMs);
  assert.equal(pooledIdleMs(120_000, undefined), 120_000);
  assert.equal(pooledIdleMs(DEFAULT_BACKEND_POLICY.timeouts.idleMs, peer), PEER_SIDECAR_IDLE_MS);
  assert.equal(pooledIdleMs(5, peer), 5);
  assert.equal(pooledIdleMs(120_000, peer), PEER_SIDECAR_IDLE_MS);
  // The client must give a connection up first, or a request may be written onto one being closed.
  assert.ok(PEER_SIDECAR_IDLE_MS + 1_000 <= INBOUND_IDLE_CLOSE_MIN_MS, `${PEER_SIDECAR_IDLE_MS} ms vs ${INBOUND_IDLE_CLOSE_MIN_MS} ms`);
});

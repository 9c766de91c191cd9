// Bar (issue 10, class 4): every response shape passes through two sidecars (client sidecar, mutual
// TLS, server sidecar) on HTTP/1.1 and HTTP/2: headers that end the stream (gRPC trailers-only),
// trailers, interim 1xx heads (103 Early Hints, 100 Continue for `Expect: 100-continue`).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll } from '../support/processes.ts';
import { h2Connect } from '../support/h2.ts';

interface App {
  readonly port: number;
  /** Request bodies the app read, by path. */
  readonly bodies: Map<string, string>;
  close(): Promise<void>;
}

/** An h2c app: one path for each response shape. */
async function startH2ShapesApp(): Promise<App> {
  const bodies = new Map<string, string>();
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const path = String(headers[':path']);
    if (path.endsWith('/TrailersOnly')) {
      // gRPC's error answer: one HEADERS frame with the status, and END_STREAM.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'not found' }, { endStream: true });
      return;
    }
    if (path === '/early') {
      stream.additionalHeaders({ ':status': 103, link: '</style.css>; rel=preload' });
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('after hints');
      return;
    }
    if (path === '/continue') {
      // The app decides: it asks for the body with 100 Continue, then answers with what it read.
      stream.additionalHeaders({ ':status': 100 });
      let body = '';
      stream.on('data', (c: Buffer) => (body += c.toString()));
      stream.on('end', () => {
        bodies.set(path, body);
        stream.respond({ ':status': 200 });
        stream.end(`got ${body}`);
      });
      return;
    }
    // /trailers: body, then trailers with one field that may not travel in a trailer section.
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-checksum': 'abc', 'content-type': 'text/html' }));
    stream.end('message');
    stream.resume();
  });
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    bodies,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** An HTTP/1.1 app: one path for each response shape. */
async function startH1ShapesApp(): Promise<App> {
  const bodies = new Map<string, string>();
  const server = http.createServer((req, res) => {
    if (req.url === '/trailers') {
      // Chunked (no length), with trailers: two that travel, two that may not (RFC 9110 §6.5.2).
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum, grpc-status' });
      res.write('chunked ');
      res.addTrailers([['x-checksum', 'abc'], ['grpc-status', '0'], ['content-type', 'text/html'], ['host', 'evil']]);
      res.end('body');
      return;
    }
    if (req.url === '/early') {
      res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('after hints');
      return;
    }
    if (req.url === '/empty') {
      res.writeHead(200, { 'grpc-status': '5', 'content-length': '0' }).end();
      return;
    }
    res.writeHead(404).end();
  });
  // Expect: 100-continue reaches the app, which decides: it refuses /refuse without reading, and
  // asks for the body elsewhere.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/refuse') {
      res.writeHead(417, { 'content-length': '0', connection: 'close' }).end();
      return;
    }
    res.writeContinue();
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.set(req.url ?? '', body);
      if (req.url === '/upload-then-hints') {
        // Another interim head after the 100, then a chunked body with trailers.
        res.writeEarlyHints({ link: '</next.css>; rel=preload' });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('got ');
        res.addTrailers({ 'x-checksum': 'def' });
        res.end(body);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`got ${body}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    bodies,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface H2Seen {
  /** Every event of the stream in order: `interim 103`, `response 200 end-stream`, `data`, `trailers`, `end`. */
  readonly events: string[];
  readonly interim: http2.IncomingHttpHeaders[];
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: string;
  readonly trailers: http2.IncomingHttpHeaders | undefined;
}

/** One HTTP/2 request, recording the frames' meaning as node:http2 reports them. */
function h2Call(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string, waitForContinue = false): Promise<H2Seen> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const events: string[] = [];
    const interim: http2.IncomingHttpHeaders[] = [];
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    let text = '';
    stream.on('headers', (h) => {
      events.push(`interim ${h[':status']}`);
      interim.push(h);
    });
    stream.on('continue', () => {
      if (waitForContinue) stream.end(body);
    });
    stream.on('response', (h, flags) => {
      events.push(`response ${h[':status']}${(flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 ? ' end-stream' : ''}`);
      resHeaders = h;
    });
    stream.on('data', (c: Buffer) => {
      if (c.length > 0 && events.at(-1) !== 'data') events.push('data');
      text += c.toString();
    });
    stream.on('trailers', (t) => {
      events.push('trailers');
      trailers = t;
    });
    stream.on('end', () => {
      events.push('end');
      resolve({ events, interim, headers: resHeaders, body: text, trailers });
    });
    stream.on('error', reject);
    if (body !== undefined && !waitForContinue) stream.end(body);
  });
}

interface H1Seen {
  /** `information 103`, `continue`, `response 200`, in order. */
  readonly events: string[];
  readonly informational: { status: number; headers: http.IncomingHttpHeaders }[];
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly rawTrailers: string[];
}

/** One HTTP/1.1 request through the client sidecar as a proxy (absolute-form). */
function h1Call(url: string, options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string; waitForContinue?: boolean } = {}): Promise<H1Seen> {
  return new Promise((resolve, reject) => {
    const events: string[] = [];
    const informational: H1Seen['informational'] = [];
    const req = http.request({ host: '127.0.0.1', port: client.outboundPort, method: options.method ?? 'GET', path: url, headers: options.headers, agent: false }, (res) => {
      events.push(`response ${res.statusCode}`);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        // A request refused before its body was asked for is never finished: let it go.
        if (!req.writableEnded) req.destroy();
        resolve({ events, informational, status: res.statusCode ?? 0, headers: res.headers, body, rawTrailers: res.rawTrailers });
      });
      res.on('error', reject);
    });
    req.on('information', (info) => {
      events.push(`information ${info.statusCode}`);
      informational.push({ status: info.statusCode, headers: info.headers });
    });
    req.on('continue', () => {
      events.push('continue');
      if (options.waitForContinue) req.end(options.body);
    });
    req.on('error', reject);
    if (!options.waitForContinue) req.end(options.body);
  });
}

let cp: ControlPlaneProcess;
let h2app: App;
let h1app: App;
let client: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  [h2app, h1app] = await Promise.all([startH2ShapesApp(), startH1ShapesApp()]);
  const sidecars = await Promise.all([
    startSidecar(cp.url, 'h2shapes', ['--app-port', String(h2app.port)]),
    startSidecar(cp.url, 'h1shapes', ['--app-port', String(h1app.port)]),
    startSidecar(cp.url, 'client'),
  ]);
  client = sidecars[2];
  for (const s of ['h2shapes', 'h1shapes']) await waitForPassing(cp, s, 1);
  await waitForInSync(cp, 3);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all([h2app?.close(), h1app?.close()]);
  await cp?.cleanup();
});

test('h2: a trailers-only response (gRPC status 5) arrives as one HEADERS frame with END_STREAM', { timeout: 60_000 }, async () => {
  const session = await h2Connect(client.outboundPort);
  try {
    const res = await h2Call(session, { ':method': 'POST', ':path': '/echo.v1.Echo/TrailersOnly', ':authority': 'h2shapes', 'content-type': 'application/grpc', te: 'trailers' }, '\0\0\0\0\0');
    assert.deepEqual(res.events, ['response 200 end-stream', 'end'], 'no DATA frame, no separate trailers');
    assert.equal(res.headers['grpc-status'], '5');
    assert.equal(res.headers['grpc-message'], 'not found');
    assert.equal(res.headers['content-type'], 'application/grpc');
    assert.equal(res.trailers, undefined);
    // The session carries on: the next call on it is whole.
    const next = await h2Call(session, { ':method': 'POST', ':path': '/trailers', ':authority': 'h2shapes', te: 'trailers' }, 'x');
    assert.equal(next.trailers?.['grpc-status'], '0');
  } finally {
    session.close();
  }
});

test('h2: trailers arrive as trailers, without fields that may not travel in a trailer section', { timeout: 60_000 }, async () => {
  const session = await h2Connect(client.outboundPort);
  try {
    const res = await h2Call(session, { ':method': 'POST', ':path': '/trailers', ':authority': 'h2shapes', 'content-type': 'application/grpc', te: 'trailers' }, 'x');
    assert.deepEqual(res.events, ['response 200', 'data', 'trailers', 'end']);
    assert.equal(res.body, 'message');
    assert.equal(res.trailers?.['grpc-status'], '0');
    assert.equal(res.trailers?.['x-checksum'], 'abc');
    assert.equal(res.trailers?.['content-type'], undefined, 'content-type is not a trailer field');
    assert.equal(res.headers['content-type'], 'application/grpc');
  } finally {
    session.close();
  }
});

test('h2: 103 Early Hints and 100 Continue reach the client before the final response', { timeout: 60_000 }, async () => {
  const session = await h2Connect(client.outboundPort);
  try {
    const early = await h2Call(session, { ':method': 'GET', ':path': '/early', ':authority': 'h2shapes' });
    assert.deepEqual(early.events, ['interim 103', 'response 200', 'data', 'end']);
    assert.equal(early.interim[0].link, '</style.css>; rel=preload');
    assert.equal(early.body, 'after hints');

    // The client holds its body until the app's 100 Continue has come back through both sidecars.
    const cont = await h2Call(session, { ':method': 'POST', ':path': '/continue', ':authority': 'h2shapes', expect: '100-continue' }, 'the body', true);
    assert.deepEqual(cont.events, ['interim 100', 'response 200', 'data', 'end']);
    assert.equal(cont.body, 'got the body');
    assert.equal(h2app.bodies.get('/continue'), 'the body');
  } finally {
    session.close();
  }
});

test('h1: chunked trailers reach a client that sent TE: trailers, forbidden fields dropped; not one that did not', { timeout: 60_000 }, async () => {
  const accepting = await h1Call('http://h1shapes/trailers', { headers: { te: 'trailers' } });
  assert.equal(accepting.status, 200);
  assert.equal(accepting.body, 'chunked body');
  assert.equal(accepting.headers['content-type'], 'text/plain');
  assert.deepEqual(accepting.rawTrailers, ['x-checksum', 'abc', 'grpc-status', '0']);

  const plain = await h1Call('http://h1shapes/trailers');
  assert.equal(plain.status, 200);
  assert.equal(plain.body, 'chunked body');
  assert.deepEqual(plain.rawTrailers, [], 'no TE: trailers, no trailers');
});

test('h1: 103 Early Hints reaches the client before the final response; a head without a body ends the response', { timeout: 60_000 }, async () => {
  const early = await h1Call('http://h1shapes/early');
  assert.deepEqual(early.events, ['information 103', 'response 200']);
  assert.equal(early.informational[0].headers.link, '</style.css>; rel=preload');
  assert.equal(early.body, 'after hints');

  const empty = await h1Call('http://h1shapes/empty');
  assert.equal(empty.status, 200);
  assert.equal(empty.headers['grpc-status'], '5');
  assert.equal(empty.headers['content-length'], '0');
  assert.equal(empty.body, '');
});

test('h1: Expect: 100-continue: the app decides, and its 100 (or its refusal) is relayed, not made up by a sidecar', { timeout: 60_000 }, async () => {
  const go = await h1Call('http://h1shapes/upload', { method: 'POST', headers: { expect: '100-continue', 'content-length': '8' }, body: 'the body', waitForContinue: true });
  // One 100 only: neither sidecar sends its own ahead of the app's.
  assert.deepEqual(go.events, ['continue', 'information 100', 'response 200']);
  assert.equal(go.status, 200);
  assert.equal(go.body, 'got the body');
  assert.equal(h1app.bodies.get('/upload'), 'the body');

  // Sidecars hand Expect requests to node:http's server: its responses carry 1xx and trailers too.
  const hints = await h1Call('http://h1shapes/upload-then-hints', { method: 'POST', headers: { expect: '100-continue', 'content-length': '8', te: 'trailers' }, body: 'the body', waitForContinue: true });
  assert.deepEqual(hints.events, ['continue', 'information 100', 'information 103', 'response 200']);
  assert.equal(hints.informational[1].headers.link, '</next.css>; rel=preload');
  assert.equal(hints.body, 'got the body');
  assert.deepEqual(hints.rawTrailers, ['x-checksum', 'def']);

  // The app refuses without asking for the body: the client gets the final status and no 100.
  const refused = await h1Call('http://h1shapes/refuse', { method: 'POST', headers: { expect: '100-continue', 'content-length': '8' }, body: 'the body', waitForContinue: true });
  assert.deepEqual(refused.events, ['response 417']);
  assert.equal(h1app.bodies.has('/refuse'), false);
});

test('h1: an HTTP/1.0 client is sent no interim response, only the final one', { timeout: 60_000 }, async () => {
  // HTTP/1.0 defines no 1xx (RFC 9110 §15.2): the 103 the app sends stops at the client sidecar.
  const socket = net.connect(client.outboundPort, '127.0.0.1');
  let raw = '';
  socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
  socket.write('GET http://h1shapes/early HTTP/1.0\r\nHost: h1shapes\r\n\r\n');
  await new Promise<void>((resolve, reject) => {
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.1 200 /, 'the first line is the final status');
  assert.doesNotMatch(raw, /\b103\b|Early Hints/i);
  assert.ok(raw.endsWith('after hints'));
});

// Bar: no request byte that a sidecar did not frame itself reaches an app, and no second request
// appears there. The request-smuggling literature (CL.TE, TE.CL, TE.TE obfuscations, duplicate
// lengths, header-name tricks, bare LF, chunk-size tricks, pipelining behind a bad request) is sent
// as raw bytes to both listeners (the client sidecar's outbound port, the server sidecar's inbound
// port in plaintext), and the assertions are on what the app received, byte for byte.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll, waitFor } from '../support/processes.ts';

/** What the app got: every byte, and the requests node:http reads from them. */
interface RecordingApp {
  readonly port: number;
  /** All bytes received on all connections, latin1, in arrival order per connection. */
  bytes(): string;
  readonly requests: { method: string; url: string; body: string }[];
  /** What node:http could not parse (the error codes): a framing error between sidecar and app. */
  readonly parseErrors: string[];
  close(): Promise<void>;
}

async function startRecordingApp(): Promise<RecordingApp> {
  const connections: Buffer[][] = [];
  const requests: RecordingApp['requests'] = [];
  const parser = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    const entry = { method: req.method ?? '', url: req.url ?? '', body: '' };
    if (req.url !== '/healthz') requests.push(entry);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      entry.body = Buffer.concat(chunks).toString('latin1');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  const app: RecordingApp = {
    port: 0,
    bytes: () => connections.map((c) => Buffer.concat(c).toString('latin1')).join('\n--- connection ---\n'),
    requests,
    parseErrors: [],
    close: () => new Promise((resolve) => {
      raw.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
  parser.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    app.parseErrors.push(err.code ?? 'unknown');
    socket.destroy();
  });
  const sockets = new Set<net.Socket>();
  // A raw server records the bytes, then hands them to node:http through an in-memory stream
  // (node:http reads a real socket's handle directly, past any 'data' listener).
  const raw = net.createServer((socket) => {
    const received: Buffer[] = [];
    connections.push(received);
    sockets.add(socket);
    const inner = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (socket.writable) socket.write(chunk, callback);
        else callback();
      },
      final(callback) {
        socket.end();
        callback();
      },
      destroy(_err, callback) {
        socket.destroy();
        callback(null);
      },
    });
    Object.defineProperty(inner, 'remoteAddress', { value: socket.remoteAddress });
    socket.on('data', (d: Buffer) => {
      received.push(d);
      inner.push(d);
    });
    socket.on('end', () => inner.push(null));
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      inner.destroy();
    });
    parser.emit('connection', inner);
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', () => resolve()));
  return Object.assign(app, { port: (raw.address() as net.AddressInfo).port });
}

/** Sends raw bytes; resolves with what came back, once a whole response is in or the peer closed. */
function rawExchange(port: number, bytes: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (): void => {
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text });
    };
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = text.slice(0, headEnd);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (length && text.length >= headEnd + 4 + Number(length[1])) done();
      else if (/\r\ntransfer-encoding: *chunked/i.test(head) && text.endsWith('\r\n0\r\n\r\n')) done();
    });
    socket.on('error', () => {});
    socket.on('close', done);
    socket.write(bytes, 'latin1');
  });
}

interface HostileCase {
  readonly name: string;
  /** The bytes, with @@@ standing for the case's three-character marker (so each case's traces are its own; lengths hold). */
  readonly bytes: string;
  /**
   * `refused`: the sidecar answers 400 and nothing of the request reaches the app.
   * `one`: exactly one request reaches the app, framed by the sidecar, its body (SMUGGLED, a
   * request's text) whole: it is body.
   * `cut`: the head was fine and went on, the body was malformed: the app may see the one request,
   * cut short, and never anything after it.
   * `two`: the bytes are two requests by any reading; both reach the app, each framed by the sidecar.
   */
  readonly expect: 'refused' | 'one' | 'cut' | 'two';
  readonly todo?: string;
}

const SMUGGLED = 'GET /smuggled/@@@ HTTP/1.1\r\nHost: orders\r\n\r\n';
const H = 'Host: orders\r\n';
/** A chunked body that, read by its Content-Length instead, leaves SMUGGLED behind it. */
const CHUNKED_THEN_SMUGGLED = `0\r\n\r\n${SMUGGLED}`;

const CASES: HostileCase[] = [
  // CL.TE and TE.CL: both framings in one request.
  { name: 'CL.TE', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length: ${CHUNKED_THEN_SMUGGLED.length}\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_THEN_SMUGGLED}`, expect: 'refused' },
  { name: 'TE.CL', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n${SMUGGLED}\r\n0\r\n\r\n`, expect: 'refused' },
  // TE.TE: obfuscated Transfer-Encoding, with a Content-Length a lenient hop would fall back on.
  ...[
    'Transfer-Encoding: xchunked',
    'Transfer-Encoding: chunked, identity',
    'Transfer-Encoding: identity, chunked',
    'Transfer-Encoding: chunked\r\nTransfer-Encoding: x',
    'Transfer-Encoding : chunked',
    'Transfer-Encoding\t: chunked',
    'Transfer-Encoding: x\r\n chunked',
    'X: y\r\n Transfer-Encoding: chunked',
    'Transfer-Encoding: "chunked"',
    'Transfer-Encoding: chunk\x0bed',
    'Transfer-Encoding\x00: chunked',
  ].map((te): HostileCase => ({ name: `TE.TE ${JSON.stringify(te)} with Content-Length`, bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}${te}\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`, expect: 'refused' })),
  // Not Transfer-Encoding at all (a token with '_'): the length frames the body, and what follows
  // is the client's second request, which the sidecar frames as its own.
  { name: 'Transfer_Encoding (underscore) with Content-Length', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`, expect: 'two' },
  { name: 'TE.TE "xchunked" alone', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'TE.TE "chunked, identity" alone', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  // Whitespace a hop may or may not trim: valid chunked for weft (RFC 9110 §5.5 OWS), so the body
  // is the body, re-framed by the sidecar.
  { name: 'Transfer-Encoding: " chunked" (OWS)', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding:  chunked\r\n\r\n${(SMUGGLED.length).toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`, expect: 'one' },
  { name: 'Transfer-Encoding:<HTAB>chunked', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding:\tchunked\r\n\r\n${(SMUGGLED.length).toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`, expect: 'one' },
  // Content-Length tricks.
  { name: 'duplicate conflicting Content-Length', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'Content-Length list', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length: 0, ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'Content-Length 0 and 000', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: 000\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'Content-Length with +', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length: +0\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'Content-Length with an inner space', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length: 0 ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'Content-Length negative', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'Content-Length hex', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length: 0x0\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'Content-Length obs-fold', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length: 0\r\n ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  // Header-name tricks.
  { name: 'space before the colon of Content-Length', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length : ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'NUL in a header name', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content-Length\x00: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'non-token byte in a header name', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Content(Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'NUL in a header value', bytes: `GET /hostile/@@@ HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, expect: 'refused' },
  { name: 'bare CR in a header value', bytes: `GET /hostile/@@@ HTTP/1.1\r\n${H}X-A: a\rContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  // Line endings.
  { name: 'bare LF line endings', bytes: `POST /hostile/@@@ HTTP/1.1\nHost: orders\nContent-Length: ${SMUGGLED.length}\n\n${SMUGGLED}`, expect: 'refused' },
  { name: 'a bare LF hiding a Transfer-Encoding line', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}X-A: a\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  // Chunk sizes and extensions: the head went on, the body is cut there.
  { name: 'chunk size that overflows 64 bits to 0', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n\r\n${SMUGGLED}`, expect: 'cut' },
  { name: 'chunk size with a sign', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n+0\r\n\r\n${SMUGGLED}`, expect: 'cut' },
  { name: 'chunk size in 0x form', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n${SMUGGLED}`, expect: 'cut' },
  { name: 'space after a chunk size', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0 \r\n\r\n${SMUGGLED}`, expect: 'cut' },
  { name: 'bare LF in a chunk extension', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n${SMUGGLED}`, expect: 'cut' },
  { name: 'control byte in a chunk extension', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0;a=\x01\r\n\r\n${SMUGGLED}`, expect: 'cut' },
  { name: 'chunk data longer than its size', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n${SMUGGLED}`, expect: 'cut' },
  { name: 'bare LF after chunk data', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\na\n0\r\n\r\n${SMUGGLED}`, expect: 'cut' },
  // A valid chunked body whose data looks like a request is body.
  { name: 'chunked body carrying a request, with a quoted extension', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${(SMUGGLED.length).toString(16)};ext="a b"\r\n${SMUGGLED}\r\n0\r\n\r\n`, expect: 'one' },
  // Pipelined requests behind a bad one never reach the app.
  { name: 'a request pipelined behind a bad request line', bytes: `GET /hostile/@@@ HTTP/1.1 x\r\n${H}\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'a request pipelined behind a duplicate Host', bytes: `GET /hostile/@@@ HTTP/1.1\r\n${H}Host: other\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'a request pipelined behind a method PRI', bytes: `PRI /hostile/@@@ HTTP/1.1\r\n${H}\r\n${SMUGGLED}`, expect: 'refused' },
  // Issue 10, class 1: framing survives hop-by-hop handling.
  { name: 'Connection: content-length', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Connection: content-length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, expect: 'refused' },
  { name: 'Connection: transfer-encoding', bytes: `POST /hostile/@@@ HTTP/1.1\r\n${H}Connection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n${(SMUGGLED.length).toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`, expect: 'refused' },
];

let cp: ControlPlaneProcess;
let app: RecordingApp;
let orders: SidecarProcess;
let web: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  app = await startRecordingApp();
  orders = await startSidecar(cp.url, 'orders', ['--app-port', String(app.port), '--health-path', '/healthz']);
  web = await startSidecar(cp.url, 'web');
  await waitForPassing(cp, 'orders', 1);
  await waitForInSync(cp, 2);
});

after(async () => {
  await stopAll();
  await app?.close();
  await cp?.cleanup();
});

/** A plain request through the same listener: once it is in, earlier bytes on the path are too. */
async function sentinel(port: number, id: string): Promise<void> {
  const r = await rawExchange(port, `GET /sentinel/${id} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.equal(r.status, 200, `the sentinel after ${id} passes: ${r.text.slice(0, 200)}`);
  await waitFor(`sentinel ${id} at the app`, () => app.requests.some((q) => q.url === `/sentinel/${id}`));
}

let n = 0;
for (const listener of ['outbound', 'inbound'] as const) {
  for (const c of CASES) {
    test(`${listener}: ${c.name}`, { todo: c.todo }, async () => {
      const id = `${listener[0]}${String(++n).padStart(2, '0')}`;
      const port = listener === 'outbound' ? web.outboundPort : orders.inboundPort!;
      const errorsBefore = app.parseErrors.length;
      const reply = await rawExchange(port, c.bytes.replaceAll('@@@', id));
      await sentinel(port, id);

      const mine = app.requests.filter((q) => q.url === `/hostile/${id}` || q.url === `/smuggled/${id}`);
      const bytes = app.bytes();
      // A request cut short (`cut`) ends its upstream connection mid-body: the app's parser sees the
      // end of the connection there, and nothing else.
      const errors = app.parseErrors.slice(errorsBefore).filter((code) => c.expect !== 'cut' || code !== 'HPE_INVALID_EOF_STATE');
      assert.deepEqual(errors, [], 'node:http read everything the sidecars sent the app');
      if (c.expect !== 'two') assert.deepEqual(mine.filter((q) => q.url.startsWith('/smuggled/')), [], 'no smuggled request reached the app');
      if (c.expect === 'refused') {
        assert.equal(reply.status, 400, `refused: ${reply.text.slice(0, 200)}`);
        assert.equal(mine.length, 0, 'nothing of the request reached the app');
        assert.ok(!bytes.includes(`/hostile/${id} `) && !bytes.includes(`/smuggled/${id} `), 'not one byte of it, either');
      } else if (c.expect === 'one') {
        assert.equal(reply.status, 200, reply.text.slice(0, 200));
        assert.deepEqual(mine.map((q) => [q.url, q.body]), [[`/hostile/${id}`, SMUGGLED.replaceAll('@@@', id)]], 'exactly the one request, its body whole');
      } else if (c.expect === 'two') {
        assert.equal(reply.status, 200, reply.text.slice(0, 200));
        await waitFor('the second request at the app', () => app.requests.some((q) => q.url === `/smuggled/${id}`));
        assert.deepEqual(app.requests.filter((q) => q.url === `/hostile/${id}` || q.url === `/smuggled/${id}`).map((q) => [q.url, q.body]), [[`/hostile/${id}`, '0\r\n\r\n'], [`/smuggled/${id}`, '']]);
      } else {
        assert.ok(mine.length <= 1, 'at most the one request, cut short');
        assert.ok(!bytes.includes(`/smuggled/${id} `), 'nothing after the cut');
        assert.ok(reply.status === 400 || reply.status === 0 || reply.status === 502, `the client learns it failed: ${reply.text.slice(0, 200)}`);
      }
    });
  }
}

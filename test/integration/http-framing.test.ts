// Bar (issue 10, classes 1, 3, 7, 8): raw bytes sent to real sidecars, asserting on the bytes the
// app received: a Connection naming the framing never lets a body travel unframed (either listener,
// two sidecars, past a DENY policy), a request target is judged and forwarded as one origin-form
// value, a 204 carries no Content-Length, an HTTP/0.9 line is answered 400 at once, and `weft apply`
// of a YAML alias bomb is bad input with an error code and no stack trace.

import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll, tempDir } from '../support/processes.ts';
import { hasStackTrace, runWeft, writeFixture } from '../support/cli.ts';
import { h2Connect, h2Request } from '../support/h2.ts';

/**
 * The app: node:http answers (method, path and body it read, as JSON), behind a TCP relay that
 * records every byte the sidecar sent, so a test sees what reached the app, not what the app made of it.
 */
interface RecordingApp {
  readonly port: number;
  /** Every byte received since the last reset, in arrival order (latin1). */
  received(): string;
  reset(): void;
  close(): Promise<void>;
}

async function startRecordingApp(): Promise<RecordingApp> {
  const app = http.createServer((req, res) => {
    if (req.url === '/no-content') {
      // An app that gets 204 wrong: a length and a body it may not send (RFC 9110 §8.6).
      req.socket.end('HTTP/1.1 204 No Content\r\ncontent-length: 5\r\nx-app: yes\r\n\r\nhello');
      return;
    }
    if (req.url === '/connection-names-length') {
      req.socket.end('HTTP/1.1 200 OK\r\nConnection: content-length, x-hop\r\nx-hop: 1\r\nContent-Length: 5\r\n\r\nhello');
      return;
    }
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const text = JSON.stringify({ method: req.method, url: req.url, body });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as net.AddressInfo).port;
  let log = '';
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((inbound) => {
    const outbound = net.connect(appPort, '127.0.0.1');
    sockets.add(inbound).add(outbound);
    inbound.on('data', (d: Buffer) => {
      log += d.toString('latin1');
      outbound.write(d);
    });
    outbound.pipe(inbound);
    for (const s of [inbound, outbound]) {
      s.on('error', () => {});
      s.on('close', () => {
        inbound.destroy();
        outbound.destroy();
        sockets.delete(s);
      });
    }
    inbound.on('end', () => outbound.end());
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  return {
    port: (relay.address() as net.AddressInfo).port,
    received: () => log,
    reset: () => {
      log = '';
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      relay.close();
      app.close();
      app.closeAllConnections();
    },
  };
}

interface RawResponse {
  status: number;
  /** Names lower-cased; a repeated name keeps its last value. */
  headers: Record<string, string>;
  /** The head as it came, status line included. */
  head: string;
  body: string;
}

/**
 * Writes `bytes` on a new connection and reads `count` responses (a length-framed, chunked or
 * bodiless one each; the 2xx answer to a CONNECT is bodiless), or what came before the close.
 * `then`: more bytes, written after the first response (a tunnel's content).
 */
async function rawExchange(port: number, bytes: string, count = 1, then?: string): Promise<{ responses: RawResponse[]; rest: string }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  let buf = '';
  const responses: RawResponse[] = [];
  let connect = bytes.startsWith('CONNECT ');
  return new Promise((resolve) => {
    const finish = (): void => {
      socket.destroy();
      resolve({ responses, rest: buf });
    };
    const parse = (): void => {
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        const lines = head.split('\r\n');
        const status = Number(lines[0].split(' ')[1]);
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        let bodyEnd: number;
        let body = '';
        const from = end + 4;
        if (status < 200 || status === 204 || status === 304 || (connect && status < 300)) {
          bodyEnd = from;
        } else if (headers['transfer-encoding'] === 'chunked') {
          const last = buf.indexOf('0\r\n\r\n', from);
          if (last < 0) return;
          bodyEnd = last + 5;
          body = buf.slice(from, bodyEnd);
        } else if (headers['content-length'] !== undefined) {
          bodyEnd = from + Number(headers['content-length']);
          if (buf.length < bodyEnd) return;
          body = buf.slice(from, bodyEnd);
        } else {
          return; // to the close
        }
        responses.push({ status, headers, head, body });
        buf = buf.slice(bodyEnd);
        if (connect) {
          connect = false;
          if (then !== undefined) socket.write(then, 'latin1');
        }
        if (responses.length === count) return finish();
      }
    };
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      parse();
    });
    socket.on('close', () => {
      if (responses.length < count && buf.includes('\r\n\r\n')) {
        // A close-delimited body.
        const end = buf.indexOf('\r\n\r\n');
        const lines = buf.slice(0, end).split('\r\n');
        responses.push({ status: Number(lines[0].split(' ')[1]), headers: {}, head: buf.slice(0, end), body: buf.slice(end + 4) });
        buf = '';
      }
      finish();
    });
    socket.write(bytes, 'latin1');
  });
}

let cp: ControlPlaneProcess;
let app: RecordingApp;
let orders: SidecarProcess;
let web: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  app = await startRecordingApp();
  orders = await startSidecar(cp.url, 'orders', ['--app-port', String(app.port)]);
  web = await startSidecar(cp.url, 'web');
  await waitForPassing(cp, 'orders', 1);
  await waitForInSync(cp, 2);
  const r = await cp.api('POST', '/v1/apply', { items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'no-admin', namespace: 'default' }, spec: { targetRefs: [{ kind: 'Service', name: 'orders' }], action: 'DENY', rules: [{ to: [{ paths: ['/admin/*', '/admin'] }] }] } }] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 2);
});

beforeEach(() => app.reset());

after(async () => {
  await stopAll();
  await app?.close();
  await cp?.cleanup();
});

/** The request the issue found: its body is a second request, 38 bytes, that must never reach the app as one. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: echo\r\n\r\n';
const smuggle = (host: string, connection: string, inner = SMUGGLED, version = '1.1'): string => `POST /x HTTP/${version}\r\nHost: ${host}\r\nConnection: ${connection}\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`;

/** The request lines that reached the app since the last reset (health probes included). */
const requestLines = (): string[] => app.received().split('\r\n').filter((l) => /^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(l));

test('the control: an ordinary request through both sidecars reaches the app framed, and DENY holds', async () => {
  const ok = await rawExchange(web.outboundPort, 'POST /public HTTP/1.1\r\nHost: orders\r\nContent-Length: 5\r\n\r\nhello');
  assert.equal(ok.responses[0].status, 200);
  assert.deepEqual(JSON.parse(ok.responses[0].body), { method: 'POST', url: '/public', body: 'hello' });
  const log = app.received();
  const [head, body] = log.slice(log.indexOf('POST /public')).split('\r\n\r\n');
  assert.match(head, /^POST \/public HTTP\/1\.1\r\n/);
  assert.match(head, /\r\ncontent-length: 5(\r\n|$)/i);
  assert.ok(body.startsWith('hello'), log);
  const denied = await rawExchange(web.outboundPort, 'GET /admin/secret HTTP/1.1\r\nHost: orders\r\n\r\n');
  assert.equal(denied.responses[0].status, 403);
  assert.ok(!app.received().includes('/admin'), 'a denied request never reaches the app');
});

test('Connection: content-length (or transfer-encoding, host) is a 400 on the inbound listener; nothing reaches the app', async () => {
  for (const connection of ['content-length', 'keep-alive, Content-Length', 'transfer-encoding', 'host']) {
    for (const version of ['1.1', '1.0']) {
      const r = await rawExchange(orders.inboundPort!, smuggle('orders', connection, SMUGGLED, version));
      assert.equal(r.responses[0]?.status, 400, `${connection} HTTP/${version}`);
      assert.equal(r.responses[0].headers['x-weft-reason'], 'bad-request');
    }
  }
  assert.ok(!app.received().includes('/smuggled'), app.received());
  assert.ok(!requestLines().includes('POST /x HTTP/1.1'), app.received());
});

test('the same on the outbound listener, also for node:http’s path (a request inside a CONNECT tunnel)', async () => {
  for (const connection of ['content-length', 'transfer-encoding', 'close, host']) {
    const r = await rawExchange(web.outboundPort, smuggle('orders', connection));
    assert.equal(r.responses[0]?.status, 400, connection);
    assert.equal(r.responses[0].headers['x-weft-reason'], 'bad-request');
  }
  // Node's fetch through HTTP_PROXY tunnels with CONNECT; the HTTP inside is read by node:http.
  const tunnelled = await rawExchange(web.outboundPort, 'CONNECT orders:80 HTTP/1.1\r\nHost: orders:80\r\n\r\n', 2, smuggle('orders', 'content-length'));
  assert.equal(tunnelled.responses[0]?.status, 200);
  assert.equal(tunnelled.responses[1]?.status, 400);
  assert.equal(tunnelled.responses[1].headers['x-weft-reason'], 'bad-request');
  assert.ok(!app.received().includes('/smuggled'), app.received());
  assert.ok(!requestLines().includes('POST /x HTTP/1.1'), app.received());
});

test('chained through two sidecars, a smuggled GET /admin never gets past the DENY policy', async () => {
  const inner = 'GET /admin/secret HTTP/1.1\r\nHost: orders\r\n\r\n';
  const r = await rawExchange(web.outboundPort, `POST /public HTTP/1.1\r\nHost: orders\r\nConnection: content-length\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`, 2);
  assert.equal(r.responses[0]?.status, 400);
  assert.equal(r.responses.length, 1, 'the connection closes after the 400: nothing after it is read as a request');
  assert.ok(!app.received().includes('/admin'), app.received());
});

test('a request target is judged and forwarded as one origin-form value', async () => {
  // No leading slash: no form allows it.
  for (const port of [web.outboundPort, orders.inboundPort!]) {
    const r = await rawExchange(port, 'GET admin/secret HTTP/1.1\r\nHost: orders\r\n\r\n');
    assert.equal(r.responses[0]?.status, 400);
    assert.equal(r.responses[0].headers['x-weft-reason'], 'bad-request');
    const fragment = await rawExchange(port, 'GET /public#frag HTTP/1.1\r\nHost: orders\r\n\r\n');
    assert.equal(fragment.responses[0]?.status, 400, 'a fragment never travels');
  }
  // An upper-case scheme is still absolute-form: reduced to /admin, and denied as /admin.
  for (const port of [web.outboundPort, orders.inboundPort!]) {
    for (const target of ['HTTP://orders/admin', 'HtTp://orders/admin/secret?x=1']) {
      // HTTP/1.0 is read by node:http, not the lean parser: the same rule.
      for (const version of ['1.1', '1.0']) {
        const r = await rawExchange(port, `GET ${target} HTTP/${version}\r\nHost: orders\r\n\r\n`);
        assert.equal(r.responses[0]?.status, 403, `${target} HTTP/${version} on port ${port}`);
        assert.equal(r.responses[0].headers['x-weft-reason'], 'authz-denied');
      }
    }
  }
  // An upgrade request is judged by the same target.
  for (const port of [web.outboundPort, orders.inboundPort!]) {
    const r = await rawExchange(port, 'GET HTTP://orders/admin/ws HTTP/1.1\r\nHost: orders\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    assert.equal(r.responses[0]?.status, 403, `upgrade on port ${port}`);
  }
  assert.ok(!app.received().includes('admin'), app.received());
  // An allowed absolute-form target reaches the app in origin-form, its authority as Host.
  const ok = await rawExchange(web.outboundPort, 'GET HTTPS://orders/public?q=1 HTTP/1.1\r\nHost: elsewhere\r\n\r\n');
  assert.equal(ok.responses[0]?.status, 200);
  assert.equal(JSON.parse(ok.responses[0].body).url, '/public?q=1');
  assert.ok(requestLines().includes('GET /public?q=1 HTTP/1.1'), app.received());
  assert.ok(requestLines().every((l) => !l.includes('://')), `no absolute-form reaches the app: ${app.received()}`);
});

test('HTTP/2: a :path with a fragment is refused by the same rule (nghttp2 passes it on)', async () => {
  for (const port of [web.outboundPort, orders.inboundPort!]) {
    const session = await h2Connect(port);
    try {
      const r = await h2Request(session, { ':method': 'GET', ':path': '/admin#x', ':authority': 'orders' });
      assert.equal(r.headers[':status'], 400, `port ${port}`);
      assert.equal(r.headers['x-weft-reason'], 'bad-request');
    } finally {
      session.close();
    }
  }
});

test('an app’s 204 with a Content-Length and a body: the client gets neither, and the connection stays in step', async () => {
  const r = await rawExchange(web.outboundPort, 'GET /no-content HTTP/1.1\r\nHost: orders\r\n\r\nGET /after HTTP/1.1\r\nHost: orders\r\n\r\n', 2);
  assert.equal(r.responses[0]?.status, 204);
  assert.equal(r.responses[0].headers['x-app'], 'yes');
  assert.equal(r.responses[0].headers['content-length'], undefined, r.responses[0].head);
  assert.equal(r.responses[0].headers['transfer-encoding'], undefined, r.responses[0].head);
  assert.equal(r.responses[1]?.status, 200, 'the next response is read as one, not after a stray body');
  assert.equal(JSON.parse(r.responses[1].body).url, '/after');
  // Straight to the inbound listener too.
  const direct = await rawExchange(orders.inboundPort!, 'GET /no-content HTTP/1.1\r\nHost: orders\r\n\r\n');
  assert.equal(direct.responses[0]?.status, 204);
  assert.equal(direct.responses[0].headers['content-length'], undefined, direct.responses[0].head);
});

test('a response whose Connection names Content-Length keeps its length through both sidecars', async () => {
  const r = await rawExchange(web.outboundPort, 'GET /connection-names-length HTTP/1.1\r\nHost: orders\r\n\r\n');
  assert.equal(r.responses[0]?.status, 200);
  assert.equal(r.responses[0].headers['content-length'], '5', r.responses[0].head);
  assert.equal(r.responses[0].headers['x-hop'], undefined, 'the other field it names stays on its hop');
  assert.equal(r.responses[0].body, 'hello');
});

test('a Host that is not host[:port] (a path, a user) is a 400 on both listeners and never reaches the app', async () => {
  for (const host of ['orders/admin', 'x@orders', 'orders:80/x', 'ord ers']) {
    for (const port of [web.outboundPort, orders.inboundPort!]) {
      const r = await rawExchange(port, `GET /ok-host HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(r.responses[0]?.status, 400, `Host: ${host} on port ${port}`);
      assert.equal(r.responses[0].headers['x-weft-reason'], 'bad-request');
    }
  }
  assert.ok(!app.received().includes('/ok-host'), app.received());
});

test('an HTTP/0.9 request line is answered 400 as it ends, on both listeners', async () => {
  for (const port of [web.outboundPort, orders.inboundPort!]) {
    // Nothing follows the line: the reply has to come without a head timeout.
    const r = await rawExchange(port, 'GET /\r\n');
    assert.equal(r.responses[0]?.status, 400);
    assert.equal(r.responses[0].headers['x-weft-reason'], 'bad-request');
  }
  assert.ok(!requestLines().some((l) => l.startsWith('GET / ')), app.received());
});

test('weft apply of a YAML alias bomb is bad input: an error code and where, no stack trace', async () => {
  const dir = await tempDir('weft-framing-');
  try {
    let bomb = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    for (let d = 1; d <= 9; d++) bomb += `a${d}: &a${d} [${Array(9).fill(`*a${d - 1}`).join(',')}]\n`;
    const file = await writeFixture(dir.path, 'bomb.yaml', bomb);
    for (const verb of ['apply', 'delete']) {
      const r = await runWeft([verb, '-f', file], { control: cp.url });
      assert.equal(r.code, 1, `${verb}: ${r.stderr}`);
      assert.ok(r.stderr.includes('[WEFT_ERR_CLI_YAML_ALIASES]'), r.stderr);
      assert.ok(r.stderr.includes(`${file}:2:`), `names the file and line: ${r.stderr}`);
      assert.ok(!hasStackTrace(r.stderr), r.stderr);
    }
  } finally {
    await dir.remove();
  }
});

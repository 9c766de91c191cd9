// Bar (issue 10, class 2): an upgrade is a tunnel only after the app says 101. Until then the
// sidecars keep speaking HTTP on the client's connection, so every later request is authorized,
// cleaned up and given identity headers; a non-101 answer is an ordinary response; a 101 nobody
// asked for is a 502; bytes a client sends early reach the app only after its 101.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll, waitFor } from '../support/processes.ts';
import { wsAccept } from '../support/ws.ts';

/** One request head as the app read it: the request line and fields (names lower case). */
interface Seen {
  readonly line: string;
  readonly headers: Record<string, string>;
}

interface GateApp {
  readonly port: number;
  /** Every request head the app read, in order, across all connections. */
  readonly seen: Seen[];
  /** For each upgrade to /ws-slow: the bytes that arrived after its head and before the app's 101. */
  readonly early: string[];
  close(): Promise<void>;
}

/** How long /ws-slow holds its 101: time for bytes a faulty proxy sent on at once to arrive first. */
const SLOW_101_MS = 300;

/**
 * An HTTP/1.1 app on a raw socket, so that it can do what node:http cannot: keep a connection on
 * which it refused an upgrade, answer 101 unasked, and show every byte it received.
 * - an upgrade to /public…: `426 Upgrade Required`, and the connection stays open;
 * - an upgrade to /ws: 101 (with Sec-WebSocket-Accept), then it echoes every byte;
 * - an upgrade to /ws-slow: the same after SLOW_101_MS, noting what arrived meanwhile;
 * - /unasked: a 101 that no request asked for; an upgrade to /ws-other: a 101 to a protocol not offered;
 * - anything else: 200 `ok METHOD PATH`.
 * Requests carry no body (the tests send none).
 */
async function startGateApp(): Promise<GateApp> {
  const seen: Seen[] = [];
  const early: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let mode: 'http' | 'waiting' | 'tunnel' = 'http';
    const switchTo = (key: string): void => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(key)}\r\n\r\n`);
      mode = 'tunnel';
      if (buf.length > 0) socket.write(buf);
      buf = Buffer.alloc(0);
    };
    const serve = (): void => {
      let end: number;
      while (mode === 'http' && (end = buf.indexOf('\r\n\r\n')) !== -1) {
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        buf = buf.subarray(end + 4);
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const colon = l.indexOf(':');
          const name = l.slice(0, colon).toLowerCase();
          const value = l.slice(colon + 1).trim();
          headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
        }
        const line = lines[0];
        seen.push({ line, headers });
        const path = line.split(' ')[1] ?? '';
        const upgrade = headers.upgrade !== undefined && /\bupgrade\b/i.test(headers.connection ?? '');
        if (upgrade && path.startsWith('/public')) {
          socket.write('HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 16\r\n\r\nupgrade required');
        } else if (upgrade && path === '/ws') {
          switchTo(headers['sec-websocket-key']);
        } else if (upgrade && path === '/ws-slow') {
          mode = 'waiting';
          setTimeout(() => {
            early.push(buf.toString('latin1'));
            switchTo(headers['sec-websocket-key']);
          }, SLOW_101_MS);
        } else if (path === '/unasked' || (upgrade && path === '/ws-other')) {
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${path === '/unasked' ? 'websocket' : 'other'}\r\nConnection: Upgrade\r\n\r\n`);
          mode = 'tunnel';
        } else {
          const body = `ok ${line.split(' ').slice(0, 2).join(' ')}`;
          socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        }
      }
    };
    socket.on('data', (d: Buffer) => {
      if (mode === 'tunnel') {
        socket.write(d);
        return;
      }
      buf = Buffer.concat([buf, d]);
      serve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    early,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A client connection that writes raw bytes and reads responses (Content-Length framed) or raw bytes. */
class RawClient {
  readonly socket: net.Socket;
  #buf = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  closed = false;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#wake?.();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.#wake?.();
    });
    this.socket.on('error', () => {});
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  async #until(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!ready()) {
      if (this.closed) throw new Error(`connection closed while waiting for ${what}; got ${JSON.stringify(this.#buf.toString('latin1'))}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.#buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The next response: head, then a Content-Length body (none for 1xx). */
  async response(): Promise<Reply> {
    await this.#until(() => this.#buf.includes('\r\n\r\n'), 'a response head');
    const end = this.#buf.indexOf('\r\n\r\n');
    const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const status = Number(lines[0].split(' ')[1]);
    const length = status < 200 ? 0 : Number(headers['content-length'] ?? 0);
    assert.equal(headers['transfer-encoding'], undefined, 'these responses are Content-Length framed');
    await this.#until(() => this.#buf.length >= end + 4 + length, 'a response body');
    const body = this.#buf.subarray(end + 4, end + 4 + length).toString('latin1');
    this.#buf = this.#buf.subarray(end + 4 + length);
    return { status, headers, body };
  }

  /** Exactly `n` raw bytes (after any response read before). */
  async bytes(n: number): Promise<Buffer> {
    await this.#until(() => this.#buf.length >= n, `${n} bytes`);
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** A WebSocket handshake request (RFC 6455 §4.1), with `extra` fields. */
function upgradeRequest(path: string, host: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** A masked client text frame (RFC 6455 §5.2), payload under 126 bytes. */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

let cp: ControlPlaneProcess;
let app: GateApp;
let gate: SidecarProcess;
let client: SidecarProcess;

before(async () => {
  cp = await startControlPlane();
  app = await startGateApp();
  [gate, client] = await Promise.all([startSidecar(cp.url, 'gate', ['--app-port', String(app.port)]), startSidecar(cp.url, 'client')]);
  await waitForPassing(cp, 'gate', 1);
  const r = await cp.api('POST', '/v1/apply', {
    items: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'no-admin', namespace: 'default' }, spec: { targetRefs: [{ kind: 'Service', name: 'gate' }], action: 'DENY', rules: [{ to: [{ paths: ['/admin/*'] }] }] } }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, 2);
  // The client sidecar knows gate's endpoint (and so calls it in mutual TLS).
  await waitFor('the client sidecar to reach gate', async () => {
    const c = new RawClient(client.outboundPort);
    c.send('GET /ready-probe HTTP/1.1\r\nHost: gate\r\nConnection: close\r\n\r\n');
    const res = await c.response().catch(() => undefined);
    c.destroy();
    return res?.status === 200;
  });
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await app?.close();
  await cp?.cleanup();
});

/** The requests the app read after `from` (an index into app.seen). */
const seenSince = (from: number): Seen[] => app.seen.slice(from);

for (const [where, port, host] of [
  ['through the client sidecar (mutual TLS between sidecars)', () => client.outboundPort, 'gate'],
  ['straight to the inbound port (plaintext)', () => gate.inboundPort!, 'gate'],
] as const) {
  test(`a refused upgrade (426) leaves the connection speaking HTTP: a later /admin request is denied, ${where}`, { timeout: 60_000 }, async () => {
    const from = app.seen.length;
    const c = new RawClient(port());
    try {
      c.send(upgradeRequest('/public', host, 'X-Forwarded-Client-Cert: URI=spiffe://weft.local/ns/default/svc/forged\r\n'));
      const refused = await c.response();
      assert.equal(refused.status, 426);
      assert.equal(refused.body, 'upgrade required');
      // The example: half a second later, on the same connection.
      await new Promise((r) => setTimeout(r, 500));
      c.send(`GET /admin/secret HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const denied = await c.response();
      assert.equal(denied.status, 403);
      assert.equal(denied.headers['x-weft-reason'], 'authz-denied');
      assert.deepEqual(seenSince(from).map((s) => s.line), ['GET /public HTTP/1.1'], 'the app never received /admin/secret');
      // Identity on the upgrade request: the one the caller proved, or none from a plaintext caller.
      const xfcc = seenSince(from)[0].headers['x-forwarded-client-cert'];
      if (port() === gate.inboundPort) assert.equal(xfcc, undefined);
      else assert.equal(xfcc, 'By=spiffe://weft.local/ns/default/svc/gate;URI=spiffe://weft.local/ns/default/svc/client');
    } finally {
      c.destroy();
    }
  });
}

test('after a refused upgrade the next request goes through the whole per-request path: authorized, cleaned up, identity headers', { timeout: 60_000 }, async () => {
  const from = app.seen.length;
  const c = new RawClient(client.outboundPort);
  try {
    c.send(upgradeRequest('/public/chat', 'gate', 'Keep-Alive: timeout=5\r\nX-Weft-Source: forged.default\r\nX-Forwarded-Client-Cert: URI=spiffe://weft.local/ns/default/svc/admin\r\n'));
    assert.equal((await c.response()).status, 426);
    c.send('GET /public/next?x=1 HTTP/1.1\r\nHost: gate\r\nConnection: x-private\r\nX-Private: 1\r\n\r\n');
    const next = await c.response();
    assert.equal(next.status, 200);
    assert.equal(next.body, 'ok GET /public/next?x=1');
    const [up, plain] = seenSince(from);
    // The upgrade request itself: the same clean-up and identity as any request, plus its upgrade.
    assert.equal(up.line, 'GET /public/chat HTTP/1.1');
    assert.equal(up.headers.connection, 'upgrade');
    assert.equal(up.headers.upgrade, 'websocket');
    assert.equal(up.headers['sec-websocket-key'], KEY);
    assert.equal(up.headers['sec-websocket-version'], '13');
    assert.equal(up.headers['keep-alive'], undefined);
    assert.equal(up.headers['x-weft-source'], 'client.default');
    assert.equal(up.headers['x-forwarded-client-cert'], 'By=spiffe://weft.local/ns/default/svc/gate;URI=spiffe://weft.local/ns/default/svc/client');
    // The request after it is an ordinary one.
    assert.equal(plain.line, 'GET /public/next?x=1 HTTP/1.1');
    assert.equal(plain.headers.upgrade, undefined);
    assert.notEqual(plain.headers.connection, 'upgrade');
    assert.equal(plain.headers['x-private'], undefined);
    assert.equal(plain.headers['x-weft-source'], 'client.default');
    assert.equal(plain.headers['x-forwarded-client-cert'], 'By=spiffe://weft.local/ns/default/svc/gate;URI=spiffe://weft.local/ns/default/svc/client');
  } finally {
    c.destroy();
  }
  // Each counts as a request with the app's status.
  const text = await adminMetrics(gate.adminPort);
  assert.ok(metricSample(text, 'weft_proxy_requests_total{direction="inbound",source="client.default",destination_service="gate.default",code="426",reason=""}') >= 1);
});

test('an upgrade to a denied path is refused before it reaches the app', { timeout: 60_000 }, async () => {
  const from = app.seen.length;
  const c = new RawClient(client.outboundPort);
  try {
    c.send(upgradeRequest('/admin/ws', 'gate'));
    const denied = await c.response();
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-weft-reason'], 'authz-denied');
    assert.deepEqual(seenSince(from), []);
  } finally {
    c.destroy();
  }
});

test('WebSocket through two sidecars in mutual TLS: 101, then frames echo both ways', { timeout: 60_000 }, async () => {
  const from = app.seen.length;
  const c = new RawClient(client.outboundPort);
  try {
    c.send(upgradeRequest('/ws', 'gate', 'Sec-WebSocket-Protocol: chat\r\n'));
    const switched = await c.response();
    assert.equal(switched.status, 101);
    assert.equal(switched.headers.upgrade?.toLowerCase(), 'websocket');
    assert.equal(switched.headers.connection?.toLowerCase(), 'upgrade');
    assert.equal(switched.headers['sec-websocket-accept'], wsAccept(KEY));
    for (const text of ['first frame', 'second', 'x'.repeat(120)]) {
      const frame = clientFrame(text);
      c.send(frame);
      assert.ok((await c.bytes(frame.length)).equals(frame), `${text.slice(0, 12)}… echoed byte for byte`);
    }
    const [up] = seenSince(from);
    assert.equal(up.headers['sec-websocket-protocol'], 'chat');
    assert.equal(up.headers['x-forwarded-client-cert'], 'By=spiffe://weft.local/ns/default/svc/gate;URI=spiffe://weft.local/ns/default/svc/client', 'the caller proved its identity in mutual TLS');
  } finally {
    c.destroy();
  }
  const outbound = await adminMetrics(client.adminPort);
  assert.ok(metricSample(outbound, 'weft_proxy_requests_total{direction="outbound",source="client",destination_service="gate.default",code="101",reason=""}') >= 1, 'the upgrade counts as a request with status 101');
  const inbound = await adminMetrics(gate.adminPort);
  assert.ok(metricSample(inbound, 'weft_proxy_requests_total{direction="inbound",source="client.default",destination_service="gate.default",code="101",reason=""}') >= 1);
});

test('bytes a client sends before the 101 reach the app only after it, then in order', { timeout: 60_000 }, async () => {
  const before = app.early.length;
  const c = new RawClient(client.outboundPort);
  try {
    const frame = clientFrame('sent before the 101');
    // One write: the request and a frame right behind it, as an eager client would.
    c.send(Buffer.concat([Buffer.from(upgradeRequest('/ws-slow', 'gate')), frame]));
    const switched = await c.response();
    assert.equal(switched.status, 101);
    assert.ok((await c.bytes(frame.length)).equals(frame), 'the early frame arrives after the switch and is echoed');
    assert.equal(app.early.length, before + 1);
    assert.equal(app.early.at(-1), '', 'nothing reached the app before its 101');
  } finally {
    c.destroy();
  }
});

test('a 101 that the request did not ask for, or to a protocol it did not offer, is a malformed response: 502', { timeout: 60_000 }, async () => {
  for (const request of ['GET /unasked HTTP/1.1\r\nHost: gate\r\n\r\n', upgradeRequest('/ws-other', 'gate')]) {
    const c = new RawClient(client.outboundPort);
    try {
      c.send(request);
      const res = await c.response();
      assert.equal(res.status, 502, request);
      assert.equal(res.headers['x-weft-reason'], 'upstream-reset');
    } finally {
      c.destroy();
    }
  }
});

test('Upgrade on HTTP/1.0 is refused (400); Upgrade: h2c is stripped and the request served as plain HTTP/1.1', { timeout: 60_000 }, async () => {
  const from = app.seen.length;
  for (const port of [client.outboundPort, gate.inboundPort!]) {
    const c = new RawClient(port);
    try {
      c.send('GET /public/old HTTP/1.0\r\nHost: gate\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      const res = await c.response();
      assert.equal(res.status, 400);
      assert.equal(res.headers['x-weft-reason'], 'bad-request');
    } finally {
      c.destroy();
    }
  }
  const c = new RawClient(client.outboundPort);
  try {
    c.send('GET /public/h2c HTTP/1.1\r\nHost: gate\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n');
    const res = await c.response();
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok GET /public/h2c');
  } finally {
    c.destroy();
  }
  const seen = seenSince(from);
  assert.deepEqual(seen.map((s) => s.line), ['GET /public/h2c HTTP/1.1'], 'the HTTP/1.0 upgrades never reached the app');
  assert.equal(seen[0].headers.upgrade, undefined);
  assert.equal(seen[0].headers['http2-settings'], undefined);
  assert.notEqual(seen[0].headers.connection?.toLowerCase(), 'upgrade');
});

test('inside a CONNECT tunnel (node:http serves it): WebSocket works, and after a refused upgrade the connection goes on as HTTP', { timeout: 60_000 }, async () => {
  const open = async (): Promise<RawClient> => {
    const c = new RawClient(client.outboundPort);
    c.send('CONNECT gate:80 HTTP/1.1\r\nHost: gate:80\r\n\r\n');
    assert.equal((await c.response()).status, 200);
    return c;
  };
  const ws = await open();
  try {
    ws.send(upgradeRequest('/ws', 'gate'));
    const switched = await ws.response();
    assert.equal(switched.status, 101);
    assert.equal(switched.headers['sec-websocket-accept'], wsAccept(KEY));
    const frame = clientFrame('through CONNECT');
    ws.send(frame);
    assert.ok((await ws.bytes(frame.length)).equals(frame));
  } finally {
    ws.destroy();
  }
  const from = app.seen.length;
  const c = await open();
  try {
    // Twice, and the second time with the next request sent right behind it (held until the answer).
    c.send(upgradeRequest('/public', 'gate'));
    assert.equal((await c.response()).status, 426);
    c.send(upgradeRequest('/public/again', 'gate') + 'GET /admin/secret HTTP/1.1\r\nHost: gate\r\n\r\n');
    assert.equal((await c.response()).status, 426);
    const denied = await c.response();
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-weft-reason'], 'authz-denied');
    c.send('GET /public/last HTTP/1.1\r\nHost: gate\r\n\r\n');
    assert.equal((await c.response()).body, 'ok GET /public/last');
    assert.deepEqual(seenSince(from).map((s) => s.line), ['GET /public HTTP/1.1', 'GET /public/again HTTP/1.1', 'GET /public/last HTTP/1.1'], 'the app never received /admin/secret');
  } finally {
    c.destroy();
  }
});

// Bar: HTTP/1.1 keep-alive, HTTP/2 and gRPC (h2c) carried end to end, WebSocket upgrades, bodies
// streamed both ways (no buffering), and the local replies a caller can act on: no-endpoints,
// unknown-port, upstream-connect-failure (here or from the peer sidecar) and request-timeout.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { getViaProxy } from '../support/upstreams.ts';
import { freePort, stopAll, waitFor } from '../support/processes.ts';
import { grpcFrame, grpcUnframe, h2Connect, h2Request, startH2App, type H2App } from '../support/h2.ts';
import { readBytes, startWsApp, wsAccept, wsUpgrade, WS_GREETING, type WsApp } from '../support/ws.ts';

const MB = 1024 * 1024;

/** The HTTP/1.1 app behind `bulk`: uploads hashed, downloads generated, a slow drip, connection count. */
interface BulkApp {
  readonly port: number;
  connections(): number;
  /** Resolved by the test when its first drip chunk arrived; the app waits for it (or 10 s) before the second. */
  clientGotFirst: () => void;
  secondWritten(): boolean;
  close(): Promise<void>;
}

async function startBulkApp(): Promise<BulkApp> {
  let connections = 0;
  let secondWritten = false;
  let release: () => void = () => {};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/upload') {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
      });
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes, sha256: hash.digest('hex'), te: req.headers['transfer-encoding'] ?? null })));
      return;
    }
    if (url.pathname === '/download') {
      const total = Number(url.searchParams.get('mb')) * MB;
      const chunk = Buffer.alloc(256 * 1024);
      for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    if (url.pathname === '/drip') {
      secondWritten = false;
      const got = new Promise<void>((r) => (release = r));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      void Promise.race([got, new Promise((r) => setTimeout(r, 10_000))]).then(() => {
        secondWritten = true;
        res.end('second\n');
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, host: req.headers.host }));
  });
  server.on('connection', () => connections++);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    get clientGotFirst() {
      return release;
    },
    secondWritten: () => secondWritten,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function startPlainApp(handler: http.RequestListener): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let cp: ControlPlaneProcess;
let h2app: H2App;
let wsapp: WsApp;
let bulk: BulkApp;
let slow: { port: number; close(): Promise<void> };
let down: { port: number; close(): Promise<void> };
let downSidecar: SidecarProcess;
let client: SidecarProcess;

interface SnapshotView {
  snapshot?: { services: { name: string; ports: { port: number; endpoints: unknown[] }[]; policy: { timeouts: { requestMs: number } } }[] };
}

async function clientSnapshot(): Promise<SnapshotView['snapshot']> {
  const res = await fetch(`http://127.0.0.1:${client.adminPort}/config`);
  return ((await res.json()) as SnapshotView).snapshot;
}

async function retries(service: string, reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${client.adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('weft_proxy_upstream_retries_total{') && l.includes(`destination_service="${service}.default"`) && l.includes(`reason="${reason}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

before(async () => {
  cp = await startControlPlane();
  [h2app, wsapp, bulk] = await Promise.all([startH2App(), startWsApp(), startBulkApp()]);
  slow = await startPlainApp((_req, res) => {
    const t = setTimeout(() => res.writeHead(200).end('late'), 2_000);
    res.on('close', () => clearTimeout(t));
  });
  down = await startPlainApp((_req, res) => res.writeHead(200).end('up'));
  const sidecars = await Promise.all([
    startSidecar(cp.url, 'grpcsvc', ['--app-port', String(h2app.port)]),
    startSidecar(cp.url, 'wsapp', ['--app-port', String(wsapp.port)]),
    startSidecar(cp.url, 'bulk', ['--app-port', String(bulk.port)]),
    startSidecar(cp.url, 'slow', ['--app-port', String(slow.port)]),
    startSidecar(cp.url, 'downsvc', ['--app-port', String(down.port)]),
    startSidecar(cp.url, 'client'),
  ]);
  downSidecar = sidecars[4];
  client = sidecars[5];
  for (const s of ['grpcsvc', 'wsapp', 'bulk', 'slow', 'downsvc']) await waitForPassing(cp, s, 1);
  // The only instance of downsvc loses its app; its sidecar stays registered (TTL heartbeats only).
  await down.close();

  // A declared service with no members, an instance nothing listens on, and a tight timeout.
  const put = async (plural: string, resource: { kind: string; metadata: { name: string; namespace: string }; spec: unknown }): Promise<void> => {
    const r = await cp.api('PUT', `/v1/resources/${plural}/default/${resource.metadata.name}`, { apiVersion: 'weft.dev/v1alpha1', ...resource });
    assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
  };
  await put('services', { kind: 'Service', metadata: { name: 'vacant', namespace: 'default' }, spec: { ports: [{ port: 80 }], selector: { app: 'nobody' } } });
  await put('backendpolicies', { kind: 'BackendPolicy', metadata: { name: 'slow-timeout', namespace: 'default' }, spec: { targetRefs: [{ kind: 'Service', name: 'slow' }], timeouts: { requestMs: 300 } } });
  const reg = await cp.api('POST', '/v1/catalog/instances', { service: 'ghost', id: 'ghost-1', address: '127.0.0.1', port: await freePort(), ttlSeconds: 0 });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));

  await waitFor('the client sidecar to hold the declared resources', async () => {
    const snap = await clientSnapshot();
    const svc = (n: string) => snap?.services.find((s) => s.name === n);
    return svc('vacant') && svc('vacant')!.ports[0].endpoints.length === 0 && svc('ghost')?.ports[0].endpoints.length === 1 && svc('slow')?.policy.timeouts.requestMs === 300;
  });
  await waitForInSync(cp, 6);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all([h2app?.close(), wsapp?.close(), bulk?.close(), slow?.close(), down?.close().catch(() => {})]);
  await cp?.cleanup();
});

test('HTTP/1.1 keep-alive: sequential requests share one client connection and one app connection', { timeout: 90_000 }, async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await getViaProxy(client.outboundPort, 'http://bulk/warm', agent);
    const appConnectionsBefore = bulk.connections();
    for (let i = 0; i < 5; i++) {
      const reused = await new Promise<boolean>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: client.outboundPort, path: `http://bulk/ka/${i}`, agent }, (res) => {
          assert.equal(res.statusCode, 200);
          assert.notEqual(String(res.headers.connection).toLowerCase(), 'close');
          res.resume();
          res.on('end', () => resolve(req.reusedSocket));
        });
        req.on('error', reject);
      });
      assert.equal(reused, true, `request ${i} reused the kept-alive client connection`);
    }
    assert.equal(bulk.connections() - appConnectionsBefore, 0, 'the sidecars reused their pooled connections too');
  } finally {
    agent.destroy();
  }
});

test('h2c with prior knowledge: a gRPC-style call carries body, te: trailers and grpc-status trailers', { timeout: 90_000 }, async () => {
  const session = await h2Connect(client.outboundPort);
  try {
    const message = Buffer.from('{"greeting":"hello over h2c"}');
    const res = await h2Request(session, { ':method': 'POST', ':path': '/echo.v1.Echo/Say', ':authority': 'grpcsvc', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '5S' }, grpcFrame(message));
    assert.equal(res.headers[':status'], 200);
    assert.equal(res.headers['content-type'], 'application/grpc');
    assert.equal(res.headers['x-app'], 'h2');
    assert.deepEqual(grpcUnframe(res.body), message);
    assert.ok(res.trailers, 'trailers arrived at the client');
    assert.equal(res.trailers!['grpc-status'], '0');

    const seen = h2app.seen.at(-1)!;
    assert.equal(seen.headers[':path'], '/echo.v1.Echo/Say');
    assert.equal(seen.headers[':authority'], 'grpcsvc');
    assert.equal(seen.headers.te, 'trailers', 'te: trailers reaches the app');
    assert.equal(seen.headers['x-weft-source'], 'client.default');
    assert.deepEqual(grpcUnframe(seen.body), message);

    // A failing call's status is in the trailers too, and many calls share the one session.
    const fail = await h2Request(session, { ':method': 'POST', ':path': '/echo.v1.Echo/Fail', ':authority': 'grpcsvc', 'content-type': 'application/grpc', te: 'trailers' }, grpcFrame(Buffer.from('x')));
    assert.equal(fail.headers[':status'], 200);
    assert.equal(fail.trailers?.['grpc-status'], '5');
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => h2Request(session, { ':method': 'POST', ':path': '/echo.v1.Echo/Say', ':authority': 'grpcsvc', 'content-type': 'application/grpc', te: 'trailers' }, grpcFrame(Buffer.from(`call ${i}`)))));
    many.forEach((r, i) => {
      assert.equal(r.headers[':status'], 200);
      assert.equal(grpcUnframe(r.body).toString(), `call ${i}`);
      assert.equal(r.trailers?.['grpc-status'], '0');
    });
  } finally {
    session.close();
  }
});

test('h2c: a mesh local reply reaches an HTTP/2 client with its reason', { timeout: 90_000 }, async () => {
  const session = await h2Connect(client.outboundPort);
  try {
    const res = await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'vacant' });
    assert.equal(res.headers[':status'], 503);
    assert.equal(res.headers['x-weft-reason'], 'no-endpoints');
  } finally {
    session.close();
  }
});

test('WebSocket upgrade: 101 through both sidecars, then bytes flow both ways', { timeout: 90_000 }, async () => {
  const up = await wsUpgrade(client.outboundPort, 'wsapp', '/chat?room=1');
  try {
    assert.equal(up.status, 101);
    assert.equal(String(up.headers.upgrade).toLowerCase(), 'websocket');
    assert.equal(up.headers['sec-websocket-accept'], wsAccept(up.key));
    const greeting = await readBytes(up.socket, WS_GREETING.length, up.head);
    assert.equal(greeting.toString(), WS_GREETING, 'app → client');
    const payload = randomBytes(256 * 1024);
    up.socket.write(payload);
    const echoed = await readBytes(up.socket, payload.length);
    assert.equal(echoed.length, payload.length);
    assert.ok(echoed.equals(payload), 'client → app → client, byte for byte');

    assert.equal(wsapp.paths.at(-1), '/chat?room=1');
    assert.equal(wsapp.upgrades.at(-1)!.host, 'wsapp');
    assert.equal(wsapp.upgrades.at(-1)!['x-weft-source'], 'client.default');
  } finally {
    up.socket.destroy();
  }
});

test('WebSocket upgrade to a service without endpoints is refused with a reason', { timeout: 90_000 }, async () => {
  await assert.rejects(wsUpgrade(client.outboundPort, 'vacant', '/chat'), (err: { status?: number; reason?: string }) => {
    assert.equal(err.status, 503);
    assert.equal(err.reason, 'no-endpoints', 'the same reason plain HTTP gets');
    return true;
  });
});

test('WebSocket upgrade whose peer sidecar cannot reach its app is refused with upstream-connect-failure', { timeout: 90_000 }, async () => {
  await assert.rejects(wsUpgrade(client.outboundPort, 'downsvc', '/chat'), (err: { status?: number; reason?: string }) => {
    assert.equal(err.status, 503);
    assert.equal(err.reason, 'upstream-connect-failure');
    return true;
  });
});

test('a 20 MB request body streams through intact', { timeout: 90_000 }, async () => {
  const hash = createHash('sha256');
  let sent = 0;
  const body = Readable.from((function* () {
    for (let i = 0; i < 20; i++) {
      const chunk = randomBytes(MB);
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
    }
  })());
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: client.outboundPort, method: 'POST', path: 'http://bulk/upload', agent: false, headers: { 'content-type': 'application/octet-stream' } }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c) => (text += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    body.pipe(req);
  });
  assert.equal(res.status, 200, res.body);
  const got = JSON.parse(res.body) as { bytes: number; sha256: string; te: string | null };
  assert.equal(sent, 20 * MB);
  assert.equal(got.bytes, 20 * MB);
  assert.equal(got.sha256, hash.digest('hex'));
  assert.equal(got.te, 'chunked', 'a chunked request stays chunked: the body was not buffered into a content-length');
});

test('a 20 MB response body streams back intact', { timeout: 90_000 }, async () => {
  const expected = createHash('sha256');
  const chunk = Buffer.alloc(256 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
  for (let i = 0; i < 80; i++) expected.update(chunk);
  const got = await new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: client.outboundPort, path: 'http://bulk/download?mb=20', agent: false }, (r) => {
      const h = createHash('sha256');
      let bytes = 0;
      r.on('data', (c: Buffer) => {
        h.update(c);
        bytes += c.length;
      });
      r.on('end', () => resolve({ status: r.statusCode ?? 0, bytes, sha256: h.digest('hex') }));
      r.on('error', reject);
    }).on('error', reject);
  });
  assert.equal(got.status, 200);
  assert.equal(got.bytes, 20 * MB);
  assert.equal(got.sha256, expected.digest('hex'));
});

test('a response is not buffered: the first chunk arrives before the app writes the second', { timeout: 90_000 }, async () => {
  const result = await new Promise<{ firstChunk: string; secondWrittenAtFirst: boolean; body: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: client.outboundPort, path: 'http://bulk/drip', agent: false }, (r) => {
      let body = '';
      let firstChunk: string | undefined;
      let secondWrittenAtFirst = true;
      r.setEncoding('utf8');
      r.on('data', (c: string) => {
        if (firstChunk === undefined) {
          firstChunk = c;
          secondWrittenAtFirst = bulk.secondWritten();
          bulk.clientGotFirst();
        }
        body += c;
      });
      r.on('end', () => resolve({ firstChunk: firstChunk ?? '', secondWrittenAtFirst, body }));
      r.on('error', reject);
    }).on('error', reject);
  });
  assert.equal(result.firstChunk, 'first\n');
  assert.equal(result.secondWrittenAtFirst, false, 'the client saw the first chunk while the app still held the second');
  assert.equal(result.body, 'first\nsecond\n');
});

test('local reply: a declared service with no instances → 503 no-endpoints with a JSON body', { timeout: 90_000 }, async () => {
  const res = await getViaProxy(client.outboundPort, 'http://vacant/anything');
  assert.equal(res.status, 503);
  assert.equal(res.headers['x-weft-reason'], 'no-endpoints');
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as { error: { reason: string; proxy: string } };
  assert.equal(body.error.reason, 'no-endpoints');
  assert.equal(body.error.proxy, client.id);
});

test('local reply: a port the service does not have → 404 unknown-port', { timeout: 90_000 }, async () => {
  const res = await getViaProxy(client.outboundPort, 'http://bulk:9999/');
  assert.equal(res.status, 404);
  assert.equal(res.headers['x-weft-reason'], 'unknown-port');
  assert.equal(JSON.parse(res.body).error.reason, 'unknown-port');
});

test('local reply: the only instance listens nowhere → 503 upstream-connect-failure from the caller sidecar', { timeout: 90_000 }, async () => {
  const res = await getViaProxy(client.outboundPort, 'http://ghost/');
  assert.equal(res.status, 503);
  assert.equal(res.headers['x-weft-reason'], 'upstream-connect-failure');
  assert.equal(res.headers['x-weft-proxy'], client.id);
});

test('local reply: a POST whose peer sidecar cannot reach its app → 503 upstream-connect-failure from that peer, not retried', { timeout: 90_000 }, async () => {
  const before = await retries('downsvc', 'peer-app-unreachable');
  const res = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: client.outboundPort, method: 'POST', path: 'http://downsvc/orders', agent: false, headers: { 'content-type': 'application/json' } }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ item: 'book', qty: 1 }));
  });
  assert.equal(res.status, 503);
  assert.equal(res.headers['x-weft-reason'], 'upstream-connect-failure');
  assert.equal(res.headers['x-weft-proxy'], downSidecar.id, 'the peer sidecar answered, and the caller passed it on');
  assert.equal(await retries('downsvc', 'peer-app-unreachable'), before, 'a request with a body is not retried');

  // The same failure on a GET (no body) is retried; with no other instance the caller answers itself.
  const get = await getViaProxy(client.outboundPort, 'http://downsvc/orders');
  assert.equal(get.status, 503);
  assert.equal(get.headers['x-weft-reason'], 'upstream-connect-failure');
  assert.equal(get.headers['x-weft-proxy'], client.id);
  assert.equal(await retries('downsvc', 'peer-app-unreachable'), before + 1);
});

test('request timeout: BackendPolicy timeouts.requestMs 300 against a 2 s app → 504 request-timeout', { timeout: 90_000 }, async () => {
  const res = await getViaProxy(client.outboundPort, 'http://slow/');
  assert.equal(res.status, 504);
  assert.equal(res.headers['x-weft-reason'], 'request-timeout');
  assert.equal(res.headers['x-weft-proxy'], client.id);
  assert.equal(JSON.parse(res.body).error.reason, 'request-timeout');
});

// Issue 10, classes 5 and 6, through real sidecars (client sidecar → server sidecar → app): a stale
// pooled connection to the app is retried by the hop that owns it and is not an endpoint failure;
// a long stream is not cut by a default total deadline; the timers that do fire end a stream so
// the client can tell (504 before the head; no last chunk, or a short body, after it).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { getViaProxy } from '../support/upstreams.ts';
import { stopAll, waitFor } from '../support/processes.ts';
import { h2Connect, h2Request } from '../support/h2.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HTTP app on loopback port 0. */
async function startApp(handler: http.RequestListener): Promise<{ server: http.Server; port: number; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What a raw HTTP/1.1 client saw: the head, the body de-chunked, and whether the body ended as its framing says. */
interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Chunked: the last (zero-size) chunk arrived. Content-Length: every byte arrived. */
  complete: boolean;
}

/**
 * One request written as raw bytes to a sidecar's outbound port (absolute-form, `connection: close`),
 * read until the connection closes, so a cut stream shows as exactly what arrived.
 */
function rawGet(port: number, url: string): Promise<RawResponse> {
  const host = new URL(url).host;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {}); // a cut connection may reset; what arrived is what counts
    socket.on('close', () => {
      try {
        resolve(parseRaw(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
    socket.write(`GET ${url} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
  });
}

function parseRaw(raw: Buffer): RawResponse {
  const text = raw.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  assert.ok(headEnd > 0, `a response head arrived: ${JSON.stringify(text.slice(0, 200))}`);
  const lines = text.slice(0, headEnd).split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let rest = text.slice(headEnd + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let body = '';
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd < 0) return { status, headers, body, complete: false };
      const size = parseInt(rest.slice(0, lineEnd), 16);
      if (size === 0) return { status, headers, body, complete: rest.slice(lineEnd + 2).startsWith('\r\n') };
      if (rest.length < lineEnd + 2 + size + 2) return { status, headers, body: body + rest.slice(lineEnd + 2), complete: false };
      body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
      rest = rest.slice(lineEnd + 2 + size + 2);
    }
  }
  const length = Number(headers['content-length'] ?? -1);
  return { status, headers, body: rest, complete: length >= 0 && Buffer.byteLength(rest, 'latin1') === length };
}

/**
 * An h2c app: `/stall` answers a head and one DATA frame, then nothing; any other path answers
 * 200 on the first stream of a session and destroys the session when a second stream arrives (the
 * HTTP/2 form of the app that closes a kept-alive connection as it is reused).
 */
async function startH2StallApp(): Promise<{ port: number; sessions(): number; close(): Promise<void> }> {
  let sessions = 0;
  const server = http2.createServer();
  const streamsOf = new WeakMap<http2.Http2Session, number>();
  server.on('session', () => sessions++);
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':path'] === '/stall') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.write('first\n');
      return;
    }
    const n = streamsOf.get(stream.session!) ?? 0;
    streamsOf.set(stream.session!, n + 1);
    if (n > 0) {
      stream.session!.destroy();
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end('h2 ok');
  });
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  return {
    port: (server.address() as AddressInfo).port,
    sessions: () => sessions,
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let cp: ControlPlaneProcess;
let h2stall: Awaited<ReturnType<typeof startH2StallApp>>;
let h2Sidecar: SidecarProcess;
let oneshot: Awaited<ReturnType<typeof startApp>>;
let streams: Awaited<ReturnType<typeof startApp>>;
let oneshotSidecar: SidecarProcess;
let client: SidecarProcess;
/** Requests the oneshot app received, by method (each counted once however it ended). */
const received: Record<string, number> = {};
const SSE_EVENTS = 20;
const SSE_EVERY_MS = 2_000;

before(async () => {
  cp = await startControlPlane();
  // Issue 10's app: it answers the first request on each connection and closes the connection when a
  // second request arrives on it (an app's keep-alive timer firing as the sidecar reuses it).
  const served = new WeakMap<net.Socket, number>();
  oneshot = await startApp((req, res) => {
    const n = served.get(req.socket) ?? 0;
    served.set(req.socket, n + 1);
    if (req.url === '/healthz') return void res.end('ok');
    received[req.method ?? '?'] = (received[req.method ?? '?'] ?? 0) + 1;
    if (n > 0) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`served ${req.method}`));
  });
  // Streams: server-sent events every 2 s for 40 s, and responses that stall.
  streams = await startApp((req, res) => {
    const timers: NodeJS.Timeout[] = [];
    res.on('close', () => timers.forEach((t) => clearTimeout(t)));
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (let i = 1; i <= SSE_EVENTS; i++) {
        timers.push(setTimeout(() => {
          res.write(`data: ${i}\n\n`);
          if (i === SSE_EVENTS) res.end();
        }, i * SSE_EVERY_MS));
      }
      return;
    }
    if (req.url === '/stall-chunked') {
      // A head and one chunk, then nothing: chunked, since the length is not known.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      return;
    }
    if (req.url === '/stall-length') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('0123456789');
      return;
    }
    if (req.url === '/no-head') return; // never answers
    res.end('ok');
  });
  h2stall = await startH2StallApp();
  const sidecars = await Promise.all([
    startSidecar(cp.url, 'oneshot', ['--app-port', String(oneshot.port)]),
    startSidecar(cp.url, 'sse', ['--app-port', String(streams.port)]),
    startSidecar(cp.url, 'stall', ['--app-port', String(streams.port)]),
    startSidecar(cp.url, 'client'),
    startSidecar(cp.url, 'h2stall', ['--app-port', String(h2stall.port)]),
  ]);
  oneshotSidecar = sidecars[0];
  client = sidecars[3];
  h2Sidecar = sidecars[4];
  for (const s of ['oneshot', 'sse', 'stall', 'h2stall']) await waitForPassing(cp, s, 1);
  const h2put = await cp.api('PUT', '/v1/resources/backendpolicies/default/h2stall-timers', {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'BackendPolicy',
    metadata: { name: 'h2stall-timers', namespace: 'default' },
    spec: { targetRefs: [{ kind: 'Service', name: 'h2stall' }], timeouts: { streamIdleMs: 1_000 } },
  });
  assert.ok(h2put.status === 200 || h2put.status === 201, JSON.stringify(h2put.body));
  // Tight timers for `stall` only (the head timer below the idle one, so it is the one that fires
  // on /no-head); `sse` and `oneshot` keep the defaults.
  const put = await cp.api('PUT', '/v1/resources/backendpolicies/default/stall-timers', {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'BackendPolicy',
    metadata: { name: 'stall-timers', namespace: 'default' },
    spec: { targetRefs: [{ kind: 'Service', name: 'stall' }], timeouts: { streamIdleMs: 1_000, responseHeaderMs: 500 } },
  });
  assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
  await waitFor('the client sidecar to hold the stall policy', async () => {
    const res = await fetch(`http://127.0.0.1:${client.adminPort}/config`);
    const snap = ((await res.json()) as { snapshot?: { services: { name: string; policy: { timeouts: { streamIdleMs?: number } } }[] } }).snapshot;
    return snap?.services.find((s) => s.name === 'stall')?.policy.timeouts.streamIdleMs === 1_000 && snap?.services.find((s) => s.name === 'h2stall')?.policy.timeouts.streamIdleMs === 1_000;
  });
  await waitForInSync(cp, 5);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all([oneshot?.close(), streams?.close(), h2stall?.close()]);
  await cp?.cleanup();
});

function series(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

/** The sum of a counter's samples whose labels include all of `labels`. */
function sumWhere(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('a stale pooled connection: two GETs 200 ms apart both get 200, and the endpoint is not counted as failed', { timeout: 60_000 }, async () => {
  const staleBefore = metricSample(await adminMetrics(oneshotSidecar.adminPort), series('weft_proxy_upstream_retries_total', { destination_service: 'oneshot.default', reason: 'stale-connection' }));
  const first = await getViaProxy(client.outboundPort, 'http://oneshot/a');
  await sleep(200);
  const second = await getViaProxy(client.outboundPort, 'http://oneshot/b');
  assert.equal(first.status, 200, JSON.stringify(first));
  assert.equal(second.status, 200, JSON.stringify(second));
  assert.equal(second.body, 'served GET');

  // The server sidecar, which owns the pool to the app, sent the second GET again on a new
  // connection: a stale-connection retry, outside its policy (0 retries) ...
  const server = await adminMetrics(oneshotSidecar.adminPort);
  assert.equal(metricSample(server, series('weft_proxy_upstream_retries_total', { destination_service: 'oneshot.default', reason: 'stale-connection' })) - staleBefore, 1);
  assert.equal(sumWhere(server, 'weft_proxy_requests_total', { direction: 'inbound', destination_service: 'oneshot.default', code: '502' }), 0, 'the server sidecar answered no 502');
  // ... and the client sidecar saw two answers from the app: no failure of its endpoint, no retry of its own.
  const callers = await adminMetrics(client.adminPort);
  assert.equal(sumWhere(callers, 'weft_proxy_upstream_retries_total', { destination_service: 'oneshot.default' }), 0, 'the client sidecar made no retry');
  assert.equal(sumWhere(callers, 'weft_proxy_requests_total', { direction: 'outbound', destination_service: 'oneshot.default', code: '200' }), 2);
});

test('a POST in the same situation is not replayed: 502 upstream-reset, and the app saw it once', { timeout: 60_000 }, async () => {
  // A GET leaves a connection to the app in the server sidecar's pool, with one request served on it.
  assert.equal((await getViaProxy(client.outboundPort, 'http://oneshot/warm')).status, 200);
  await sleep(200);
  const postsBefore = received.POST ?? 0;
  const res = await new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: client.outboundPort, method: 'POST', path: 'http://oneshot/orders', agent: false, headers: { 'content-type': 'application/json' } }, (r) => {
      r.resume();
      r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ item: 'book' }));
  });
  // The app may have acted on it before closing: only the client may decide to send it again.
  assert.equal(res.status, 502);
  assert.equal(res.headers['x-weft-reason'], 'upstream-reset');
  assert.equal(res.headers['x-weft-proxy'], oneshotSidecar.id, 'the server sidecar answered; the client sidecar passed it on');
  assert.equal((received.POST ?? 0) - postsBefore, 1, 'the app received the POST once');
});

test('server-sent events every 2 s for 40 s arrive whole, with the last chunk, under the default policy', { timeout: 90_000 }, async () => {
  const res = await rawGet(client.outboundPort, 'http://sse/events');
  assert.equal(res.status, 200);
  assert.equal(res.headers['transfer-encoding'], 'chunked');
  assert.equal(res.body, Array.from({ length: SSE_EVENTS }, (_, i) => `data: ${i + 1}\n\n`).join(''));
  assert.equal(res.complete, true, 'the stream ended with its last chunk');
});

test('timeouts.streamIdleMs cuts a stalled chunked stream: the client gets what was sent and no last chunk', { timeout: 60_000 }, async () => {
  const res = await rawGet(client.outboundPort, 'http://stall/stall-chunked');
  assert.equal(res.status, 200);
  assert.equal(res.headers['transfer-encoding'], 'chunked');
  assert.equal(res.body, 'first\n');
  assert.equal(res.complete, false, 'no last chunk: the client can tell the stream was cut');
  await waitFor('the cut counted with its reason', async () => sumWhere(await adminMetrics(client.adminPort), 'weft_proxy_requests_total', { direction: 'outbound', destination_service: 'stall.default', reason: 'stream-idle-timeout' }) >= 1);
});

test('timeouts.streamIdleMs cuts a stalled Content-Length response: the body arrives short', { timeout: 60_000 }, async () => {
  const res = await rawGet(client.outboundPort, 'http://stall/stall-length');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-length'], '100');
  assert.equal(res.body, '0123456789');
  assert.equal(res.complete, false);
});

test('timeouts.responseHeaderMs: no head from the app → 504 response-header-timeout from the client sidecar', { timeout: 60_000 }, async () => {
  const res = await getViaProxy(client.outboundPort, 'http://stall/no-head');
  assert.equal(res.status, 504);
  assert.equal(res.headers['x-weft-reason'], 'response-header-timeout');
  assert.equal(res.headers['x-weft-proxy'], client.id);
  assert.equal(JSON.parse(res.body).error.reason, 'response-header-timeout');
});

test('HTTP/2: a session the app closed as it was reused: two GETs both get 200, the server sidecar retrying on a new session', { timeout: 60_000 }, async () => {
  const staleBefore = metricSample(await adminMetrics(h2Sidecar.adminPort), series('weft_proxy_upstream_retries_total', { destination_service: 'h2stall.default', reason: 'stale-connection' }));
  const session = await h2Connect(client.outboundPort);
  try {
    const first = await h2Request(session, { ':method': 'GET', ':path': '/a', ':authority': 'h2stall' });
    await sleep(200);
    const second = await h2Request(session, { ':method': 'GET', ':path': '/b', ':authority': 'h2stall' });
    assert.equal(first.headers[':status'], 200);
    assert.equal(second.headers[':status'], 200);
    assert.equal(second.body.toString(), 'h2 ok');
  } finally {
    session.close();
  }
  const server = await adminMetrics(h2Sidecar.adminPort);
  assert.equal(metricSample(server, series('weft_proxy_upstream_retries_total', { destination_service: 'h2stall.default', reason: 'stale-connection' })) - staleBefore, 1);
  assert.equal(sumWhere(await adminMetrics(client.adminPort), 'weft_proxy_upstream_retries_total', { destination_service: 'h2stall.default' }), 0);
});

test('HTTP/2: timeouts.streamIdleMs resets a stalled stream (RST_STREAM), never a clean end', { timeout: 60_000 }, async () => {
  const session = await h2Connect(client.outboundPort);
  try {
    const outcome = await new Promise<{ status: unknown; body: string; ended: boolean; rstCode: number }>((resolve) => {
      const stream = session.request({ ':method': 'GET', ':path': '/stall', ':authority': 'h2stall' });
      let status: unknown;
      let body = '';
      let ended = false;
      stream.on('response', (h) => (status = h[':status']));
      stream.on('data', (c: Buffer) => (body += c.toString()));
      stream.on('end', () => (ended = true));
      stream.on('error', () => {});
      stream.on('close', () => resolve({ status, body, ended, rstCode: stream.rstCode ?? -1 }));
    });
    assert.equal(outcome.status, 200);
    assert.equal(outcome.body, 'first\n');
    assert.equal(outcome.ended, false, 'no END_STREAM');
    assert.equal(outcome.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
  } finally {
    session.close();
  }
});

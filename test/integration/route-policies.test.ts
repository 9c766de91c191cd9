// Bar (issue 12, items 5 and 6): an HTTPRoute rule's `timeouts` (request, backendRequest), `retry`
// (codes, attempts, backoff; bodies replayed within 64 KiB) and the CORS filter are in force in the
// client sidecar. Real control plane, real sidecars, two real app instances that share one memory,
// so "the first arrival of this request fails" holds whichever instance the balancer picks first.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll } from '../support/processes.ts';
import { h2Connect, h2Request } from '../support/h2.ts';

/** What the two instances have seen, by x-test-id: how many arrivals, and which instance had the first. */
const arrivals = new Map<string, number>();
const firstAt = new Map<string, string>();
/** Requests that reached an app at all, by path prefix. */
let corsHits = 0;

interface App {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * One instance of `flaky`. By path: /timeout/* never answers in time; /per-try/* holds the first
 * arrival of an id and answers later ones; /slow-attempt/* never answers in time either;
 * /retry/always/* answers 503 every time; /retry/* answers the first arrival of an id 503 (after
 * reading its body) and later ones 200; anything else answers 200 at once. 200s carry the body's length.
 */
async function startApp(name: string): Promise<App> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      if (url === '/healthz') return void res.end('ok');
      const id = String(req.headers['x-test-id'] ?? '');
      const n = (arrivals.get(id) ?? 0) + 1;
      arrivals.set(id, n);
      if (n === 1) firstAt.set(id, name);
      const ok = (): void => {
        res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name });
        res.end(JSON.stringify({ name, n, bodyLength: Buffer.concat(chunks).length }));
      };
      if (url.startsWith('/cors')) corsHits++;
      if (url.startsWith('/timeout') || url.startsWith('/slow-attempt') || (url.startsWith('/per-try') && n === 1)) {
        // Held until the sidecar gives up on it (its connection closes) or the test ends.
        setTimeout(ok, 20_000).unref();
        return;
      }
      if ((url.startsWith('/retry') && n === 1) || url.startsWith('/retry/always')) {
        res.writeHead(503, { 'content-type': 'text/plain', 'x-served-by': name });
        res.end('unavailable');
        return;
      }
      ok();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** An h2c instance of `h2flaky`: the first arrival of an id gets 503 (after its body), later ones 200 with the body's length. */
async function startH2App(name: string): Promise<App> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (headers[':path'] === '/healthz') {
        stream.respond({ ':status': 200 });
        stream.end('ok');
        return;
      }
      const id = String(headers['x-test-id'] ?? '');
      const n = (arrivals.get(id) ?? 0) + 1;
      arrivals.set(id, n);
      if (n === 1) firstAt.set(id, name);
      if (n === 1) {
        stream.respond({ ':status': 503, 'x-served-by': name });
        stream.end('unavailable');
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-served-by': name });
      stream.end(JSON.stringify({ name, n, bodyLength: Buffer.concat(chunks).length }));
    });
  });
  server.on('sessionError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

let cp: ControlPlaneProcess;
let c: App;
let d: App;
let a: App;
let b: App;
let web: SidecarProcess;
const SIDECARS = 5;

const route = (name: string, spec: unknown) => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'default' }, spec });
const flaky = [{ name: 'flaky-pods', port: 80 }];
const prefix = (value: string) => [{ path: { type: 'PathPrefix', value } }];

before(async () => {
  cp = await startControlPlane();
  [a, b, c, d] = await Promise.all([startApp('a'), startApp('b'), startH2App('c'), startH2App('d')]);
  [, , web] = await Promise.all([
    startSidecar(cp.url, 'flaky', ['--labels', 'tier=flaky', '--app-port', String(a.port)]),
    startSidecar(cp.url, 'flaky', ['--labels', 'tier=flaky', '--app-port', String(b.port)]),
    startSidecar(cp.url, 'web'),
    startSidecar(cp.url, 'h2flaky', ['--labels', 'tier=h2flaky', '--app-port', String(c.port)]),
    startSidecar(cp.url, 'h2flaky', ['--labels', 'tier=h2flaky', '--app-port', String(d.port)]),
  ]);
  await waitForPassing(cp, 'flaky', 2);
  await waitForPassing(cp, 'h2flaky', 2);
  const r = await cp.api('POST', '/v1/apply', {
    items: [
      { apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'flaky-pods' }, spec: { selector: { tier: 'flaky' }, ports: [{ port: 80 }] } },
      { apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'h2flaky-pods' }, spec: { selector: { tier: 'h2flaky' }, ports: [{ port: 80 }] } },
      route('h2-policies', { parentRefs: [{ name: 'h2flaky' }], rules: [{ backendRefs: [{ name: 'h2flaky-pods', port: 80 }], retry: { codes: [503], attempts: 1, backoff: '10ms' } }] }),
      route('policies', {
        parentRefs: [{ name: 'flaky' }],
        rules: [
          { name: 'deadline', matches: prefix('/timeout'), backendRefs: flaky, timeouts: { request: '300ms' } },
          { name: 'per-try', matches: prefix('/per-try'), backendRefs: flaky, timeouts: { request: '0s', backendRequest: '2s' }, retry: { attempts: 1, backoff: '10ms' } },
          { name: 'attempt-bound', matches: prefix('/slow-attempt'), backendRefs: flaky, timeouts: { backendRequest: '300ms' } },
          { name: 'retry', matches: prefix('/retry'), backendRefs: flaky, retry: { codes: [500, 502, 503, 504], attempts: 2, backoff: '20ms' } },
          {
            name: 'cors',
            matches: prefix('/cors'),
            backendRefs: flaky,
            filters: [{ type: 'CORS', cors: { allowOrigins: ['https://app.example', 'https://*.shop.example'], allowMethods: ['GET', 'PUT'], allowHeaders: ['x-token'], exposeHeaders: ['x-served-by'], allowCredentials: true, maxAge: 600 } }],
          },
        ],
      }),
    ],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, SIDECARS);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await Promise.all([a?.close(), b?.close(), c?.close(), d?.close()]);
  await cp?.cleanup();
});

interface Reply { status: number; headers: http.IncomingHttpHeaders; text: string }
/** One request through web's outbound listener (absolute-form); a fresh connection each time. */
function call(path: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: web.outboundPort, method, path: `http://flaky${path}`, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let ids = 0;
const nextId = (): string => `t${++ids}`;

test('timeouts.request: 504 request-timeout when the app does not answer within the rule\'s deadline', async () => {
  const r = await call('/timeout/x', { 'x-test-id': nextId() });
  assert.equal(r.status, 504);
  assert.equal(r.headers['x-weft-reason'], 'request-timeout');
});

test('timeouts.backendRequest: the held attempt is abandoned and the retry on the other instance answers', async () => {
  const id = nextId();
  const r = await call('/per-try/x', { 'x-test-id': id });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-weft-attempts'], '2');
  assert.notEqual(r.headers['x-served-by'], firstAt.get(id), 'the retry went to the other instance');
  assert.equal(arrivals.get(id), 2);
});

test('timeouts.backendRequest without a retry: 504 backend-request-timeout after one attempt', async () => {
  const id = nextId();
  const r = await call('/slow-attempt/x', { 'x-test-id': id });
  assert.equal(r.status, 504);
  assert.equal(r.headers['x-weft-reason'], 'backend-request-timeout');
  assert.equal(r.headers['x-weft-attempts'], undefined);
  assert.equal(arrivals.get(id), 1);
});

test('retry: when every attempt answers a retried code, the last answer is the app\'s own, after 1 + attempts tries', async () => {
  const id = nextId();
  const r = await call('/retry/always', { 'x-test-id': id });
  assert.equal(r.status, 503);
  assert.equal(r.text, 'unavailable');
  assert.equal(r.headers['x-weft-attempts'], '3');
  assert.equal(arrivals.get(id), 3);
});

test('retry.codes: a 503 from one instance is retried on the other, and the answer says 2 attempts', async () => {
  const id = nextId();
  const r = await call('/retry/get', { 'x-test-id': id });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-weft-attempts'], '2');
  assert.notEqual(r.headers['x-served-by'], firstAt.get(id));
  // A request that succeeds at once says nothing about attempts.
  const again = await call('/retry/get', { 'x-test-id': id });
  assert.equal(again.status, 200);
  assert.equal(again.headers['x-weft-attempts'], undefined);
});

test('retry: a POST with a small body is replayed in full on the retry', async () => {
  const id = nextId();
  const body = Buffer.alloc(10_000, 'p');
  const r = await call('/retry/post', { 'x-test-id': id, 'content-type': 'text/plain' }, 'POST', body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-weft-attempts'], '2');
  assert.equal(JSON.parse(r.text).bodyLength, body.length);
});

test('retry over HTTP/2: a POST stream\'s body is kept and replayed on the other instance', async () => {
  const session = await h2Connect(web.outboundPort);
  try {
    const id = nextId();
    const res = await h2Request(session, { ':method': 'POST', ':path': '/h2/post', ':authority': 'h2flaky', 'x-test-id': id }, Buffer.alloc(3000, 'h'));
    assert.equal(res.headers[':status'], 200, res.body.toString());
    assert.equal(res.headers['x-weft-attempts'], '2');
    assert.notEqual(res.headers['x-served-by'], firstAt.get(id));
    assert.equal(JSON.parse(res.body.toString()).bodyLength, 3000);
  } finally {
    session.close();
  }
});

test('retry: a POST whose body is over the 64 KiB replay bound is not retried (the 503 comes back)', async () => {
  const id = nextId();
  const r = await call('/retry/post', { 'x-test-id': id, 'content-type': 'text/plain' }, 'POST', Buffer.alloc(100 * 1024, 'q'));
  assert.equal(r.status, 503);
  assert.equal(r.text, 'unavailable', 'the app\'s own answer, not a local reply');
  assert.equal(r.headers['x-weft-attempts'], undefined);
  assert.equal(arrivals.get(id), 1);
});

test('CORS: a preflight is answered by the client sidecar without touching the app', async () => {
  const before = corsHits;
  const r = await call('/cors/items', { origin: 'https://app.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-token' }, 'OPTIONS');
  assert.equal(r.status, 204);
  assert.equal(r.headers['x-weft-reason'], 'cors-preflight');
  assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
  assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT');
  assert.equal(r.headers['access-control-allow-headers'], 'x-token');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  assert.equal(r.headers['access-control-max-age'], '600');
  // A wildcard subdomain origin is allowed too.
  const sub = await call('/cors/items', { origin: 'https://eu.shop.example', 'access-control-request-method': 'GET' }, 'OPTIONS');
  assert.equal(sub.status, 204);
  assert.equal(sub.headers['access-control-allow-origin'], 'https://eu.shop.example');
  assert.equal(corsHits, before, 'no preflight reached an app');
});

test('CORS: an actual request from an allowed origin gets the Access-Control-* response fields', async () => {
  const r = await call('/cors/items', { origin: 'https://app.example', 'x-test-id': nextId() });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  assert.equal(r.headers['access-control-expose-headers'], 'x-served-by');
  assert.ok(r.headers['x-served-by']);
});

test('CORS: a disallowed origin gets no Access-Control-Allow-Origin, on the preflight or the actual request', async () => {
  const before = corsHits;
  const pre = await call('/cors/items', { origin: 'https://evil.example', 'access-control-request-method': 'PUT' }, 'OPTIONS');
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], undefined);
  assert.equal(pre.headers['access-control-allow-methods'], undefined);
  assert.equal(corsHits, before);
  const r = await call('/cors/items', { origin: 'https://evil.example', 'x-test-id': nextId() });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  assert.equal(r.headers['access-control-allow-credentials'], undefined);
});

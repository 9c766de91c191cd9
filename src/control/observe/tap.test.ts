import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { WEFT_VERSION } from '../../config/version.ts';
import { ProxyRegistry } from '../stream/proxy-registry.ts';
import type { ProxyRow } from '../stream/proxy-rows.ts';
import { sendError } from '../api/http-util.ts';
import { serveTap, shareOf, tapRequest } from './tap.ts';

const log = createLogger('test');

/** A sidecar's admin listener as far as /tap goes: records each tap, answers `status`, keeps the stream for the test to write. */
async function fakeSidecar(status = 200) {
  const taps: { url: string; res: http.ServerResponse; closed: boolean }[] = [];
  const server = http.createServer((req, res) => {
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'WEFT_ERR_TAP_TOO_MANY', message: 'this sidecar already serves 8 taps' } }));
      return;
    }
    const tap = { url: req.url ?? '', res, closed: false };
    taps.push(tap);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.flushHeaders();
    res.once('close', () => (tap.closed = true));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    taps,
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const node = (id: string, service: string, admin?: string) => ({ id, service, namespace: 'default', labels: {}, upstreams: [], weftVersion: WEFT_VERSION, ...(admin !== undefined && { adminAddress: admin }) });

/** The control plane's route alone, with its error replies. */
async function controlPlane(proxies: ProxyRegistry, otherProxies?: () => Promise<readonly ProxyRow[]>) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    serveTap(req, res, url, { proxies, ...(otherProxies && { otherProxies }), clock: systemClock, log, pollMs: 10 }).catch((err) => sendError(res, err, log));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** GET the tap; its lines as they come. */
function get(port: number, query: string): Promise<{ status: number; res: http.IncomingMessage; req: http.ClientRequest; lines: string[]; body(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/v1/tap?${query}`, agent: false }, (res) => {
      const lines: string[] = [];
      let text = '';
      const done = new Promise<string>((r) => res.on('end', () => r(text)).on('error', () => r(text)));
      res.setEncoding('utf8').on('data', (c: string) => {
        text += c;
        lines.splice(0, lines.length, ...text.split('\n').filter(Boolean));
      });
      resolve({ status: res.statusCode ?? 0, res, req, lines, body: () => done });
    });
    req.on('error', reject);
  });
}

/** Waits on the event loop (no timed sleep) until `probe` holds. */
async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 200_000 && !probe(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(probe(), what);
}

test('the query: service required, namespace defaults, the tap\'s own parameters checked with it', () => {
  const u = (q: string) => new URL(`http://x/v1/tap?${q}`);
  assert.deepEqual(tapRequest(u('service=reviews&method=get')), { service: 'reviews', namespace: 'default', query: { maxRps: 100, filter: { method: 'GET' } } });
  assert.throws(() => tapRequest(u('namespace=Bad&maxRps=0&extra=1')), (err: { code: string; status: number; details: { path: string }[] }) => {
    assert.equal(err.code, 'WEFT_ERR_API_BAD_REQUEST');
    assert.equal(err.status, 400);
    assert.deepEqual(err.details.map((d) => d.path).sort(), ['extra', 'maxRps', 'namespace', 'service']);
    return true;
  });
});

test('each sidecar gets its share of the rate', () => {
  assert.equal(shareOf(100, 2), 50);
  assert.equal(shareOf(100, 3), 33.333333);
  assert.equal(shareOf(1, 0), 1);
  assert.ok(shareOf(0.000001, 1000) > 0);
});

test('merges the streams of the service\'s sidecars, picks up a late one, and closes them all when the reader goes', async () => {
  const a = await fakeSidecar();
  const b = await fakeSidecar();
  const late = await fakeSidecar();
  const other = await fakeSidecar();
  const proxies = new ProxyRegistry();
  proxies.connected(node('reviews-a', 'reviews', a.address), '127.0.0.1:1', 1);
  proxies.connected(node('reviews-b', 'reviews', b.address), '127.0.0.1:2', 2);
  proxies.connected(node('ratings-1', 'ratings', other.address), '127.0.0.1:3', 3);
  const cp = await controlPlane(proxies);
  try {
    const t = await get(cp.port, 'service=reviews&maxRps=10&pathPrefix=/api');
    assert.equal(t.status, 200);
    assert.equal(t.res.headers['content-type'], 'application/x-ndjson');
    await until('the first line', () => t.lines.length >= 1);
    assert.deepEqual(JSON.parse(t.lines[0]), { type: 'tapping', service: 'reviews', namespace: 'default', proxies: ['reviews-a', 'reviews-b'], unreachable: [] });
    assert.equal(other.taps.length, 0, 'only the service\'s own sidecars');
    for (const s of [a, b]) assert.equal(s.taps[0].url, '/tap?maxRps=5&pathPrefix=%2Fapi');
    // Lines pass whole, even when a sidecar's write splits one.
    a.taps[0].res.write('{"type":"request","proxy":"reviews-a","path":"/api/1"}\n{"type":"req');
    b.taps[0].res.write('{"type":"dropped","proxy":"reviews-b","dropped":2}\n');
    a.taps[0].res.write('uest","proxy":"reviews-a","path":"/api/2"}\n');
    await until('three relayed lines', () => t.lines.length >= 4);
    assert.deepEqual(t.lines.slice(1).map((l) => JSON.parse(l)).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))), [
      { type: 'dropped', proxy: 'reviews-b', dropped: 2 },
      { type: 'request', proxy: 'reviews-a', path: '/api/1' },
      { type: 'request', proxy: 'reviews-a', path: '/api/2' },
    ]);
    // A sidecar that connects while the tap runs is tapped too; one that goes is told.
    proxies.connected(node('reviews-c', 'reviews', late.address), '127.0.0.1:4', 4);
    await until('the late sidecar attached', () => t.lines.some((l) => l.includes('"attached"')));
    assert.deepEqual(JSON.parse(t.lines.find((l) => l.includes('"attached"'))!), { type: 'attached', proxy: 'reviews-c' });
    b.taps[0].res.end();
    await until('b detached', () => t.lines.some((l) => l.includes('"detached"')));
    assert.equal(JSON.parse(t.lines.find((l) => l.includes('"detached"'))!).proxy, 'reviews-b');
    // One whose connection drops mid-stream (killed): the reason says what happened, not just "aborted".
    late.taps[0].res.socket?.destroy();
    await until('c detached', () => t.lines.filter((l) => l.includes('"detached"')).length >= 2);
    assert.match(JSON.parse(t.lines.filter((l) => l.includes('"detached"'))[1]).error, /^its stream broke \(aborted\): the sidecar stopped/);
    t.req.destroy();
    await until('the sidecar streams closed', () => a.taps[0].closed && late.taps[0].closed);
  } finally {
    await Promise.all([cp.close(), a.close(), b.close(), late.close(), other.close()]);
  }
});

test('no connected sidecar is a 404; sidecars that all refuse are a 503 naming why; one that refuses is listed', async () => {
  const ok = await fakeSidecar();
  const full = await fakeSidecar(429);
  const proxies = new ProxyRegistry();
  const gone = proxies.connected(node('gone-1', 'gone', ok.address), '127.0.0.1:1', 1);
  proxies.disconnected(gone, 2);
  proxies.connected(node('busy-1', 'busy', full.address), '127.0.0.1:2', 3);
  proxies.connected(node('old-1', 'busy'), '127.0.0.1:3', 4);
  const cp = await controlPlane(proxies);
  try {
    const none = await get(cp.port, 'service=gone');
    assert.equal(none.status, 404);
    assert.equal(JSON.parse(await none.body()).error.code, 'WEFT_ERR_TAP_NO_SIDECARS');
    const busy = await get(cp.port, 'service=busy');
    assert.equal(busy.status, 503);
    const error = JSON.parse(await busy.body()).error;
    assert.equal(error.code, 'WEFT_ERR_TAP_UNAVAILABLE');
    assert.match(error.message, /busy-1: its admin listener answered 429: this sidecar already serves 8 taps/);
    assert.match(error.message, /old-1: it did not report an admin listener/);
    proxies.connected(node('busy-2', 'busy', ok.address), '127.0.0.1:4', 5);
    const some = await get(cp.port, 'service=busy');
    assert.equal(some.status, 200);
    await until('the first line', () => some.lines.length >= 1);
    const first = JSON.parse(some.lines[0]);
    assert.deepEqual(first.proxies, ['busy-2']);
    assert.deepEqual(first.unreachable.map((u: { proxy: string }) => u.proxy), ['busy-1', 'old-1']);
    some.req.destroy();
    await until('closed', () => ok.taps.every((t) => t.closed));
  } finally {
    await Promise.all([cp.close(), ok.close(), full.close()]);
  }
});

test('replicas: sidecars whose stream is on another replica are tapped too, each once, and found while the tap runs', async () => {
  const here = await fakeSidecar();
  const there = await fakeSidecar();
  const later = await fakeSidecar();
  const proxies = new ProxyRegistry();
  proxies.connected(node('reviews-here', 'reviews', here.address), '127.0.0.1:1', 1);
  const row = (id: string, admin: string, service = 'reviews', connected = true): ProxyRow => ({ id, service, namespace: 'default', remote: '127.0.0.1:9', admin, connected, connectedAt: '2026-11-30T10:00:00.000Z', inSync: true, replica: 'http://b' });
  let others: ProxyRow[] = [
    row('reviews-here', '127.0.0.1:1'), // a stale row of a proxy now on this replica: this replica's view wins
    row('reviews-there', there.address),
    row('ratings-there', there.address, 'ratings'),
    row('reviews-gone', there.address, 'reviews', false),
  ];
  const cp = await controlPlane(proxies, async () => others);
  try {
    const t = await get(cp.port, 'service=reviews&maxRps=10');
    assert.equal(t.status, 200);
    await until('the first line', () => t.lines.length >= 1);
    assert.deepEqual(JSON.parse(t.lines[0]).proxies, ['reviews-here', 'reviews-there']);
    assert.equal(there.taps.length, 1, 'the ratings row and the disconnected one are not tapped');
    others = [...others, row('reviews-later', later.address)];
    await until('the later sidecar on the other replica attached', () => t.lines.some((l) => l.includes('"attached"')));
    assert.equal(JSON.parse(t.lines.find((l) => l.includes('"attached"'))!).proxy, 'reviews-later');
    t.req.destroy();
    await until('every sidecar stream closed', () => here.taps[0].closed && there.taps[0].closed && later.taps[0].closed);
  } finally {
    await Promise.all([cp.close(), here.close(), there.close(), later.close()]);
  }
  // All on another replica: not a 404 any more.
  const empty = new ProxyRegistry();
  const only = await fakeSidecar();
  const cp2 = await controlPlane(empty, async () => [row('reviews-x', only.address)]);
  try {
    const t = await get(cp2.port, 'service=reviews');
    assert.equal(t.status, 200);
    t.req.destroy();
  } finally {
    await Promise.all([cp2.close(), only.close()]);
  }
});

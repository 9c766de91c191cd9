import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isWeftError } from '../../lib/errors.ts';
import { hopOrder, type FateView } from '../../config/fate-view.ts';
import { adminTargets, clusterTargets, failureSummary, failuresQuery, lookupRequest, recentFailures, requestIdParam, type AdminTarget } from './fate-lookup.ts';
import type { ProxyStatus } from '../stream/proxy-registry.ts';

function fate(over: Partial<FateView> & Pick<FateView, 'requestId' | 'proxy' | 'time'>): FateView {
  return {
    direction: 'outbound', sampled: false, source: { service: 'web.default' }, destination: { service: 'api.default' },
    method: 'GET', authority: 'api', path: '/', filters: [], decisions: [], attempts: [], status: 200,
    bytesReceived: 0, bytesSent: 0, durationMs: 1, inFlight: false, ...over,
  };
}

/** A real admin listener holding `fates`: /fates?id= and /fates/recent?failed=1&limit= as a sidecar answers. */
async function fakeAdmin(fates: FateView[], o: { hang?: boolean; status?: number; delayMs?: number } = {}) {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    asked.push(req.url ?? '');
    if (o.hang) return; // never answers: the caller's timeout must end it
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      const url = new URL(req.url ?? '/', 'http://x');
      if (o.status) return void res.writeHead(o.status).end('{}');
      if (url.pathname === '/fates') {
        const items = fates.filter((f) => f.requestId === url.searchParams.get('id'));
        res.writeHead(items.length ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify({ items }));
      } else {
        const items = fates.filter((f) => f.status >= 500).reverse().slice(0, Number(url.searchParams.get('limit')));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items }));
      }
    }, o.delayMs ?? 0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}
const servers: http.Server[] = [];
/** Requests open across every fake admin listener, and the most seen at once. */
let inFlight = 0;
let maxInFlight = 0;
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function closedPort(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}

test('a request is looked up on every sidecar and its hops merged in the order they began', async () => {
  const a = await fakeAdmin([
    fate({ requestId: 'r1', proxy: 'web-1', time: '2026-11-30T10:00:00.001Z', status: 503, reason: 'upstream-connect-failure' }),
    fate({ requestId: 'other', proxy: 'web-1', time: '2026-11-30T10:00:00.000Z' }),
  ]);
  const b = await fakeAdmin([
    fate({ requestId: 'r1', proxy: 'api-1', direction: 'inbound', time: '2026-11-30T10:00:00.001Z' }),
    fate({ requestId: 'r1', proxy: 'api-1', direction: 'outbound', time: '2026-11-30T10:00:00.002Z', source: { service: 'api.default' }, destination: { service: 'db.default' } }),
  ]);
  const targets: AdminTarget[] = [
    { proxy: 'api-1', address: b.address },
    { proxy: 'web-1', address: a.address },
    { proxy: 'gone-1', address: await closedPort() },
    { proxy: 'old-1', address: undefined },
    { proxy: 'far-1', address: undefined, why: 'its admin listener is loopback on its own host' },
  ];
  const answer = await lookupRequest(targets, 'r1');
  // web-1's outbound and api-1's inbound began in the same millisecond: the caller's hop first.
  assert.deepEqual(answer.items.map((f) => `${f.proxy} ${f.direction}`), ['web-1 outbound', 'api-1 inbound', 'api-1 outbound']);
  assert.equal(answer.asked, 5);
  assert.deepEqual(answer.unreachable.map((u) => u.proxy), ['far-1', 'gone-1', 'old-1']);
  assert.equal(answer.unreachable[0].error, 'its admin listener is loopback on its own host');
  assert.match(answer.unreachable[1].error, /ECONNREFUSED/);
  assert.match(answer.unreachable[2].error, /did not report an admin listener/);
  assert.deepEqual(a.asked, ['/fates?id=r1']);
});

test('an id no sidecar holds is a 404 that says so and names who could not be asked', async () => {
  const a = await fakeAdmin([fate({ requestId: 'r1', proxy: 'web-1', time: '2026-11-30T10:00:00.000Z' })]);
  await assert.rejects(lookupRequest([{ proxy: 'web-1', address: a.address }, { proxy: 'gone-1', address: await closedPort() }], 'no/such id'), (err) => {
    assert.ok(isWeftError(err));
    assert.equal(err.code, 'WEFT_ERR_API_REQUEST_NOT_FOUND');
    assert.equal(err.status, 404);
    assert.match(err.message, /no sidecar holds a fate for request no\/such id \(asked 2 sidecars, 1 not reachable: gone-1\)/);
    return true;
  });
  // The id travels encoded.
  assert.deepEqual(a.asked, ['/fates?id=no%2Fsuch%20id']);
});

test('a sidecar that does not answer within the timeout, or answers an error, is listed as unreachable', async () => {
  const hung = await fakeAdmin([], { hang: true });
  const broken = await fakeAdmin([], { status: 500 });
  const ok = await fakeAdmin([fate({ requestId: 'r1', proxy: 'ok-1', time: '2026-11-30T10:00:00.000Z' })]);
  const answer = await lookupRequest([{ proxy: 'hung-1', address: hung.address }, { proxy: 'broken-1', address: broken.address }, { proxy: 'ok-1', address: ok.address }], 'r1', { timeoutMs: 150 });
  assert.equal(answer.items.length, 1);
  assert.deepEqual(answer.unreachable.map((u) => u.proxy), ['broken-1', 'hung-1']);
  assert.match(answer.unreachable[0].error, /admin answered 500/);
  assert.match(answer.unreachable[1].error, /no answer within 150ms/);
});

test('at most `concurrency` sidecars are asked at once, and every one is asked', async () => {
  // Each answers 30 ms late, so that asks not bounded would pile up at the listeners.
  const admins = await Promise.all(Array.from({ length: 7 }, (_, i) => fakeAdmin([fate({ requestId: 'r', proxy: `p${i}`, time: `2026-11-30T10:00:00.00${i}Z` })], { delayMs: 30 })));
  maxInFlight = 0;
  const answer = await lookupRequest(admins.map((a, i) => ({ proxy: `p${i}`, address: a.address })), 'r', { concurrency: 2 });
  assert.equal(maxInFlight, 2);
  for (const a of admins) assert.equal(a.asked.length, 1);
  assert.deepEqual(answer.items.map((f) => f.proxy), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
});

test('recent failures: newest first, limited, filtered by service (either end) or namespace', async () => {
  const a = await fakeAdmin([
    fate({ requestId: 'ok', proxy: 'web-1', time: '2026-11-30T10:00:00.000Z' }),
    fate({ requestId: 'f1', proxy: 'web-1', time: '2026-11-30T10:00:01.000Z', status: 503, reason: 'upstream-connect-failure', route: 'default/api', rule: '0', attempts: [{ endpoint: '10.0.0.1:80', status: 0, failure: 'connect', startMs: 0, durationMs: 1 }, { endpoint: '10.0.0.2:80', status: 0, failure: 'reset', startMs: 2, durationMs: 1 }] }),
    fate({ requestId: 'f3', proxy: 'web-1', time: '2026-11-30T10:00:03.000Z', status: 500, destination: { service: 'other.shop' } }),
  ]);
  const b = await fakeAdmin([fate({ requestId: 'f2', proxy: 'api-1', direction: 'inbound', time: '2026-11-30T10:00:02.000Z', status: 504, reason: 'request-timeout' })]);
  const targets = [{ proxy: 'web-1', address: a.address }, { proxy: 'api-1', address: b.address }];
  const all = await recentFailures(targets, { limit: 50 });
  assert.deepEqual(all.items.map((f) => f.requestId), ['f3', 'f2', 'f1']);
  assert.deepEqual(all.items[2], {
    time: '2026-11-30T10:00:01.000Z', requestId: 'f1', proxy: 'web-1', direction: 'outbound', source: 'web.default', destination: 'api.default',
    method: 'GET', path: '/', route: 'default/api', rule: '0', status: 503, reason: 'upstream-connect-failure', endpoint: '10.0.0.2:80', failure: 'reset', durationMs: 1,
  });
  assert.ok(a.asked.includes('/fates/recent?failed=1&limit=50'));
  assert.deepEqual((await recentFailures(targets, { limit: 2 })).items.map((f) => f.requestId), ['f3', 'f2']);
  const api = await recentFailures(targets, { service: 'api', limit: 50 });
  assert.deepEqual(api.items.map((f) => f.requestId), ['f2', 'f1']);
  // Filtered here: each sidecar is asked for its whole failed ring.
  assert.ok(a.asked.includes('/fates/recent?failed=1&limit=500'));
  assert.deepEqual((await recentFailures(targets, { service: 'other', namespace: 'shop', limit: 50 })).items.map((f) => f.requestId), ['f3']);
  assert.deepEqual((await recentFailures(targets, { namespace: 'shop', limit: 50 })).items.map((f) => f.requestId), ['f3']);
  assert.deepEqual((await recentFailures(targets, { service: 'nobody', limit: 50 })).items, []);
});

test('a failure summary without attempts names no endpoint', () => {
  const s = failureSummary(fate({ requestId: 'x', proxy: 'p', time: '2026-11-30T10:00:00.000Z', status: 503, reason: 'fault-abort' }));
  assert.equal(s.endpoint, undefined);
  assert.equal(s.failure, undefined);
  assert.equal(s.reason, 'fault-abort');
});

test('the query of GET /v1/failures is checked, naming the parameter', () => {
  const q = (s: string) => failuresQuery(new URL(`http://x/v1/failures${s}`));
  assert.deepEqual(q(''), { limit: 50 });
  assert.deepEqual(q('?service=api&namespace=shop&limit=500'), { service: 'api', namespace: 'shop', limit: 500 });
  for (const [s, path] of [['?limit=0', 'limit'], ['?limit=501', 'limit'], ['?limit=1.5', 'limit'], ['?limit=', 'limit'], ['?service=API', 'service'], ['?namespace=a.b', 'namespace'], ['?servce=api', 'servce'], ['?limit=1&limit=2', 'limit'], ['?service=api&service=web', 'service']]) {
    assert.throws(() => q(s), (err) => isWeftError(err) && err.code === 'WEFT_ERR_API_BAD_REQUEST' && err.status === 400 && err.details[0].path === path, s);
  }
  assert.equal(requestIdParam('abc'), 'abc');
  assert.throws(() => requestIdParam('x'.repeat(129)), (err) => isWeftError(err) && err.code === 'WEFT_ERR_API_BAD_REQUEST');
  assert.equal(requestIdParam('4bf92f35-77b3-4da6-a3ce-929d0e0e4736'), '4bf92f35-77b3-4da6-a3ce-929d0e0e4736');
  for (const bad of ['a\nb', 'a\u0000', 'a b', 'a"b']) assert.throws(() => requestIdParam(bad), (err) => isWeftError(err) && err.code === 'WEFT_ERR_API_BAD_REQUEST' && !err.message.includes(bad), JSON.stringify(bad));
});

test('the hop order: by time; in a tie, inbound first on one proxy and outbound first across proxies', () => {
  const t = '2026-11-30T10:00:00.000Z';
  const out = fate({ requestId: 'r', proxy: 'p', time: t, direction: 'outbound' });
  const inSame = fate({ requestId: 'r', proxy: 'p', time: t, direction: 'inbound' });
  const inOther = fate({ requestId: 'r', proxy: 'q', time: t, direction: 'inbound' });
  assert.ok(hopOrder(inSame, out) < 0);
  assert.ok(hopOrder(out, inOther) < 0);
  assert.ok(hopOrder(fate({ requestId: 'r', proxy: 'q', time: '2026-11-30T09:00:00.000Z' }), out) < 0);
});

test('only connected proxies are asked, a wildcard admin bind at the address the proxy connected from, a loopback one only from its own host', () => {
  const node = (id: string, adminAddress?: string) => ({ id, service: 's', namespace: 'default', labels: {}, upstreams: [], weftVersion: '0', ...(adminAddress && { adminAddress }) });
  const list = [
    { node: node('a', '0.0.0.0:15000'), remote: '10.0.0.5:40000', connected: true, connectedAt: 0 },
    { node: node('b', '127.0.0.1:15001'), remote: '127.0.0.1:40001', connected: false, connectedAt: 0 },
    { node: node('c'), remote: '127.0.0.1:40002', connected: true, connectedAt: 0 },
    { node: node('d', '127.0.0.1:15003'), remote: '::ffff:127.0.0.1:40003', connected: true, connectedAt: 0 },
    { node: node('e', '127.0.0.1:15004'), remote: '10.0.0.6:40004', connected: true, connectedAt: 0 },
  ] as unknown as ProxyStatus[];
  const targets = adminTargets(list);
  assert.deepEqual(targets.slice(0, 3), [{ proxy: 'a', address: '10.0.0.5:15000' }, { proxy: 'c', address: undefined }, { proxy: 'd', address: '127.0.0.1:15003' }]);
  // A loopback admin listener on another host: here its address would be another process.
  assert.equal(targets[3].address, undefined);
  assert.match(targets[3].why ?? '', /127\.0\.0\.1:15004 is loopback on its own host \(10\.0\.0\.6\)/);
});

test('replicas: proxies on another replica are asked too, each proxy once, this replica\'s view first', () => {
  const node = (id: string, adminAddress?: string) => ({ id, service: 's', namespace: 'default', labels: {}, upstreams: [], weftVersion: '0', ...(adminAddress && { adminAddress }) });
  const own = [
    { node: node('a', '127.0.0.1:15000'), remote: '127.0.0.1:40000', connected: true, connectedAt: 0 },
    { node: node('moved', '127.0.0.1:15001'), remote: '127.0.0.1:40001', connected: false, connectedAt: 0 },
  ] as unknown as ProxyStatus[];
  const others = [
    { id: 'a', admin: '127.0.0.1:19999', remote: '127.0.0.1:40000', connected: true }, // a stale row of ours: ours wins
    { id: 'moved', admin: '127.0.0.1:15001', remote: '127.0.0.1:40001', connected: true }, // its stream is on the other replica now
    { id: 'b', admin: '0.0.0.0:15002', remote: '10.0.0.7:40002', connected: true },
    { id: 'gone', admin: '127.0.0.1:15003', remote: '127.0.0.1:40003', connected: false },
  ];
  assert.deepEqual(clusterTargets(own, others), [
    { proxy: 'a', address: '127.0.0.1:15000' },
    { proxy: 'moved', address: '127.0.0.1:15001' },
    { proxy: 'b', address: '10.0.0.7:15002' },
  ]);
  assert.deepEqual(clusterTargets(own, []), [{ proxy: 'a', address: '127.0.0.1:15000' }]);
});

test('a sidecar\'s whole failed ring is read even when its JSON passes 1 MiB', async () => {
  const message = 'x'.repeat(3_000);
  const fates = Array.from({ length: 500 }, (_, i) => fate({ requestId: `f${i}`, proxy: 'web-1', time: `2026-11-30T10:00:${String(i % 60).padStart(2, '0')}.000Z`, status: 503, message }));
  const a = await fakeAdmin(fates);
  const answer = await recentFailures([{ proxy: 'web-1', address: a.address }], { service: 'api', limit: 500 });
  assert.deepEqual(answer.unreachable, []);
  assert.equal(answer.items.length, 500);
});

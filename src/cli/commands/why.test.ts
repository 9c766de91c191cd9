import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WeftError } from '../../lib/errors.ts';
import { describeFate, findFates } from './why.ts';
import type { FateView } from '../../config/fate-view.ts';

test('a fate told in words: route, decisions, each attempt and the local reply', () => {
  const f: FateView = {
    requestId: 'r1', proxy: 'client-1', direction: 'outbound', time: '2026-11-30T08:00:00.000Z', sampled: false,
    source: { service: 'client.default' }, destination: { service: 'reviews.default' },
    method: 'GET', authority: 'reviews', path: '/stars', route: 'default/reviews', rule: '1',
    filters: [],
    decisions: ['fault: delay 5ms'],
    attempts: [
      { endpoint: '10.0.0.1:8080', status: 0, failure: 'connect', detail: 'ECONNREFUSED', startMs: 0, durationMs: 1.25 },
      { endpoint: '10.0.0.2:8080', status: 503, failure: 'retriable-status-code', startMs: 2, durationMs: 30 },
    ],
    status: 503, reason: 'all-endpoints-tried', message: 'upstream 10.0.0.2:8080 answered 503, and no endpoint is left to retry on',
    bytesReceived: 0, bytesSent: 0, durationMs: 33.5, inFlight: false,
  };
  const text = describeFate(f);
  assert.match(text, /^client-1 outbound client\.default → reviews\.default: GET reviews\/stars → 503 all-endpoints-tried in 34ms/);
  assert.match(text, /route: default\/reviews rule 1 matched/);
  assert.match(text, /decision: fault: delay 5ms/);
  assert.match(text, /attempt 1: 10\.0\.0\.1:8080 failed: connect \(ECONNREFUSED\) after 1\.3ms/);
  assert.match(text, /attempt 2: 10\.0\.0\.2:8080 failed: retriable-status-code, answered 503 after 30ms/);
  assert.match(text, /local reply: 503 all-endpoints-tried — upstream 10\.0\.0\.2:8080 answered 503/);
});

/** A real HTTP server on loopback answering `handler`; closed after the test. */
async function serve(t: TestContext, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

test('against a control plane without GET /v1/requests, weft why asks the sidecars it lists directly', async (t) => {
  const fate = { requestId: 'r1', proxy: 'web-1', direction: 'outbound', time: '2026-11-30T10:00:00.000Z', sampled: false, source: { service: 'web.default' }, destination: { service: 'api.default' }, method: 'GET', authority: 'api', path: '/', filters: [], decisions: [], attempts: [], status: 200, bytesReceived: 0, bytesSent: 0, durationMs: 1, inFlight: false };
  const adminPort = await serve(t, (req, res) => {
    assert.equal(req.url, '/fates?id=r1');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requestId: 'r1', items: [fate] }));
  });
  const asked: string[] = [];
  const controlPort = await serve(t, (req, res) => {
    asked.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    if (req.url === '/v1/proxies') {
      // A wildcard admin bind: reached at the address the proxy connected from.
      const items = [{ id: 'web-1', service: 'web', namespace: 'default', remote: '127.0.0.1:40000', admin: `0.0.0.0:${adminPort}`, connected: true }, { id: 'old-1', service: 'x', namespace: 'default', remote: '127.0.0.1:40001', connected: true }];
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items }));
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'WEFT_ERR_API_NOT_FOUND', message: `no API route ${req.url}` } }));
  });
  const out = await findFates('r1', { control: `http://127.0.0.1:${controlPort}`, token: 'tok', proxies: [] });
  assert.deepEqual(asked, ['GET /v1/requests/r1 Bearer tok', 'GET /v1/proxies Bearer tok']);
  assert.deepEqual(out.items.map((f) => f.proxy), ['web-1']);
  assert.equal(out.asked, 2);
  assert.deepEqual(out.unreachable.map((u) => u.proxy), ['old-1']);
});

test('weft why turns the control plane\'s not-found into WEFT_ERR_CLI_NOT_FOUND with its words', async (t) => {
  const controlPort = await serve(t, (_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'WEFT_ERR_API_REQUEST_NOT_FOUND', message: 'no sidecar holds a fate for request gone (asked 3 sidecars): …' } }));
  });
  await assert.rejects(findFates('gone', { control: `http://127.0.0.1:${controlPort}`, token: undefined, proxies: [] }), (err: WeftError) => {
    assert.equal(err.code, 'WEFT_ERR_CLI_NOT_FOUND');
    assert.match(err.message, /asked 3 sidecars/);
    return true;
  });
});

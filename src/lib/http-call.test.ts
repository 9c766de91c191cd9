import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { httpCall } from './http-call.ts';

async function server(handler: http.RequestListener): Promise<{ url: string; close: () => void }> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, close: () => s.close() };
}

test('sends JSON with its content type and returns status and body', async () => {
  const s = await server((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, type: req.headers['content-type'], auth: req.headers.authorization, got: JSON.parse(body) }));
    });
  });
  try {
    const r = await httpCall(`${s.url}/x`, { method: 'POST', headers: { authorization: 'Bearer t' }, json: { a: 1 }, timeoutMs: 2_000 });
    assert.equal(r.status, 201);
    assert.equal(r.ok, true);
    assert.deepEqual(JSON.parse(r.body), { method: 'POST', type: 'application/json', auth: 'Bearer t', got: { a: 1 } });
  } finally {
    s.close();
  }
});

test('a non-2xx answer resolves with ok false', async () => {
  const s = await server((_req, res) => res.writeHead(404).end('gone'));
  try {
    const r = await httpCall(s.url, { method: 'DELETE', timeoutMs: 2_000 });
    assert.deepEqual([r.status, r.ok, r.body], [404, false, 'gone']);
  } finally {
    s.close();
  }
});

test('a server that accepts but never answers is given up on at the deadline, with why', async () => {
  const silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const port = (silent.address() as AddressInfo).port;
    await assert.rejects(httpCall(`http://127.0.0.1:${port}/`, { method: 'GET', timeoutMs: 100 }), /no answer within 100ms/);
  } finally {
    silent.close();
  }
});

test('refuses a scheme it does not speak instead of sending plaintext', async () => {
  await assert.rejects(httpCall('https://127.0.0.1:1/', { method: 'GET', timeoutMs: 100 }), /unsupported URL scheme https:/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestTarget, requestTarget } from './request-target.ts';

test('the four forms, each only with its method (RFC 9112 §3.2)', () => {
  assert.deepEqual(parseRequestTarget('GET', '/a?b'), { authority: undefined, path: '/a?b' });
  assert.deepEqual(parseRequestTarget('GET', '//a'), { authority: undefined, path: '//a' });
  assert.deepEqual(parseRequestTarget('POST', 'HTTP://Echo.NS:80/x/y?z'), { authority: 'Echo.NS:80', path: '/x/y?z' });
  assert.deepEqual(parseRequestTarget('GET', 'https://echo'), { authority: 'echo', path: '/' });
  assert.deepEqual(parseRequestTarget('GET', 'http://echo?q'), { authority: 'echo', path: '/?q' });
  assert.deepEqual(parseRequestTarget('OPTIONS', '*'), { authority: undefined, path: '*' });
  assert.deepEqual(parseRequestTarget('CONNECT', 'echo:443'), { authority: 'echo:443', path: 'echo:443' });
  assert.deepEqual(parseRequestTarget('CONNECT', '[::1]:443'), { authority: '[::1]:443', path: '[::1]:443' });
});

test('anything else is refused with a reason', () => {
  const bad: [string, string][] = [
    ['GET', 'admin/secret'],
    ['GET', ''],
    ['GET', '*'],
    ['OPTIONS', '**'],
    ['GET', 'echo:80'],
    ['CONNECT', '/x'],
    ['CONNECT', 'echo'],
    ['CONNECT', 'http://echo:80/'],
    ['GET', '/a#b'],
    ['GET', 'http://echo/#b'],
    ['GET', 'http://u:p@echo/'],
    ['GET', 'http:///x'],
    ['GET', 'http://:80/x'],
    ['GET', 'http://echo:port/'],
    ['GET', 'http://echo:65536/'],
    ['GET', 'http://[::1/'],
    ['GET', 'http://a]b/'],
    ['GET', 'http://ech o/'],
    ['GET', 'http://échо/'],
    ['GET', 'httpx://echo/'],
    ['GET', 'ws://echo/'],
  ];
  for (const [method, target] of bad) assert.equal(typeof parseRequestTarget(method, target), 'string', `${method} ${target}`);
});

test('node:http and HTTP/2 requests are parsed here; the lean server’s come parsed', () => {
  const pre = { authority: undefined, path: '/pre' };
  assert.equal(requestTarget({ method: 'GET', url: 'nonsense', httpVersionMajor: 1, headers: {}, target: pre }), pre);
  assert.deepEqual(requestTarget({ method: 'GET', url: 'HTTP://echo/admin', httpVersionMajor: 1, headers: {} }), { authority: 'echo', path: '/admin' });
  assert.deepEqual(requestTarget({ method: 'GET', url: '/x', httpVersionMajor: 2, headers: { ':authority': 'echo' } }), { authority: undefined, path: '/x' });
  assert.equal(typeof requestTarget({ method: 'GET', url: 'x', httpVersionMajor: 2, headers: {} }), 'string');
  assert.equal(typeof requestTarget({ method: 'GET', url: undefined, httpVersionMajor: 1, headers: {} }), 'string');
});

test('node:http requests whose Connection names the framing or Host are refused as the lean parser refuses them', () => {
  for (const connection of ['content-length', 'Keep-Alive, Transfer-Encoding', 'host']) {
    assert.equal(typeof requestTarget({ method: 'POST', url: '/x', httpVersionMajor: 1, headers: { connection } }), 'string', connection);
  }
  for (const connection of ['keep-alive', 'close', 'Upgrade', 'keep-alive, x-private']) {
    assert.deepEqual(requestTarget({ method: 'POST', url: '/x', httpVersionMajor: 1, headers: { connection } }), { authority: undefined, path: '/x' }, connection);
  }
});

test('hostError: host[:port] passes; a path, userinfo, spaces or a bad port do not', async () => {
  const { hostError } = await import('./request-target.ts');
  for (const ok of ['orders', 'orders.shop', 'orders:8080', '127.0.0.1:9', '[::1]:80', 'a_b-c.example']) assert.equal(hostError(ok), undefined, ok);
  for (const bad of ['orders/admin', 'x@orders', 'orders:80/x', 'ord ers', '', 'orders:', 'orders:99999', '[::1']) assert.ok(hostError(bad), bad);
});

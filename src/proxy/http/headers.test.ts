import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forbiddenConnectionOption, forwardableHeaders, parsedContentLength } from './headers.ts';

test('forwardableHeaders never copies the framing; the length comes from the caller’s decision only', () => {
  const incoming = { connection: 'content-length, x-private', 'content-length': '38', 'transfer-encoding': 'chunked', 'x-private': 'p', accept: 'a', host: 'h', ':path': '/' };
  assert.deepEqual(forwardableHeaders(incoming, 38), { accept: 'a', 'content-length': 38 });
  assert.deepEqual(forwardableHeaders(incoming), { accept: 'a' });
  assert.deepEqual(forwardableHeaders({ 'content-length': '5' }, 0), { 'content-length': 0 });
});

test('forbiddenConnectionOption names the framing fields and Host, in any case and position', () => {
  for (const [value, named] of [['content-length', 'content-length'], ['keep-alive, Transfer-Encoding', 'transfer-encoding'], ['x,HOST', 'host'], [' close ,  content-length ', 'content-length']] as const) {
    assert.equal(forbiddenConnectionOption(value), named, value);
  }
  for (const value of ['keep-alive', 'close', 'Upgrade', 'keep-alive, upgrade', 'x-content-length', 'te']) assert.equal(forbiddenConnectionOption(value), undefined, value);
});

test('parsedContentLength reads only a plain decimal', () => {
  assert.equal(parsedContentLength('12'), 12);
  assert.equal(parsedContentLength('0'), 0);
  for (const bad of [undefined, '', '+1', '1, 1', ' 1', '0x10', ['1']] as const) assert.equal(parsedContentLength(bad as never), undefined, String(bad));
});

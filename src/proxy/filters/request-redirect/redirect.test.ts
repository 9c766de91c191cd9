import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redirectLocation, type RedirectRequest } from './redirect.ts';

const req: RedirectRequest = { scheme: 'http', hostname: 'reviews', port: 8080, target: '/old/page?x=1' };

test('defaults: same scheme, host and addressed port; the path and query unchanged', () => {
  assert.equal(redirectLocation({ statusCode: 302 }, req, '/old'), 'http://reviews:8080/old/page?x=1');
  assert.equal(redirectLocation({ statusCode: 302 }, { ...req, port: 80 }, '/old'), 'http://reviews/old/page?x=1', 'port 80 is not written for http');
});

test('a scheme without a port takes its well-known port, which is then left out', () => {
  assert.equal(redirectLocation({ statusCode: 301, scheme: 'https' }, req, '/old'), 'https://reviews/old/page?x=1');
  assert.equal(redirectLocation({ statusCode: 301, scheme: 'https', port: 8443 }, req, '/old'), 'https://reviews:8443/old/page?x=1');
});

test('hostname, port and path modifiers', () => {
  assert.equal(redirectLocation({ statusCode: 303, hostname: 'new.example.com', port: 80 }, req, '/old'), 'http://new.example.com/old/page?x=1');
  assert.equal(redirectLocation({ statusCode: 307, path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } }, req, '/old'), 'http://reviews:8080/new/page?x=1');
  assert.equal(redirectLocation({ statusCode: 308, path: { type: 'ReplaceFullPath', replaceFullPath: '/' } }, req, '/old'), 'http://reviews:8080/?x=1');
});

// Unit tests of the CORS filter: origin matching (exact, `*`, wildcard subdomains), the preflight's
// fields and the actual response's edits, with and without credentials.

import test from 'node:test';
import assert from 'node:assert/strict';
import { compileCors } from './cors.ts';
import type { HTTPCORSFilter } from '../../../config/kinds/http-route.ts';

const base: HTTPCORSFilter = { allowOrigins: [], allowMethods: [], allowHeaders: [], exposeHeaders: [], allowCredentials: false, maxAge: 5 };

test('origins: exact (case-insensitive, port significant), wildcard subdomains, and nothing else', () => {
  const cors = compileCors({ ...base, allowOrigins: ['https://app.example', 'https://*.example.com', 'http://*.dev.test:8080'] });
  assert.equal(cors.allows('https://app.example'), true);
  assert.equal(cors.allows('HTTPS://APP.EXAMPLE'), true);
  assert.equal(cors.allows('http://app.example'), false);
  assert.equal(cors.allows('https://app.example:8443'), false);
  assert.equal(cors.allows('https://a.example.com'), true);
  assert.equal(cors.allows('https://a.b.example.com'), true);
  assert.equal(cors.allows('https://example.com'), false);
  assert.equal(cors.allows('https://badexample.com'), false);
  assert.equal(cors.allows('http://x.dev.test:8080'), true);
  assert.equal(cors.allows('http://x.dev.test'), false);
  assert.equal(cors.allows('null'), false);
});

test('`*` allows any origin; an empty list none', () => {
  assert.equal(compileCors({ ...base, allowOrigins: ['*'] }).allows('https://anything.example'), true);
  assert.equal(compileCors(base).allows('https://anything.example'), false);
});

test('preflight: detected only with OPTIONS, Origin and Access-Control-Request-Method', () => {
  const cors = compileCors({ ...base, allowOrigins: ['*'] });
  assert.equal(cors.isPreflight('OPTIONS', { origin: 'https://a.example', 'access-control-request-method': 'PUT' }), true);
  assert.equal(cors.isPreflight('OPTIONS', { origin: 'https://a.example' }), false);
  assert.equal(cors.isPreflight('GET', { origin: 'https://a.example', 'access-control-request-method': 'PUT' }), false);
});

test('preflight fields from the config; none for an origin not allowed', () => {
  const cors = compileCors({ ...base, allowOrigins: ['https://app.example'], allowMethods: ['GET', 'PUT'], allowHeaders: ['x-token'], maxAge: 600 });
  const h = { origin: 'https://app.example', 'access-control-request-method': 'PUT' };
  assert.deepEqual(cors.preflight(h), {
    'access-control-allow-origin': 'https://app.example',
    vary: 'Origin',
    'access-control-allow-methods': 'GET, PUT',
    'access-control-allow-headers': 'x-token',
    'access-control-max-age': '600',
  });
  assert.deepEqual(cors.preflight({ ...h, origin: 'https://evil.example' }), {});
});

test('preflight with wildcards: `*` without credentials, the request\'s own values with them', () => {
  const wild = { ...base, allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'] };
  const h = { origin: 'https://app.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'x-a, x-b' };
  const open = compileCors(wild).preflight(h);
  assert.equal(open['access-control-allow-origin'], '*');
  assert.equal(open['access-control-allow-methods'], '*');
  assert.equal(open['access-control-allow-headers'], '*');
  assert.equal(open['access-control-allow-credentials'], undefined);
  const creds = compileCors({ ...wild, allowCredentials: true }).preflight(h);
  assert.equal(creds['access-control-allow-origin'], 'https://app.example');
  assert.equal(creds['access-control-allow-methods'], 'DELETE');
  assert.equal(creds['access-control-allow-headers'], 'x-a, x-b');
  assert.equal(creds['access-control-allow-credentials'], 'true');
});

test('actual response: the filter\'s fields replace the app\'s; no edit for a disallowed or absent origin', () => {
  const cors = compileCors({ ...base, allowOrigins: ['https://*.example.com'], exposeHeaders: ['x-total'], allowCredentials: true });
  const edit = cors.response({ origin: 'https://shop.example.com' });
  assert.ok(edit);
  assert.deepEqual(edit(['content-type', 'text/plain', 'access-control-allow-origin', '*']), [
    'content-type', 'text/plain',
    'access-control-allow-origin', 'https://shop.example.com',
    'vary', 'Origin',
    'access-control-allow-credentials', 'true',
    'access-control-expose-headers', 'x-total',
  ]);
  assert.equal(cors.response({ origin: 'https://example.org' }), undefined);
  assert.equal(cors.response({}), undefined);
});

test('exposeHeaders `*` with credentials names the response\'s own fields', () => {
  const edit = compileCors({ ...base, allowOrigins: ['*'], exposeHeaders: ['*'], allowCredentials: true }).response({ origin: 'https://a.example' })!;
  const out = edit(['x-one', '1', 'x-two', '2']);
  assert.equal(out[out.indexOf('access-control-expose-headers') + 1], 'x-one, x-two');
  const open = compileCors({ ...base, allowOrigins: ['*'], exposeHeaders: ['*'] }).response({ origin: 'https://a.example' })!;
  const o = open(['x-one', '1']);
  assert.equal(o[o.indexOf('access-control-expose-headers') + 1], '*');
  assert.equal(o[o.indexOf('access-control-allow-origin') + 1], '*');
});

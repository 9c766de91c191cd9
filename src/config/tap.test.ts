import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TAP_DEFAULT_MAX_RPS, parseTapQuery, tapQueryString } from './tap.ts';

const parse = (q: string, also: string[] = []) => parseTapQuery(new URLSearchParams(q), also);
const paths = (q: string, also: string[] = []): string[] => {
  const r = parse(q, also);
  assert.equal(r.ok, false, q);
  return r.ok ? [] : r.errors.map((e) => e.path);
};

test('an empty tap query: every request, at the default rate', () => {
  assert.deepEqual(parse(''), { ok: true, value: { maxRps: TAP_DEFAULT_MAX_RPS, filter: {} } });
});

test('filters are read and normalized: method upper-cased, authority lower-cased, fractional rates', () => {
  const r = parse('maxRps=0.5&method=get&pathPrefix=/api&authority=Reviews:80&direction=inbound&to=reviews.prod');
  assert.deepEqual(r, { ok: true, value: { maxRps: 0.5, filter: { method: 'GET', pathPrefix: '/api', authority: 'reviews:80', direction: 'inbound', to: 'reviews.prod' } } });
  assert.equal(parse('authority=[::1]:8080').ok, true);
});

test('every bad parameter is named; unknown and repeated ones are errors, not ignored', () => {
  assert.deepEqual(paths('maxRps=0'), ['maxRps']);
  assert.deepEqual(paths('maxRps=10001'), ['maxRps']);
  assert.deepEqual(paths('maxRps=-1'), ['maxRps']);
  assert.deepEqual(paths('maxRps=1e3'), ['maxRps']);
  assert.deepEqual(paths('method=GE T&pathPrefix=api&authority=a b&direction=up&to=Bad_Name'), ['method', 'pathPrefix', 'authority', 'direction', 'to']);
  assert.deepEqual(paths('path=/x'), ['path']);
  assert.deepEqual(paths('method=GET&method=POST'), ['method']);
  assert.deepEqual(paths('service=reviews'), ['service']);
  assert.equal(parse('service=reviews', ['service']).ok, true, 'the caller names its own parameters');
});

test('the query string reads back as the same query', () => {
  for (const q of ['', 'maxRps=3.25&method=POST&pathPrefix=/a b&authority=x:1&direction=outbound&to=reviews']) {
    const first = parse(q);
    assert.ok(first.ok);
    assert.deepEqual(parse(tapQueryString(first.value)), first);
  }
});

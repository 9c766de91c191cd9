import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTraceparent, newSpanId, newTraceId, parseB3Multi, parseB3Single, parseTraceparent, readTraceContext } from './trace-context.ts';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

test('traceparent: the W3C example parses, with its sampled flag', () => {
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-01`), { traceId: T, spanId: S, sampled: true });
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-00`), { traceId: T, spanId: S, sampled: false });
  // A later version may carry more fields; flags other than sampled are ignored.
  assert.deepEqual(parseTraceparent(`01-${T}-${S}-03-extra`), { traceId: T, spanId: S, sampled: true });
});

test('traceparent: malformed values are ignored, never thrown', () => {
  for (const bad of [
    undefined,
    '',
    'garbage',
    `00-${T}-${S}`,
    `00-${T}-${S}-01-extra`, // version 00 has exactly four fields
    `ff-${T}-${S}-01`, // version ff is invalid
    `00-${'0'.repeat(32)}-${S}-01`, // all-zero trace id
    `00-${T}-${'0'.repeat(16)}-01`, // all-zero parent id
    `00-${T.toUpperCase()}-${S}-01`, // upper-case hex is not allowed
    `00-${T}-${S}-0g`,
    [`00-${T}-${S}-01`, `00-${T}-${S}-01`], // two fields
    `00-${T}-${S}-01${'x'.repeat(600)}`,
  ]) assert.equal(parseTraceparent(bad as string), undefined, String(bad));
});

test('B3 single: 128- and 64-bit ids, sampling state, debug; malformed ignored', () => {
  assert.deepEqual(parseB3Single(`${T}-${S}-1`), { traceId: T, spanId: S, sampled: true, decided: true });
  assert.deepEqual(parseB3Single(`${T}-${S}-d-05e3ac9a4f6e3b90`), { traceId: T, spanId: S, sampled: true, decided: true });
  assert.deepEqual(parseB3Single(`a3ce929d0e0e4736-${S}-0`), { traceId: `0000000000000000a3ce929d0e0e4736`, spanId: S, sampled: false, decided: true });
  assert.deepEqual(parseB3Single(`${T}-${S}`), { traceId: T, spanId: S, sampled: false, decided: false });
  for (const bad of ['0', '1', `${T}`, `${T}-zz`, `${T}-${S}-x`, `${'0'.repeat(32)}-${S}`, `${T}-${S}-1-${S}-more`]) assert.equal(parseB3Single(bad), undefined, bad);
});

test('B3 multi: the x-b3-* headers, flags 1 is debug (sampled)', () => {
  assert.deepEqual(parseB3Multi({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' }), { traceId: T, spanId: S, sampled: true, decided: true });
  assert.deepEqual(parseB3Multi({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '1' }), { traceId: T, spanId: S, sampled: true, decided: true });
  assert.deepEqual(parseB3Multi({ 'x-b3-traceid': T, 'x-b3-spanid': S }), { traceId: T, spanId: S, sampled: false, decided: false });
  assert.equal(parseB3Multi({ 'x-b3-traceid': T }), undefined);
  assert.equal(parseB3Multi({ 'x-b3-traceid': 'nope', 'x-b3-spanid': S }), undefined);
});

test('readTraceContext: W3C first, then B3 single, then B3 multi; a bad traceparent falls through', () => {
  const b3 = `a3ce929d0e0e4736a3ce929d0e0e4736-${S}-1`;
  assert.equal(readTraceContext({ traceparent: `00-${T}-${S}-01`, b3 })?.traceId, T);
  assert.equal(readTraceContext({ traceparent: 'bad', b3 })?.traceId, 'a3ce929d0e0e4736a3ce929d0e0e4736');
  assert.equal(readTraceContext({ 'x-b3-traceid': T, 'x-b3-spanid': S })?.traceId, T);
  assert.equal(readTraceContext({}), undefined);
});

test('new ids are hex of the right length, distinct, and round-trip through traceparent', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const t = newTraceId();
    const s = newSpanId();
    assert.match(t, /^[0-9a-f]{32}$/);
    assert.match(s, /^[0-9a-f]{16}$/);
    ids.add(s);
    assert.deepEqual(parseTraceparent(formatTraceparent(t, s, i % 2 === 0)), { traceId: t, spanId: s, sampled: i % 2 === 0 });
  }
  assert.equal(ids.size, 500);
});

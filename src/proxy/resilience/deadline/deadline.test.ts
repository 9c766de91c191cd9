// Deadline fields: x-weft-deadline and grpc-timeout parsing (every unit), formatting, and which wins.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadlineTimes, timeLeft, formatDeadline, formatGrpcTimeout, isGrpcRequest, parseDeadline, parseGrpcTimeout, readDeadline } from './deadline.ts';

test('x-weft-deadline: whole milliseconds, 1 to 8 digits', () => {
  assert.equal(parseDeadline('200'), 200);
  assert.equal(parseDeadline('0'), 0);
  assert.equal(parseDeadline(' 15 '), 15, 'optional whitespace around a field value (RFC 9110 §5.5)');
  assert.equal(parseDeadline('99999999'), 99_999_999);
  for (const bad of ['', '-1', '1.5', '1e3', '200ms', '123456789', '0x10', ' ', '+5']) assert.equal(parseDeadline(bad), undefined, bad);
  assert.equal(parseDeadline(['1', '2']), undefined, 'two fields: which one would hold?');
  assert.equal(parseDeadline(undefined), undefined);
});

test('grpc-timeout: every unit of PROTOCOL-HTTP2.md', () => {
  assert.equal(parseGrpcTimeout('2H'), 7_200_000);
  assert.equal(parseGrpcTimeout('3M'), 180_000);
  assert.equal(parseGrpcTimeout('5S'), 5_000);
  assert.equal(parseGrpcTimeout('100m'), 100);
  assert.equal(parseGrpcTimeout('1500u'), 1.5);
  assert.equal(parseGrpcTimeout('2000000n'), 2);
  assert.equal(parseGrpcTimeout('0m'), 0);
  assert.equal(parseGrpcTimeout('99999999S'), 99_999_999_000);
  for (const bad of ['', 'm', '100', '100x', '100 m', '-1S', '123456789m', '1.5S', 'S5']) assert.equal(parseGrpcTimeout(bad), undefined, bad);
});

test('formatting rounds down (never promises time that is not left) and stays within 8 digits', () => {
  assert.equal(formatDeadline(199.9), '199');
  assert.equal(formatDeadline(-3), '0');
  assert.equal(formatDeadline(1e12), '99999999');
  assert.equal(formatGrpcTimeout(199.9), '199m');
  assert.equal(formatGrpcTimeout(0.25), '250u');
  assert.equal(formatGrpcTimeout(-1), '0u');
  assert.equal(formatGrpcTimeout(100_000_000), '100000S', 'over 8 digits of ms: seconds');
  assert.equal(formatGrpcTimeout(1e14), '27777777H');
  for (const ms of [0.5, 1, 42, 99_999_999, 123_456_789, 5e11]) {
    const back = parseGrpcTimeout(formatGrpcTimeout(ms));
    assert.ok(back !== undefined && back <= ms, `${ms} → ${formatGrpcTimeout(ms)} parses back, not larger`);
  }
});

test('readDeadline: the smaller field wins; grpc-timeout only for gRPC; a bad x-weft-deadline is invalid, a bad grpc-timeout ignored', () => {
  assert.deepEqual(readDeadline(undefined, undefined, false), { kind: 'none' });
  assert.deepEqual(readDeadline('300', undefined, false), { kind: 'deadline', ms: 300, from: 'x-weft-deadline' });
  assert.deepEqual(readDeadline('300', '1S', true), { kind: 'deadline', ms: 300, from: 'x-weft-deadline' });
  assert.deepEqual(readDeadline('300', '100m', true), { kind: 'deadline', ms: 100, from: 'grpc-timeout' });
  assert.deepEqual(readDeadline(undefined, '100m', false), { kind: 'none' }, 'grpc-timeout on a plain HTTP request is not read');
  assert.deepEqual(readDeadline(undefined, 'soon', true), { kind: 'none' });
  assert.deepEqual(readDeadline('300', 'soon', true), { kind: 'deadline', ms: 300, from: 'x-weft-deadline' });
  assert.equal(readDeadline('soon', '100m', true).kind, 'invalid');
});

test('isGrpcRequest: application/grpc and its +suffixes', () => {
  assert.equal(isGrpcRequest('application/grpc'), true);
  assert.equal(isGrpcRequest('application/grpc+proto'), true);
  assert.equal(isGrpcRequest('application/json'), false);
  assert.equal(isGrpcRequest(undefined), false);
});

test('remaining time: counted from this hop\'s arrival; this hop\'s own timeout shortens what is sent, never starts a deadline', () => {
  // Times as a clock would give them (performance.now() ms), injected.
  assert.deepEqual(deadlineTimes(1000, 200, 0), { at: 1200, sendAt: 1200 });
  assert.deepEqual(deadlineTimes(1000, 200, 150), { at: 1200, sendAt: 1150 }, 'the own timeout ends first');
  assert.deepEqual(deadlineTimes(1000, 200, 5000), { at: 1200, sendAt: 1200 });
  assert.deepEqual(deadlineTimes(1000, 0, 0), { at: 1000, sendAt: 1000 }, 'expired on arrival');
  // An attempt sent 37.4 ms after arrival tells the next hop 162 ms; a retry sent at 1190.2, 9 ms.
  assert.equal(formatDeadline(timeLeft(1200, 1037.4)), '162');
  assert.equal(formatGrpcTimeout(timeLeft(1200, 1037.4)), '162m');
  assert.equal(formatDeadline(timeLeft(1200, 1190.2)), '9');
  assert.equal(timeLeft(1200, 1300), 0, 'never negative');
  assert.equal(formatDeadline(timeLeft(1200, 1199.5)), '0', 'less than a millisecond left: the next hop refuses it at once');
});

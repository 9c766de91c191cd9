import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRegistration } from './registration.ts';
import { statusExpected, validateHealthReport } from './health-check.ts';

const reg = { service: 'reviews', id: 'r1', address: '127.0.0.1', port: 9080 };

test('checks get their defaults: ms intervals, expected statuses, the runner', () => {
  const r = validateRegistration({ ...reg, checks: [{ type: 'http' }, { type: 'grpc', intervalSeconds: 3, checkedBy: 'sidecar' }, { type: 'tcp', intervalMs: 250, timeoutMs: 100, intervalJitterPercent: 20 }] });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.value.checks[0], { type: 'http', host: undefined, port: undefined, path: '/', expectedStatuses: [{ start: 200, end: 400 }], intervalMs: 5_000, timeoutMs: 2_000, unhealthyThreshold: 1, healthyThreshold: 1, checkedBy: 'control-plane' });
  assert.equal(r.value.checks[1].intervalMs, 3_000);
  assert.equal(r.value.checks[1].serviceName, '');
  assert.equal(r.value.checks[1].checkedBy, 'sidecar');
  assert.equal(r.value.checks[2].intervalJitterPercent, 20);
});

test('bad checks are refused with their field paths', () => {
  const r = validateRegistration({
    ...reg,
    checks: [
      { type: 'grpc', path: '/x', expectedStatuses: [{ start: 200, end: 300 }] },
      { type: 'http', expectedStatuses: [{ start: 300, end: 200 }, { start: 99, end: 700 }], serviceName: 's' },
      { type: 'tcp', intervalMs: 1000, intervalSeconds: 1, intervalJitterPercent: 101, checkedBy: 'me' },
      { type: 'http', intervalMs: 50, timeoutMs: 0, hostHeader: 'bad host' },
    ],
  });
  assert.equal(r.ok, false);
  const paths = !r.ok ? r.errors.map((e) => e.path).sort() : [];
  assert.deepEqual(paths, [
    'checks[0].expectedStatuses', 'checks[0].path',
    'checks[1].expectedStatuses[0].end', 'checks[1].expectedStatuses[1].end', 'checks[1].expectedStatuses[1].start', 'checks[1].serviceName',
    'checks[2].checkedBy', 'checks[2].intervalJitterPercent', 'checks[2].intervalSeconds',
    'checks[3].hostHeader', 'checks[3].intervalMs', 'checks[3].timeoutMs',
  ]);
});

test('expected statuses are half-open ranges', () => {
  assert.equal(statusExpected(undefined, 200), true);
  assert.equal(statusExpected(undefined, 399), true);
  assert.equal(statusExpected(undefined, 400), false);
  assert.equal(statusExpected([{ start: 200, end: 201 }, { start: 418, end: 419 }], 418), true);
  assert.equal(statusExpected([{ start: 200, end: 201 }], 201), false);
});

test('health reports are validated', () => {
  assert.deepEqual(validateHealthReport([{ status: 'critical', output: 'x' }]), { ok: true, value: [{ status: 'critical', output: 'x' }] });
  const bad = validateHealthReport([{ status: 'sick' }, 3]);
  assert.equal(bad.ok, false);
  assert.deepEqual(!bad.ok && bad.errors.map((e) => e.path), ['checks[0].status', 'checks[1]']);
  assert.equal(validateHealthReport('x').ok, false);
});

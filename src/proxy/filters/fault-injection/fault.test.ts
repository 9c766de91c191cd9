import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFault } from './fault.ts';

test('each share applies to its percentage of requests, independently', () => {
  const draw = compileFault({ delay: { percentage: 25, fixedDelay: '150ms' }, abort: { percentage: 10, httpStatus: 503 } });
  let delayed = 0;
  let aborted = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const d = draw();
    if (d.delayMs > 0) {
      assert.equal(d.delayMs, 150);
      delayed++;
    }
    if (d.abort) {
      assert.equal(d.abort.httpStatus, 503);
      aborted++;
    }
  }
  assert.ok(Math.abs(delayed / n - 0.25) < 0.02, `delayed ${delayed}`);
  assert.ok(Math.abs(aborted / n - 0.1) < 0.02, `aborted ${aborted}`);
});

test('0% never and 100% always; the draw is injectable', () => {
  const always = compileFault({ abort: { percentage: 100, grpcStatus: 14 } }, () => 0.999999);
  assert.deepEqual(always().abort, { httpStatus: undefined, grpcStatus: 14 });
  const never = compileFault({ delay: { percentage: 0, fixedDelay: '1s' } }, () => 0);
  assert.equal(never().delayMs, 0);
});

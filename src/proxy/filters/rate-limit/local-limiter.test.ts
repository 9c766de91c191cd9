// Local limits on an injected clock: total, per calling identity (with overrides), per header value,
// all buckets taken together or none, and the 429's fields.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { createLocalLimiter } from './local-limiter.ts';

const WEB = 'spiffe://weft.local/ns/default/svc/web';
const BATCH = 'spiffe://weft.local/ns/default/svc/batch';
const ADMIN = 'spiffe://weft.local/ns/ops/svc/admin';

function admitted(check: () => unknown, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (check() === undefined) ok++;
  return ok;
}

test('total: one bucket for everyone; the refusal names the limit and carries the fields', () => {
  const clock = new ManualClock();
  const l = createLocalLimiter('default/rl', { total: { requestsPerSecond: 2, burst: 2 } });
  assert.equal(admitted(() => l.check(WEB, {}, clock.now()), 2), 2);
  const d = l.check(BATCH, {}, clock.now());
  assert.ok(d);
  assert.equal(d.status, 429);
  assert.equal(d.scope, 'local');
  assert.equal(d.limit, 'default/rl/total');
  assert.deepEqual(d.headers, { 'retry-after': '1', 'ratelimit-policy': '"default/rl/total";q=2;w=1;weft-burst=2', ratelimit: '"default/rl/total";r=0;t=1' });
  clock.advance(500);
  assert.equal(l.check(BATCH, {}, clock.now()), undefined);
});

test('identity: each caller its own bucket; plaintext callers share one; overrides by Service or ServiceAccount', () => {
  const clock = new ManualClock();
  const l = createLocalLimiter('default/rl', {
    identity: { requestsPerSecond: 1, burst: 3 },
    overrides: [{ requestsPerSecond: 1, burst: 10, clientRefs: [{ kind: 'ServiceAccount', name: 'admin', namespace: 'ops' }] }],
  });
  assert.equal(admitted(() => l.check(WEB, {}, clock.now()), 5), 3);
  assert.equal(admitted(() => l.check(BATCH, {}, clock.now()), 5), 3, 'batch is not charged for web');
  assert.equal(admitted(() => l.check(ADMIN, {}, clock.now()), 20), 10, 'the override');
  assert.equal(admitted(() => l.check(undefined, {}, clock.now()), 5), 3, 'plaintext callers: one shared bucket');
  const d = l.check(WEB, {}, clock.now());
  assert.match(d!.message, /default\/rl\/identity \(key "spiffe:\/\/weft\.local\/ns\/default\/svc\/web"\)/);
});

test('per header value: each value its own bucket; a request without the header is not limited by it', () => {
  const clock = new ManualClock();
  const l = createLocalLimiter('default/rl', { perHeader: [{ name: 'x-tenant', requestsPerSecond: 1, burst: 2 }] });
  assert.equal(admitted(() => l.check(WEB, { 'x-tenant': 'acme' }, clock.now()), 5), 2);
  assert.equal(admitted(() => l.check(WEB, { 'x-tenant': 'globex' }, clock.now()), 5), 2);
  assert.equal(admitted(() => l.check(WEB, {}, clock.now()), 5), 5);
  assert.equal(l.check(WEB, { 'x-tenant': 'acme' }, clock.now())?.limit, 'default/rl/header:x-tenant');
});

test('the header map is bounded (LRU): a forgotten key starts again with a full bucket', () => {
  const clock = new ManualClock();
  const l = createLocalLimiter('default/rl', { perHeader: [{ name: 'k', requestsPerSecond: 1, burst: 1 }] }, 2);
  assert.equal(l.check(undefined, { k: 'a' }, clock.now()), undefined);
  assert.ok(l.check(undefined, { k: 'a' }, clock.now()), 'a is empty');
  l.check(undefined, { k: 'b' }, clock.now());
  l.check(undefined, { k: 'c' }, clock.now()); // a is dropped
  assert.equal(l.check(undefined, { k: 'a' }, clock.now()), undefined, 'a came back with a new bucket');
});

test('a request refused by one limit takes no token from the others', () => {
  const clock = new ManualClock();
  const l = createLocalLimiter('default/rl', { total: { requestsPerSecond: 1, burst: 3 }, identity: { requestsPerSecond: 1, burst: 1 } });
  assert.equal(l.check(WEB, {}, clock.now()), undefined);
  // web's own bucket is empty: its next two requests are refused without touching total.
  assert.equal(l.check(WEB, {}, clock.now())?.limit, 'default/rl/identity');
  assert.equal(l.check(WEB, {}, clock.now())?.limit, 'default/rl/identity');
  assert.equal(admitted(() => l.check(BATCH, {}, clock.now()), 1), 1);
  assert.equal(l.check(ADMIN, {}, clock.now()), undefined, 'total still had a token for a third caller');
  assert.equal(l.check('spiffe://weft.local/ns/default/svc/fourth', {}, clock.now())?.limit, 'default/rl/total');
});

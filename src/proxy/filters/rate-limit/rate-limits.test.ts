// The limits in force per snapshot: inbound for the own Service, outbound by destination, and
// buckets that carry over while a policy is unchanged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { DEFAULT_BACKEND_POLICY } from '../../../config/kinds/backend-policy.ts';
import type { RateLimitSnapshot, ServiceSnapshot } from '../../../config/snapshot-types.ts';
import { RateLimits } from './rate-limits.ts';

const service = (name: string, rateLimits?: RateLimitSnapshot[]): ServiceSnapshot => ({ name, namespace: 'default', ports: [], policy: DEFAULT_BACKEND_POLICY, ...(rateLimits && { rateLimits }) });
const inbound = (rps: number): RateLimitSnapshot => ({ name: 'default/in', direction: 'inbound', local: { total: { requestsPerSecond: rps, burst: 1 } } });
const outbound: RateLimitSnapshot = { name: 'default/out', direction: 'outbound', local: { total: { requestsPerSecond: 1, burst: 1 } } };

test('inbound limits of the own service, outbound limits by destination', () => {
  const r = new RateLimits(undefined, new ManualClock());
  const orders = service('orders', [inbound(1), outbound]);
  r.update([orders, service('web')], orders);
  assert.deepEqual(r.inbound?.map((l) => l.name), ['default/in']);
  assert.deepEqual(r.outbound('orders.default')?.map((l) => l.name), ['default/out']);
  assert.equal(r.outbound('web.default'), undefined);
  r.update([orders, service('web')], service('web'));
  assert.equal(r.inbound, undefined, 'web enforces none of orders\' inbound limits');
});

test('an unchanged policy keeps its buckets across snapshots; a changed one starts afresh', () => {
  const clock = new ManualClock();
  const r = new RateLimits(undefined, clock);
  const orders = service('orders', [inbound(1)]);
  r.update([orders], orders);
  const first = r.inbound![0]!;
  assert.equal(first.check(undefined, {}), undefined);
  assert.ok(first.check(undefined, {}), 'the bucket is empty');
  // A new snapshot (another service changed): same policy, same limiter, still empty.
  const again = service('orders', [inbound(1)]);
  r.update([again, service('web')], again);
  assert.equal(r.inbound![0], first);
  assert.ok(r.inbound![0]!.check(undefined, {}), 'still empty after the new snapshot');
  const changed = service('orders', [inbound(2)]);
  r.update([changed], changed);
  assert.notEqual(r.inbound![0], first);
  assert.equal(r.inbound![0]!.check(undefined, {}), undefined, 'a changed policy starts with a full bucket');
});

test('a policy on a route limits that route only, with one limiter for every Service it attaches to', () => {
  const r = new RateLimits(undefined, new ManualClock());
  const onRoute: RateLimitSnapshot = { ...outbound, name: 'default/on-route', route: 'default/canary' };
  r.update([service('orders', [onRoute]), service('orders-v2', [onRoute])], undefined);
  assert.equal(r.outbound('orders.default'), undefined, 'not a limit on the whole Service');
  const limiters = r.route('default/canary');
  assert.equal(limiters?.length, 1);
  assert.equal(r.route('default/other'), undefined);
});

// Registration validation: the identity a sidecar claims must be a SPIFFE ID of its own service.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRegistration } from './registration.ts';

const base = { service: 'orders', id: 'orders-1', address: '127.0.0.1', port: 9000 };

test('an identity naming the instance\'s own service and namespace is kept; none is fine too', () => {
  const r = validateRegistration({ ...base, identity: 'spiffe://weft.local/ns/default/svc/orders' });
  assert.ok(r.ok);
  assert.equal(r.value.identity, 'spiffe://weft.local/ns/default/svc/orders');
  const plain = validateRegistration(base);
  assert.ok(plain.ok);
  assert.equal('identity' in plain.value, false);
});

for (const [why, identity] of [
  ['another service', 'spiffe://weft.local/ns/default/svc/payments'],
  ['another namespace', 'spiffe://weft.local/ns/shop/svc/orders'],
  ['not a SPIFFE ID', 'https://weft.local/ns/default/svc/orders'],
  ['not weft\'s path form', 'spiffe://weft.local/orders'],
  ['not a string', 42],
] as const) {
  test(`an identity of ${why} is refused at path identity`, () => {
    const r = validateRegistration({ ...base, identity });
    assert.ok(!r.ok);
    assert.deepEqual(r.errors.map((e) => e.path), ['identity']);
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminAddress } from './admin-address.ts';

test('the admin address: as reported, or at the remote address for a wildcard bind', () => {
  const p = { id: 'a', service: 's', namespace: 'default', remote: '10.1.2.3:5555', connected: true };
  assert.equal(adminAddress({ ...p, admin: '127.0.0.1:15000' }), '127.0.0.1:15000');
  assert.equal(adminAddress({ ...p, admin: '0.0.0.0:15000' }), '10.1.2.3:15000');
  assert.equal(adminAddress({ ...p, remote: '::ffff:10.1.2.3:5555', admin: '[::]:15000' }), '10.1.2.3:15000');
  assert.equal(adminAddress({ ...p, remote: 'fd00::1:5555', admin: '0.0.0.0:15000' }), '[fd00::1]:15000');
  assert.equal(adminAddress(p), undefined);
});

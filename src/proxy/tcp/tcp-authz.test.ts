// Connection-level authorization: L4 fields enforced, HTTP-only fields never allow and always deny.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTcpAuthorizer, l4Rule } from './tcp-authz.ts';
import type { AuthorizationSnapshot } from '../../config/snapshot-types.ts';

const FRONT = 'spiffe://weft.local/ns/default/svc/frontend';
const SHOP = 'spiffe://weft.local/ns/shop/svc/cart';

const allow = (rules: AuthorizationSnapshot['rules']): AuthorizationSnapshot => ({ name: 'default/allow', action: 'ALLOW', rules });
const deny = (rules: AuthorizationSnapshot['rules']): AuthorizationSnapshot => ({ name: 'default/deny', action: 'DENY', rules });

test('no policy and no default deny: nothing to judge', () => {
  assert.equal(createTcpAuthorizer(undefined, false, 6379), undefined);
});

test('an ALLOW policy on principals and namespaces is enforced per connection', () => {
  const a = createTcpAuthorizer([allow([{ from: [{ principals: [FRONT] }] }, { from: [{ namespaces: ['shop'] }], to: [{ ports: [6379] }] }])], false, 6379)!;
  assert.equal(a.check(FRONT).denied, undefined);
  assert.equal(a.check(SHOP).denied, undefined);
  assert.notEqual(a.check('spiffe://weft.local/ns/other/svc/x').denied, undefined);
  assert.notEqual(a.check(undefined).denied, undefined, 'a plaintext caller proves no identity');
});

test('an ALLOW rule with HTTP-only fields matches no TCP connection', () => {
  const a = createTcpAuthorizer([allow([{ from: [{ principals: [FRONT] }], to: [{ methods: ['GET'] }] }])], false, 6379)!;
  assert.notEqual(a.check(FRONT).denied, undefined);
  assert.equal(l4Rule({ when: [{ key: 'request.headers[x]', values: ['1'] }] }, 'ALLOW'), undefined);
  assert.equal(l4Rule({ from: [{ requestPrincipals: ['*'] }] }, 'AUDIT'), undefined);
});

test('a DENY rule with HTTP-only fields denies on its L4 fields alone (fails closed)', () => {
  const d = createTcpAuthorizer([deny([{ from: [{ namespaces: ['shop'] }], to: [{ paths: ['/admin'] }] }])], false, 6379)!;
  assert.notEqual(d.check(SHOP).denied, undefined);
  assert.equal(d.check(FRONT).denied, undefined);
  assert.deepEqual(l4Rule({ from: [{ principals: [FRONT], requestPrincipals: ['a/b'] }], when: [{ key: 'source.namespace', values: ['default'] }, { key: 'request.auth.principal', values: ['x'] }] }, 'DENY'), {
    from: [{ principals: [FRONT] }],
    when: [{ key: 'source.namespace', values: ['default'] }],
  });
});

test('MeshConfig default deny refuses connections no ALLOW policy lets in', () => {
  assert.notEqual(createTcpAuthorizer(undefined, true, 6379)!.check(FRONT).denied, undefined);
});

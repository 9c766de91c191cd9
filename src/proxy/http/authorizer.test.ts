// Authorization decisions: DENY first, then ALLOW if any; identities, namespaces, methods, paths
// (exact and prefix); a plaintext caller matches no source.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizationPath, createAuthorizer } from './authorizer.ts';
import type { AuthorizationSnapshot } from '../../config/snapshot-types.ts';

const WEB = 'spiffe://weft.local/ns/default/svc/web';
const ADMIN = 'spiffe://weft.local/ns/ops/svc/admin';
const BATCH = 'spiffe://weft.local/ns/default/svc/batch';

test('no policy: no authorizer, everything passes', () => {
  assert.equal(createAuthorizer(undefined), undefined);
  assert.equal(createAuthorizer([]), undefined);
});

test('ALLOW: only what a rule matches passes; the reason names the request, the caller and the policies', () => {
  const policies: AuthorizationSnapshot[] = [
    { name: 'default/web-reads', action: 'ALLOW', rules: [{ from: [{ identities: [WEB] }], to: [{ methods: ['GET', 'HEAD'], paths: ['/api/*', '/health'] }] }] },
    { name: 'default/ops', action: 'ALLOW', rules: [{ from: [{ namespaces: ['ops'] }] }] },
  ];
  const a = createAuthorizer(policies)!;
  assert.equal(a.check(WEB, 'GET', '/api/orders/1'), undefined);
  assert.equal(a.check(WEB, 'GET', '/health'), undefined);
  assert.equal(a.check(ADMIN, 'DELETE', '/anything'), undefined, 'any request from namespace ops');
  assert.match(a.check(WEB, 'POST', '/api/orders')!, /^POST \/api\/orders from spiffe:\/\/weft\.local\/ns\/default\/svc\/web matches no rule .*\(default\/web-reads, default\/ops\)/);
  assert.ok(a.check(WEB, 'GET', '/healthz'), 'exact path, not a prefix');
  assert.ok(a.check(BATCH, 'GET', '/api/x'));
  assert.match(a.check(undefined, 'GET', '/api/x')!, /a plaintext caller \(no identity\)/);
});

test('DENY wins over ALLOW and names the rule; identity prefixes match', () => {
  const a = createAuthorizer([
    { name: 'default/allow-all-mesh', action: 'ALLOW', rules: [{ from: [{ identities: ['spiffe://weft.local/*'] }] }] },
    { name: 'default/no-batch-writes', action: 'DENY', rules: [{ to: [{ paths: ['/admin/*'] }] }, { from: [{ identities: [BATCH] }], to: [{ methods: ['POST'] }] }] },
  ])!;
  assert.equal(a.check(BATCH, 'GET', '/x'), undefined);
  assert.match(a.check(BATCH, 'POST', '/x')!, /denied by AuthorizationPolicy default\/no-batch-writes \(rule 1\)/);
  assert.match(a.check(WEB, 'GET', '/admin/users')!, /\(rule 0\)/, 'a rule without `from` matches every caller');
  assert.ok(a.check(undefined, 'GET', '/x'), 'plaintext matches no ALLOW source');
});

test('a policy without rules matches nothing: ALLOW alone denies all, DENY alone denies nothing', () => {
  assert.ok(createAuthorizer([{ name: 'default/lockdown', action: 'ALLOW', rules: [] }])!.check(WEB, 'GET', '/'));
  assert.equal(createAuthorizer([{ name: 'default/nothing', action: 'DENY', rules: [] }])!.check(WEB, 'GET', '/'), undefined);
});

test('policies judge the normalized path, so dot segments, doubled slashes and encodings do not slip past', () => {
  for (const [url, path] of [
    ['/api/orders?x=1', '/api/orders'],
    ['/api/../admin/users', '/admin/users'],
    ['//admin//users', '/admin/users'],
    ['/%61dmin/%2e%2e/admin/x', '/admin/x'],
    ['/a/./b/', '/a/b/'],
    ['/a/b/..', '/a/'],
    ['/../../etc', '/etc'],
    ['/files/a%2Fb', '/files/a%2Fb'],
    ['', '/'],
  ] as const) assert.equal(authorizationPath(url), path, url);
  const a = createAuthorizer([{ name: 'default/no-admin', action: 'DENY', rules: [{ to: [{ paths: ['/admin/*'] }] }] }])!;
  for (const url of ['/admin/x', '/api/../admin/x', '//admin/x', '/%61dmin/x', '/./admin/x']) assert.ok(a.check(WEB, 'GET', authorizationPath(url)), url);
});

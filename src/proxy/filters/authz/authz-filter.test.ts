// Authorization decisions: AUDIT records, DENY wins, then ALLOW if any, then MeshConfig's default;
// the matching matrix of every source, operation and condition field, with exact, prefix, suffix
// and presence patterns; the legacy `identities` field still means principals.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAuthorizer, createAuthzFilter, patternMatch } from './authz-filter.ts';
import { createInboundRequest, type InboundRequest } from '../inbound-filter.ts';
import { authorizationPath } from '../../http/authorizer.ts';
import type { AuthorizationRule } from '../../../config/kinds/authorization-policy.ts';
import type { AuthorizationSnapshot } from '../../../config/snapshot-types.ts';

const WEB = 'spiffe://weft.local/ns/default/svc/web';
const ADMIN = 'spiffe://weft.local/ns/ops/svc/admin';
const BATCH = 'spiffe://weft.local/ns/default/svc/batch';

interface Req {
  peer?: string;
  method?: string;
  path?: string;
  port?: number;
  headers?: Record<string, string | string[]>;
  principal?: string;
  claims?: Record<string, unknown>;
}

function req(r: Req = {}): InboundRequest {
  const ir = createInboundRequest(r.method ?? 'GET', r.path ?? '/', r.path ?? '/', r.headers ?? {}, r.peer, r.port ?? 8080);
  if (r.principal || r.claims) ir.auth = { principal: r.principal ?? '', claims: r.claims ?? {} };
  return ir;
}

/** Whether one ALLOW policy with `rule` lets `r` through. */
function allows(rule: AuthorizationRule, r: Req): boolean {
  return createAuthorizer([{ name: 'default/p', action: 'ALLOW', rules: [rule] }])!.check(req(r)).denied === undefined;
}

test('patterns: exact, prefix*, *suffix, * (present); an absent value matches nothing', () => {
  const m = patternMatch(['/health', '/api/*', '*.png']);
  for (const v of ['/health', '/api/', '/api/x/y', '/img/a.png']) assert.ok(m(v), v);
  for (const v of ['/healthz', '/ap', '/img/a.jpg', undefined]) assert.ok(!m(v), String(v));
  assert.ok(patternMatch(['*'])('anything'));
  assert.ok(!patternMatch(['*'])(undefined));
});

test('no policy and default allow: no authorizer; default deny alone refuses and says so', () => {
  assert.equal(createAuthorizer(undefined), undefined);
  assert.equal(createAuthorizer([]), undefined);
  const d = createAuthorizer(undefined, true)!.check(req({ peer: WEB }));
  assert.match(d.denied!, /default deny/);
  const withAllow = createAuthorizer([{ name: 'default/web', action: 'ALLOW', rules: [{ from: [{ principals: [WEB] }] }] }], true)!;
  assert.equal(withAllow.check(req({ peer: WEB })).denied, undefined, 'an ALLOW policy speaks for the service: default deny no longer applies');
  assert.match(withAllow.check(req({ peer: BATCH })).denied!, /matches no rule .*default\/web/);
});

test('ALLOW: only what a rule matches passes; the reason names the request, the caller and the policies', () => {
  const policies: AuthorizationSnapshot[] = [
    { name: 'default/web-reads', action: 'ALLOW', rules: [{ from: [{ identities: [WEB] }], to: [{ methods: ['GET', 'HEAD'], paths: ['/api/*', '/health'] }] }] },
    { name: 'default/ops', action: 'ALLOW', rules: [{ from: [{ namespaces: ['ops'] }] }] },
  ];
  const a = createAuthorizer(policies)!;
  const denied = (r: Req) => a.check(req(r)).denied;
  assert.equal(denied({ peer: WEB, path: '/api/orders/1' }), undefined);
  assert.equal(denied({ peer: WEB, path: '/health' }), undefined);
  assert.equal(denied({ peer: ADMIN, method: 'DELETE', path: '/anything' }), undefined, 'any request from namespace ops');
  assert.match(denied({ peer: WEB, method: 'POST', path: '/api/orders' })!, /^POST \/api\/orders from spiffe:\/\/weft\.local\/ns\/default\/svc\/web matches no rule .*\(default\/web-reads, default\/ops\)/);
  assert.ok(denied({ peer: WEB, path: '/healthz' }), 'exact path, not a prefix');
  assert.ok(denied({ peer: BATCH, path: '/api/x' }));
  assert.match(denied({ path: '/api/x' })!, /a plaintext caller \(no identity\)/);
});

test('DENY wins over ALLOW and names the rule; AUDIT records without deciding', () => {
  const a = createAuthorizer([
    { name: 'default/allow-all-mesh', action: 'ALLOW', rules: [{ from: [{ principals: ['spiffe://weft.local/*'] }] }] },
    { name: 'default/no-batch-writes', action: 'DENY', rules: [{ to: [{ paths: ['/admin/*'] }] }, { from: [{ principals: [BATCH] }], to: [{ methods: ['POST'] }] }] },
    { name: 'default/watch-admin', action: 'AUDIT', rules: [{ to: [{ paths: ['/admin/*'] }] }] },
    { name: 'default/watch-all', action: 'AUDIT', rules: [{}] },
  ])!;
  assert.deepEqual(a.check(req({ peer: BATCH, path: '/x' })), { denied: undefined, audited: ['default/watch-all'] });
  assert.match(a.check(req({ peer: BATCH, method: 'POST', path: '/x' })).denied!, /denied by AuthorizationPolicy default\/no-batch-writes \(rule 1\)/);
  const admin = a.check(req({ peer: WEB, path: '/admin/users' }));
  assert.match(admin.denied!, /\(rule 0\)/, 'a rule without `from` matches every caller');
  assert.deepEqual(admin.audited, ['default/watch-admin', 'default/watch-all']);
  assert.ok(a.check(req({ path: '/x' })).denied, 'plaintext matches no ALLOW principal');
  assert.equal(createAuthorizer([{ name: 'default/only-audit', action: 'AUDIT', rules: [{}] }])!.check(req()).denied, undefined, 'AUDIT alone decides nothing');
});

test('a policy without rules matches nothing: ALLOW alone denies all, DENY alone denies nothing', () => {
  assert.ok(createAuthorizer([{ name: 'default/lockdown', action: 'ALLOW', rules: [] }])!.check(req({ peer: WEB })).denied);
  assert.equal(createAuthorizer([{ name: 'default/nothing', action: 'DENY', rules: [] }])!.check(req({ peer: WEB })).denied, undefined);
});

test('the matching matrix: every field, positive and negative', () => {
  const jwt = { principal: 'https://issuer.example/alice', claims: { iss: 'https://issuer.example', sub: 'alice', aud: ['orders', 'shop'], azp: 'web-app', groups: ['dev', 'admins'], tier: 'gold', level: 3, realm: { roles: ['reader'] } } };
  const cases: [string, AuthorizationRule, Req, boolean][] = [
    ['principal exact', { from: [{ principals: [WEB] }] }, { peer: WEB }, true],
    ['principal exact, other caller', { from: [{ principals: [WEB] }] }, { peer: BATCH }, false],
    ['principal prefix', { from: [{ principals: ['spiffe://weft.local/ns/default/*'] }] }, { peer: BATCH }, true],
    ['principal prefix, other namespace', { from: [{ principals: ['spiffe://weft.local/ns/default/*'] }] }, { peer: ADMIN }, false],
    ['principal suffix', { from: [{ principals: ['*/svc/web'] }] }, { peer: WEB }, true],
    ['principal suffix, other service', { from: [{ principals: ['*/svc/web'] }] }, { peer: BATCH }, false],
    ['principal *: any mTLS caller', { from: [{ principals: ['*'] }] }, { peer: BATCH }, true],
    ['principal *: not plaintext', { from: [{ principals: ['*'] }] }, {}, false],
    ['notPrincipals excludes', { from: [{ notPrincipals: [BATCH] }] }, { peer: BATCH }, false],
    ['notPrincipals passes others', { from: [{ notPrincipals: [BATCH] }] }, { peer: WEB }, true],
    ['notPrincipals * matches plaintext only', { from: [{ notPrincipals: ['*'] }] }, {}, true],
    ['legacy identities = principals', { from: [{ identities: ['*/svc/web'] }] }, { peer: WEB }, true],
    ['namespaces', { from: [{ namespaces: ['ops'] }] }, { peer: ADMIN }, true],
    ['namespaces, other', { from: [{ namespaces: ['ops'] }] }, { peer: WEB }, false],
    ['notNamespaces', { from: [{ notNamespaces: ['ops'] }] }, { peer: ADMIN }, false],
    ['notNamespaces passes plaintext (no namespace)', { from: [{ notNamespaces: ['ops'] }] }, {}, true],
    ['requestPrincipals exact', { from: [{ requestPrincipals: ['https://issuer.example/alice'] }] }, { principal: jwt.principal, claims: jwt.claims }, true],
    ['requestPrincipals *: requires a JWT', { from: [{ requestPrincipals: ['*'] }] }, { peer: WEB }, false],
    ['requestPrincipals prefix (issuer)', { from: [{ requestPrincipals: ['https://issuer.example/*'] }] }, { principal: jwt.principal }, true],
    ['notRequestPrincipals *: matches a request without JWT', { from: [{ notRequestPrincipals: ['*'] }] }, { peer: WEB }, true],
    ['from fields are ANDed', { from: [{ principals: [WEB], requestPrincipals: ['*'] }] }, { peer: WEB }, false],
    ['from entries are ORed', { from: [{ principals: [ADMIN] }, { principals: [WEB] }] }, { peer: WEB }, true],
    ['methods', { to: [{ methods: ['GET'] }] }, { method: 'POST' }, false],
    ['notMethods', { to: [{ notMethods: ['DELETE'] }] }, { method: 'DELETE' }, false],
    ['notMethods passes others', { to: [{ notMethods: ['DELETE'] }] }, { method: 'GET' }, true],
    ['paths prefix', { to: [{ paths: ['/api/*'] }] }, { path: '/api/v1' }, true],
    ['paths suffix', { to: [{ paths: ['*/status'] }] }, { path: '/api/v1/status' }, true],
    ['paths suffix, other', { to: [{ paths: ['*/status'] }] }, { path: '/api/v1/statusx' }, false],
    ['notPaths', { to: [{ paths: ['/api/*'], notPaths: ['/api/admin/*'] }] }, { path: '/api/admin/x' }, false],
    ['ports', { to: [{ ports: [8080] }] }, { port: 8080 }, true],
    ['ports, other', { to: [{ ports: [9090] }] }, { port: 8080 }, false],
    ['notPorts', { to: [{ notPorts: [8080] }] }, { port: 8080 }, false],
    ['header values', { when: [{ key: 'request.headers[x-tenant]', values: ['acme'] }] }, { headers: { 'x-tenant': 'acme' } }, true],
    ['header prefix', { when: [{ key: 'request.headers[user-agent]', values: ['curl/*'] }] }, { headers: { 'user-agent': 'curl/8.5' } }, true],
    ['header absent', { when: [{ key: 'request.headers[x-tenant]', values: ['*'] }] }, {}, false],
    ['header notValues, absent header', { when: [{ key: 'request.headers[x-tenant]', notValues: ['evil'] }] }, {}, true],
    ['header notValues', { when: [{ key: 'request.headers[x-tenant]', notValues: ['evil'] }] }, { headers: { 'x-tenant': 'evil' } }, false],
    ['claim string', { when: [{ key: 'request.auth.claims[tier]', values: ['gold'] }] }, jwt, true],
    ['claim number as text', { when: [{ key: 'request.auth.claims[level]', values: ['3'] }] }, jwt, true],
    ['claim list: one entry is enough', { when: [{ key: 'request.auth.claims[groups]', values: ['admins'] }] }, jwt, true],
    ['claim list: none matches', { when: [{ key: 'request.auth.claims[groups]', values: ['ops'] }] }, jwt, false],
    ['claim list notValues: one entry in the list excludes it', { when: [{ key: 'request.auth.claims[groups]', notValues: ['admins'] }] }, jwt, false],
    ['claim list notValues: no entry in the list', { when: [{ key: 'request.auth.claims[groups]', notValues: ['guests'] }] }, jwt, true],
    ['claim notValues without a JWT', { when: [{ key: 'request.auth.claims[groups]', notValues: ['admins'] }] }, { peer: WEB }, true],
    ['nested claim', { when: [{ key: 'request.auth.claims[realm][roles]', values: ['reader'] }] }, jwt, true],
    ['nested claim, missing level', { when: [{ key: 'request.auth.claims[realm][x][roles]', values: ['reader'] }] }, jwt, false],
    ['claim without a JWT', { when: [{ key: 'request.auth.claims[tier]', values: ['gold'] }] }, { peer: WEB }, false],
    ['request.auth.principal', { when: [{ key: 'request.auth.principal', values: ['*/alice'] }] }, jwt, true],
    ['request.auth.audiences', { when: [{ key: 'request.auth.audiences', values: ['shop'] }] }, jwt, true],
    ['request.auth.presenter', { when: [{ key: 'request.auth.presenter', values: ['web-app'] }] }, jwt, true],
    ['source.namespace', { when: [{ key: 'source.namespace', values: ['ops'] }] }, { peer: ADMIN }, true],
    ['source.principal notValues', { when: [{ key: 'source.principal', notValues: [BATCH] }] }, { peer: BATCH }, false],
    ['when conditions are ANDed', { when: [{ key: 'source.namespace', values: ['ops'] }, { key: 'request.headers[x-a]', values: ['1'] }] }, { peer: ADMIN }, false],
    ['from, to and when together', { from: [{ namespaces: ['default'] }], to: [{ methods: ['GET'] }], when: [{ key: 'request.auth.claims[groups]', values: ['dev'] }] }, { ...jwt, peer: WEB }, true],
  ];
  for (const [why, rule, r, expected] of cases) assert.equal(allows(rule, r), expected, why);
});

test('the filter answers 403 authz-denied with the reason, and reports AUDIT matches with the decision', () => {
  const audits: [string, boolean][] = [];
  const f = createAuthzFilter(createAuthorizer([
    { name: 'default/no-post', action: 'DENY', rules: [{ to: [{ methods: ['POST'] }] }] },
    { name: 'default/audit', action: 'AUDIT', rules: [{}] },
  ])!, (policy, _r, denied) => audits.push([policy, denied]));
  assert.equal(f.run(req({ method: 'GET' })), undefined);
  const reply = f.run(req({ method: 'POST' }));
  assert.deepEqual(reply && { status: 'status' in reply ? reply.status : 0, reason: 'reason' in reply ? reply.reason : '' }, { status: 403, reason: 'authz-denied' });
  assert.deepEqual(audits, [['default/audit', false], ['default/audit', true]]);
});

test('policies judge the normalized path, so dot segments, doubled slashes and encodings do not slip past', () => {
  const a = createAuthorizer([{ name: 'default/no-admin', action: 'DENY', rules: [{ to: [{ paths: ['/admin/*'] }] }] }])!;
  for (const url of ['/admin/x', '/api/../admin/x', '//admin/x', '/%61dmin/x', '/./admin/x']) assert.ok(a.check(req({ peer: WEB, path: authorizationPath(url) })).denied, url);
});

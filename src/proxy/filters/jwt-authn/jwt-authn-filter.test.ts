// The jwt-authn filter with keys made by jose: valid RS256/ES256/EdDSA tokens give a principal and
// claims; expired, not yet valid (beyond the 60 s skew), wrong issuer, wrong audience, bad signature,
// unknown kid, wrong algorithm and malformed tokens are 401 jwt-invalid naming the failure and never
// the token; a missing token passes; claim headers are set, forged copies dropped; the token is
// stripped unless forwardOriginalToken; a rotated key is found by refetching the JWKS.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../../lib/clock.ts';
import type { JwtRule } from '../../../config/kinds/request-authentication.ts';
import { requestAuthenticationType } from '../../../config/kinds/request-authentication.ts';
import type { RequestAuthenticationSnapshot } from '../../../config/snapshot-types.ts';
import { createInboundRequest, type FilterReply, type InboundRequest } from '../inbound-filter.ts';
import { JwksCache } from './jwks-cache.ts';
import { createJwtAuthnFilter, parseJwtAuthnConfig } from './jwt-authn-filter.ts';
import { epochS, jwksOf, testKey, type TestKey } from './fixtures.ts';

const ISSUER = 'https://issuer.example';
const NOW = 1_800_000_000_000;

/** Validated like the API does, so the filter sees what a snapshot carries. */
function rules(raw: Record<string, unknown>[]): JwtRule[] {
  const r = requestAuthenticationType.validateSpec({ targetRefs: [{ kind: 'Service', name: 'orders' }], jwtRules: raw }, 'spec');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return [...r.value.jwtRules];
}

function filterFor(jwtRules: JwtRule[], cache = new JwksCache({ clock: new ManualClock(NOW) }), clock = new ManualClock(NOW)) {
  const policies: RequestAuthenticationSnapshot[] = [{ name: 'default/jwt', jwtRules }];
  return createJwtAuthnFilter(parseJwtAuthnConfig(policies, cache)!, clock);
}

function request(headers: Record<string, string> = {}, target = '/api/orders'): InboundRequest {
  return createInboundRequest('GET', target.split('?')[0]!, target, headers, undefined, 8080);
}

async function run(f: ReturnType<typeof filterFor>, req: InboundRequest): Promise<FilterReply | undefined> {
  return await f.run(req);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let es: TestKey, rs: TestKey, ed: TestKey, other: TestKey;
before(async () => {
  [es, rs, ed, other] = await Promise.all([testKey('es', 'ES256'), testKey('rs', 'RS256'), testKey('ed', 'EdDSA'), testKey('es', 'ES256')]);
});

const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISSUER, sub: 'alice', aud: 'orders', exp: epochS(NOW) + 300, nbf: epochS(NOW) - 10, ...extra });

test('valid tokens (ES256, RS256, EdDSA) pass with principal iss/sub and claims; the token is stripped', async () => {
  const f = filterFor(rules([{ issuer: ISSUER, audiences: ['orders'], jwks: jwksOf(es, rs, ed) }]));
  for (const key of [es, rs, ed]) {
    const req = request(bearer(await key.sign(claims())));
    assert.equal(await run(f, req), undefined, key.alg);
    assert.equal(req.auth?.principal, `${ISSUER}/alice`);
    assert.equal(req.auth?.claims.sub, 'alice');
    assert.deepEqual(req.headerEdits, { authorization: undefined }, 'the token does not reach the app');
  }
});

test('a missing token passes without a principal; a non-Bearer Authorization is not a token', async () => {
  const f = filterFor(rules([{ issuer: ISSUER, jwks: jwksOf(es) }]));
  for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }] as Record<string, string>[]) {
    const req = request(headers);
    assert.equal(await run(f, req), undefined);
    assert.equal(req.auth, undefined);
  }
});

test('each failure is 401 jwt-invalid naming what failed, never echoing the token', async () => {
  const f = filterFor(rules([{ issuer: ISSUER, audiences: ['orders'], jwks: jwksOf(es) }]));
  const cases: [string, Promise<string> | string, RegExp][] = [
    ['expired beyond the skew', es.sign(claims({ exp: epochS(NOW) - 61 })), /: expired/],
    ['not yet valid beyond the skew', es.sign(claims({ nbf: epochS(NOW) + 61 })), /: not yet valid/],
    ['untrusted issuer', es.sign(claims({ iss: 'https://evil.example' })), /: wrong issuer/],
    ['no issuer', es.sign(claims({ iss: undefined })), /: wrong issuer/],
    ['wrong audience', es.sign(claims({ aud: 'billing' })), /: wrong audience/],
    ['bad signature (same kid, another key)', other.sign(claims()), /: bad signature/],
    ['unknown key id', es.sign(claims(), { kid: 'nope' }), /: unknown key id/],
    ['not a JWT', 'abc.def', /: malformed/],
    ['garbage in a part', 'a.b!.c', /: malformed/],
    ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.AAAA`, /: (algorithm not allowed|malformed)/],
  ];
  for (const [why, tokenP, message] of cases) {
    const token = await tokenP;
    const reply = await run(f, request(bearer(token)));
    assert.ok(reply, why);
    assert.equal(reply.status, 401, why);
    assert.equal(reply.reason, 'jwt-invalid', why);
    assert.match(reply.message, message, why);
    assert.match(reply.headers?.['www-authenticate'] ?? '', /^Bearer error="invalid_token"/, why);
    assert.ok(!reply.message.includes(token), `${why}: the message must not echo the token`);
  }
});

test('exp and nbf within the 60 s skew pass; a list audience needs one match; no audiences: aud unchecked', async () => {
  const f = filterFor(rules([{ issuer: ISSUER, audiences: ['orders'], jwks: jwksOf(es) }]));
  assert.equal(await run(f, request(bearer(await es.sign(claims({ exp: epochS(NOW) - 30 }))))), undefined);
  assert.equal(await run(f, request(bearer(await es.sign(claims({ nbf: epochS(NOW) + 30 }))))), undefined);
  assert.equal(await run(f, request(bearer(await es.sign(claims({ aud: ['billing', 'orders'] }))))), undefined);
  const open = filterFor(rules([{ issuer: ISSUER, jwks: jwksOf(es) }]));
  assert.equal(await run(open, request(bearer(await es.sign(claims({ aud: 'anything' }))))), undefined);
});

test('claims become headers for the app; incoming copies are dropped with or without a token; unsafe values are left out', async () => {
  const f = filterFor(rules([{ issuer: ISSUER, jwks: jwksOf(es), outputClaimToHeaders: [{ header: 'x-user', claim: 'sub' }, { header: 'x-groups', claim: 'groups' }, { header: 'x-org', claim: 'org.name' }, { header: 'x-evil', claim: 'evil' }] }]));
  const forged = { 'x-user': 'root', 'x-groups': 'admins' };
  const anonymous = request(forged);
  assert.equal(await run(f, anonymous), undefined);
  assert.deepEqual(anonymous.headerEdits, { 'x-user': undefined, 'x-groups': undefined, 'x-org': undefined, 'x-evil': undefined });
  const req = request({ ...forged, ...bearer(await es.sign(claims({ groups: ['dev', 'ops'], org: { name: 'acme' }, evil: 'a\r\nx-injected: 1' }))) });
  assert.equal(await run(f, req), undefined);
  assert.deepEqual(req.headerEdits, { 'x-user': 'alice', 'x-groups': 'dev,ops', 'x-org': 'acme', 'x-evil': undefined, authorization: undefined });
});

test('forwardOriginalToken keeps the token; fromParams reads and strips a query parameter; custom headers with no prefix', async () => {
  const keep = filterFor(rules([{ issuer: ISSUER, jwks: jwksOf(es), forwardOriginalToken: true }]));
  const kept = request(bearer(await es.sign(claims())));
  assert.equal(await run(keep, kept), undefined);
  assert.equal('authorization' in (kept.headerEdits ?? {}), false);

  const param = filterFor(rules([{ issuer: ISSUER, jwks: jwksOf(es), fromParams: ['access_token'] }]));
  const token = await es.sign(claims());
  const viaParam = request({}, `/api/orders?page=2&access_token=${token}&x=1`);
  assert.equal(await run(param, viaParam), undefined);
  assert.equal(viaParam.auth?.principal, `${ISSUER}/alice`);
  assert.equal(viaParam.target, '/api/orders?page=2&x=1');

  const custom = filterFor(rules([{ issuer: ISSUER, jwks: jwksOf(es), fromHeaders: [{ name: 'x-jwt-assertion' }] }]));
  const viaHeader = request({ 'x-jwt-assertion': token });
  assert.equal(await run(custom, viaHeader), undefined);
  assert.deepEqual(viaHeader.headerEdits, { 'x-jwt-assertion': undefined });
  assert.equal((await run(custom, request(bearer(token)))), undefined, 'Authorization is not read when fromHeaders names another header');
});

test('a token counts only where its issuer\'s rule reads tokens', async () => {
  const f = filterFor(rules([{ issuer: ISSUER, jwks: jwksOf(es) }, { issuer: 'https://other.example', jwks: jwksOf(rs), fromHeaders: [{ name: 'x-other-token' }] }]));
  assert.equal(await run(f, request({ 'x-other-token': await rs.sign(claims({ iss: 'https://other.example' })) })), undefined);
  const misplaced = await run(f, request({ 'x-other-token': await es.sign(claims()) }));
  assert.equal(misplaced?.status, 401);
  assert.match(misplaced!.message, /wrong issuer .*not read from the header x-other-token/);
});

test('two different tokens in one request are refused', async () => {
  const f = filterFor(rules([{ issuer: ISSUER, jwks: jwksOf(es), fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }, { name: 'x-token' }] }]));
  const reply = await run(f, request({ ...bearer(await es.sign(claims())), 'x-token': await es.sign(claims({ sub: 'bob' })) }));
  assert.equal(reply?.status, 401);
  assert.match(reply!.message, /more than one token/);
});

test('several issuers: each token is checked against its own issuer\'s keys', async () => {
  const f = filterFor(rules([{ issuer: ISSUER, jwks: jwksOf(es) }, { issuer: 'https://other.example', jwks: jwksOf(rs) }]));
  const req = request(bearer(await rs.sign(claims({ iss: 'https://other.example', sub: 'bob' }))));
  assert.equal(await run(f, req), undefined);
  assert.equal(req.auth?.principal, 'https://other.example/bob');
  assert.match((await run(f, request(bearer(await es.sign(claims({ iss: 'https://other.example' }))))))!.message, /bad signature|unknown key id/);
});

test('remote JWKS: the first request waits for the first fetch; a rotated key is found by one refetch; an unreachable JWKS is 401', async () => {
  let body = jwksOf(es);
  const server = http.createServer((_req, res) => res.end(JSON.stringify(body)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  const clock = new ManualClock(NOW);
  const cache = new JwksCache({ clock });
  try {
    const f = filterFor(rules([{ issuer: ISSUER, jwksUri: uri }]), cache, clock);
    assert.equal(await run(f, request(bearer(await es.sign(claims())))), undefined);
    const rotated = await testKey('rotated');
    body = jwksOf(es, rotated);
    assert.equal(await run(f, request(bearer(await rotated.sign(claims())))), undefined, 'the unknown kid made the sidecar refetch');
    assert.match((await run(f, request(bearer(await es.sign(claims(), { kid: 'ghost' })))))!.message, /unknown key id/);

    const down = new JwksCache({ clock });
    const dead = filterFor(rules([{ issuer: ISSUER, jwksUri: 'http://127.0.0.1:1/jwks' }]), down, clock);
    const reply = await run(dead, request(bearer(await es.sign(claims()))));
    assert.equal(reply?.status, 401);
    assert.match(reply!.message, /keys unavailable/);
    down.close();
  } finally {
    cache.close();
    await new Promise((r) => server.close(r));
  }
});

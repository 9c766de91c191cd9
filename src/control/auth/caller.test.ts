// Who a caller is (admin, read-only, join token, proxy proof, nobody) and what each may call; the
// proof of possession against a real CA made with openssl (test/support/test-ca.ts).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactSign } from 'jose';
import { isWeftError } from '../../lib/errors.ts';
import { PROOF_SCHEME, PROOF_TYPE } from '../../config/control-auth.ts';
import { createTestCa } from '../../../test/support/test-ca.ts';
import { openSqliteStore } from '../store/sqlite-store.ts';
import { TokenStore } from './tokens.ts';
import { ProofVerifier } from './proof.ts';
import { authenticate, authorizeRoute, requireScope, type Caller } from './caller.ts';

const ca = createTestCa('mesh root');
const foreign = createTestCa('foreign root');
after(() => {
  ca.remove();
  foreign.remove();
});

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return isWeftError(err) ? `${err.status} ${err.code}` : `not a WeftError: ${err}`;
  }
  return undefined;
}

function x5c(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => c.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''));
}

async function sign(leaf: { key: string; cert: string }, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'ES256', typ: PROOF_TYPE, x5c: x5c(leaf.cert), ...header }).sign(createPrivateKey(leaf.key));
}

const fresh = (method: string, htu: string) => ({ htm: method, htu, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url') });

test('a proof authenticates the proxy of the certificate, for that request only, once', async () => {
  const verifier = new ProofVerifier({ trustDomain: 'weft.local', trustBundle: () => ca.rootPem, now: () => Date.now() });
  const leaf = ca.issue('URI:spiffe://weft.local/ns/shop/svc/cart');
  const claims = fresh('POST', '/v1/stream');
  const jws = await sign(leaf, claims);
  const proven = await verifier.verify(jws, 'POST', '/v1/stream');
  assert.deepEqual([proven.identity, proven.namespace, proven.service], ['spiffe://weft.local/ns/shop/svc/cart', 'shop', 'cart']);
  assert.match(proven.keyId, /^[0-9a-f]{64}$/);
  const refused = async (j: string, method = 'POST', target = '/v1/stream') => codeOf(() => verifier.verify(j, method, target));
  assert.equal(await refused(jws), '401 WEFT_ERR_AUTH_BAD_PROOF', 'a replay');
  assert.equal(await refused(await sign(leaf, fresh('POST', '/v1/stream')), 'GET'), '401 WEFT_ERR_AUTH_BAD_PROOF', 'another method');
  assert.equal(await refused(await sign(leaf, fresh('POST', '/v1/stream')), 'POST', '/v1/certificates'), '401 WEFT_ERR_AUTH_BAD_PROOF', 'another path');
  assert.equal(await refused(await sign(leaf, { ...fresh('POST', '/v1/stream'), iat: Math.floor(Date.now() / 1000) - 120 })), '401 WEFT_ERR_AUTH_BAD_PROOF', 'stale');
  assert.equal(await refused(await sign(leaf, fresh('POST', '/v1/stream'), { typ: 'JWT' })), '401 WEFT_ERR_AUTH_BAD_PROOF', 'not a proof typ');
  assert.equal(await refused(await sign(foreign.issue('URI:spiffe://weft.local/ns/shop/svc/cart'), fresh('POST', '/v1/stream'))), '401 WEFT_ERR_AUTH_BAD_PROOF', 'another CA');
  assert.equal(await refused(await sign(ca.issue('URI:spiffe://evil.local/ns/shop/svc/cart'), fresh('POST', '/v1/stream'))), '401 WEFT_ERR_AUTH_BAD_PROOF', 'another trust domain');
  // Signed with another key than the certificate's.
  const other = ca.issue('URI:spiffe://weft.local/ns/shop/svc/cart');
  assert.equal(await refused(await sign({ key: other.key, cert: leaf.cert }, fresh('POST', '/v1/stream'))), '401 WEFT_ERR_AUTH_BAD_PROOF', 'key mismatch');
  assert.equal(await refused('a.b.c'), '401 WEFT_ERR_AUTH_BAD_PROOF');
});

test('authenticate: bootstrap, admin, read-only and join tokens; nobody; bad credentials even when insecure', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-caller-'));
  const store = await openSqliteStore(dir);
  try {
    const tokens = await TokenStore.open(store);
    const proofs = new ProofVerifier({ trustDomain: 'weft.local', trustBundle: () => ca.rootPem, now: () => Date.now() });
    const o = { insecure: false, bootstrapToken: 'operator-secret', tokens, proofs, now: () => Date.now() };
    const reader = (await tokens.create({ kind: 'admin', role: 'read-only' }, Date.now())).token;
    const joiner = (await tokens.create({ kind: 'join', service: 'cart', namespace: 'shop', ttlSeconds: 60 }, Date.now())).token;
    const auth = (h: string | undefined, opts = o) => authenticate(opts, h, 'GET', '/v1/proxies');
    assert.deepEqual(await auth(undefined), { kind: 'anonymous' });
    assert.deepEqual(await auth(undefined, { ...o, insecure: true }), { kind: 'insecure' });
    assert.deepEqual(await auth('Bearer operator-secret'), { kind: 'admin', role: 'admin', tokenId: 'bootstrap' });
    assert.equal(((await auth(`Bearer ${reader}`)) as Caller & { role: string }).role, 'read-only');
    assert.deepEqual({ ...(await auth(`Bearer ${joiner}`)), tokenId: 'x' }, { kind: 'join', tokenId: 'x', service: 'cart', namespace: 'shop' });
    assert.equal(await codeOf(() => auth('Bearer operator-secreT')), '401 WEFT_ERR_AUTH_BAD_TOKEN');
    assert.equal(await codeOf(() => auth('Bearer nope', { ...o, insecure: true })), '401 WEFT_ERR_AUTH_BAD_TOKEN');
    assert.equal(await codeOf(() => auth(`Bearer ${'x'.repeat(2000)}`)), '401 WEFT_ERR_AUTH_TOKEN_TOO_LARGE');
    assert.equal(await codeOf(() => auth('Digest abc')), '401 WEFT_ERR_AUTH_SCHEME');
    assert.equal(await codeOf(() => auth(`${PROOF_SCHEME} x.y.z`)), '401 WEFT_ERR_AUTH_BAD_PROOF');
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('authorizeRoute: admins everything, read-only GETs, join tokens the first certificate, proxies their own routes', async () => {
  const admin: Caller = { kind: 'admin', role: 'admin', tokenId: 'a' };
  const reader: Caller = { kind: 'admin', role: 'read-only', tokenId: 'r' };
  const joiner: Caller = { kind: 'join', tokenId: 'j', service: 'cart', namespace: 'shop' };
  const proxy: Caller = { kind: 'proxy', identity: 'spiffe://weft.local/ns/shop/svc/cart', trustDomain: 'weft.local', namespace: 'shop', service: 'cart', keyId: 'k', serial: '01', notAfter: 0 };
  const routes: [string, string][] = [
    ['GET', '/v1/resources'], ['PUT', '/v1/resources/meshconfigs/default/mesh'], ['DELETE', '/v1/resources/meshconfigs/default/mesh'],
    ['POST', '/v1/tokens'], ['GET', '/v1/proxies'], ['POST', '/v1/certificates'], ['GET', '/v1/certificates/bundle'], ['POST', '/v1/stream'],
    ['POST', '/v1/catalog/instances'], ['GET', '/v1/catalog/instances'], ['PUT', '/v1/catalog/instances/shop/cart/c1/heartbeat'], ['DELETE', '/v1/catalog/instances/shop/cart/c1'],
  ];
  const allowed = (c: Caller) => routes.filter(([m, p]) => {
    try {
      authorizeRoute(c, m, p);
      return true;
    } catch {
      return false;
    }
  }).map(([m, p]) => `${m} ${p}`);
  assert.equal(allowed(admin).length, routes.length);
  assert.deepEqual(allowed({ kind: 'insecure' }).length, routes.length);
  assert.deepEqual(allowed({ kind: 'anonymous' }), []);
  assert.deepEqual(allowed(reader), ['GET /v1/resources', 'GET /v1/proxies', 'GET /v1/certificates/bundle', 'GET /v1/catalog/instances']);
  assert.deepEqual(allowed(joiner), ['POST /v1/certificates', 'GET /v1/certificates/bundle']);
  assert.deepEqual(allowed(proxy), ['POST /v1/certificates', 'GET /v1/certificates/bundle', 'POST /v1/stream', 'POST /v1/catalog/instances', 'PUT /v1/catalog/instances/shop/cart/c1/heartbeat', 'DELETE /v1/catalog/instances/shop/cart/c1']);
  assert.equal(await codeOf(() => authorizeRoute({ kind: 'anonymous' }, 'GET', '/v1/proxies')), '401 WEFT_ERR_AUTH_REQUIRED');
  assert.equal(await codeOf(() => authorizeRoute(reader, 'POST', '/v1/apply')), '403 WEFT_ERR_AUTH_FORBIDDEN');

  // Inside a route: a scoped caller acts only for its own workload.
  requireScope(proxy, 'shop', 'cart', 'register');
  requireScope(admin, 'other', 'thing', 'register');
  assert.equal(await codeOf(() => requireScope(proxy, 'shop', 'orders', 'register')), '403 WEFT_ERR_AUTH_FORBIDDEN');
  assert.equal(await codeOf(() => requireScope(joiner, 'default', 'cart', 'get a certificate')), '403 WEFT_ERR_AUTH_FORBIDDEN');
});

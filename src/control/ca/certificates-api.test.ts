// The CA behind the control plane's API: POST /v1/certificates and GET /v1/certificates/bundle on
// a real control plane (port 0, temp data dir), with its token, errors, metric and restarts.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../lib/log.ts';
import { isWeftError } from '../../lib/errors.ts';
import { CERTIFICATES_PATH } from '../../config/identity.ts';
import { startControlPlane, type ControlPlane } from '../control-plane.ts';

const quiet = createLogger('test', () => {});
const TOKEN = 'test-token-123';
let dataDir: string;
let cp: ControlPlane;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'weft-ca-api-'));
  cp = await startControlPlane({ port: 0, dataDir, token: TOKEN, log: quiet, trustDomain: 'test.mesh', certificateTtlSeconds: 600 });
});
after(async () => {
  await cp?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, token: string | null = TOKEN, url = cp.url): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

function publicKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
}

test('POST /v1/certificates issues a certificate for the workload, verifiable with the bundle', async () => {
  const res = await call('POST', CERTIFICATES_PATH, { namespace: 'shop', service: 'cart', proxyId: 'cart-1', publicKey: publicKeyPem() });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body).sort(), ['certificate', 'identity', 'notAfter', 'notBefore', 'serial', 'trustBundle']);
  assert.equal(res.body.identity, 'spiffe://test.mesh/ns/shop/svc/cart');
  const cert = new X509Certificate(res.body.certificate);
  const root = new X509Certificate(res.body.trustBundle);
  assert.ok(cert.verify(root.publicKey));
  assert.equal(cert.subjectAltName, 'URI:spiffe://test.mesh/ns/shop/svc/cart');
  assert.equal(cert.serialNumber, res.body.serial);
  assert.equal(res.body.notAfter - res.body.notBefore, (600 + 60) * 1000);
  assert.equal(cert.validToDate.getTime(), res.body.notAfter);

  // The namespace defaults to `default`, as everywhere else in the API.
  const dflt = await call('POST', CERTIFICATES_PATH, { service: 'cart', proxyId: 'cart-2', publicKey: publicKeyPem() });
  assert.equal(dflt.status, 200);
  assert.equal(dflt.body.identity, 'spiffe://test.mesh/ns/default/svc/cart');
});

test('GET /v1/certificates/bundle returns the trust domain and the root', async () => {
  const res = await call('GET', `${CERTIFICATES_PATH}/bundle`);
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body).sort(), ['trustBundle', 'trustDomain']);
  assert.equal(res.body.trustDomain, 'test.mesh');
  assert.equal(new X509Certificate(res.body.trustBundle).ca, true);
});

test('a bad body is a 400 WEFT_ERR_CA_INVALID_REQUEST naming each field', async () => {
  const res = await call('POST', CERTIFICATES_PATH, { namespace: 'Not A Label', service: '', publicKey: 'abc', extra: true });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'WEFT_ERR_CA_INVALID_REQUEST');
  const paths = (res.body.error.details as { path: string }[]).map((d) => d.path).sort();
  for (const p of ['namespace', 'service', 'proxyId', 'publicKey']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  assert.ok(paths.some((p) => p.includes('extra')), `unknown field named in ${paths.join(', ')}`);

  const notObject = await call('POST', CERTIFICATES_PATH, [1, 2]);
  assert.equal(notObject.status, 400);
  assert.equal(notObject.body.error.code, 'WEFT_ERR_CA_INVALID_REQUEST');

  const notJson = await call('POST', CERTIFICATES_PATH, '{nope');
  assert.equal(notJson.status, 400);
  assert.equal(notJson.body.error.code, 'WEFT_ERR_API_BAD_JSON');
});

test('a key that cannot be parsed or is unsupported is a 400 on publicKey', async () => {
  const garbage = await call('POST', CERTIFICATES_PATH, { service: 'cart', proxyId: 'p', publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' });
  assert.equal(garbage.status, 400);
  assert.equal(garbage.body.error.code, 'WEFT_ERR_CA_INVALID_REQUEST');
  assert.deepEqual(garbage.body.error.details.map((d: { path: string }) => d.path), ['publicKey']);

  const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const unsupported = await call('POST', CERTIFICATES_PATH, { service: 'cart', proxyId: 'p', publicKey: ed });
  assert.equal(unsupported.status, 400);
  assert.equal(unsupported.body.error.code, 'WEFT_ERR_CA_INVALID_REQUEST');
  assert.equal(unsupported.body.error.details[0].path, 'publicKey');
  assert.match(unsupported.body.error.details[0].message, /ed25519/);
});

test('both routes need the token when the control plane has one', async () => {
  const body = { service: 'cart', proxyId: 'p', publicKey: publicKeyPem() };
  for (const token of [null, 'wrong']) {
    const post = await call('POST', CERTIFICATES_PATH, body, token);
    assert.equal(post.status, 401);
    assert.equal(post.body.error.code, token === null ? 'WEFT_ERR_AUTH_REQUIRED' : 'WEFT_ERR_AUTH_BAD_TOKEN');
    const bundle = await call('GET', `${CERTIFICATES_PATH}/bundle`, undefined, token);
    assert.equal(bundle.status, 401);
  }
  const wrongMethod = await call('GET', CERTIFICATES_PATH);
  assert.equal(wrongMethod.status, 405);
});

test('issued certificates are counted in /metrics', async () => {
  const before = Number(/^weft_control_certificates_issued_total (\d+)$/m.exec((await call('GET', '/metrics', undefined, null)).body)?.[1]);
  assert.ok(Number.isInteger(before), 'the counter is exposed');
  await call('POST', CERTIFICATES_PATH, { service: 'cart', proxyId: 'p', publicKey: publicKeyPem() });
  await call('POST', CERTIFICATES_PATH, { service: 'cart', proxyId: 'p', publicKey: 'nope' }); // refused: not counted
  const text = (await call('GET', '/metrics', undefined, null)).body as string;
  assert.match(text, /# TYPE weft_control_certificates_issued_total counter/);
  assert.match(text, new RegExp(`^weft_control_certificates_issued_total ${before + 1}$`, 'm'));
});

test('a restarted control plane keeps its CA', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ca-api-'));
  try {
    const first = await startControlPlane({ port: 0, dataDir: dir, log: quiet, insecure: true });
    const bundle1 = (await call('GET', `${CERTIFICATES_PATH}/bundle`, undefined, null, first.url)).body;
    await first.close();
    const second = await startControlPlane({ port: 0, dataDir: dir, log: quiet, insecure: true });
    const bundle2 = (await call('GET', `${CERTIFICATES_PATH}/bundle`, undefined, null, second.url)).body;
    await second.close();
    assert.equal(bundle1.trustDomain, 'weft.local');
    assert.equal(bundle2.trustBundle, bundle1.trustBundle);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad CA settings or a broken CA file stop the control plane before it listens', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ca-api-'));
  const codeOf = (err: unknown): string => (isWeftError(err) ? err.code : String(err));
  try {
    await assert.rejects(startControlPlane({ port: 0, dataDir: dir, log: quiet, certificateTtlSeconds: 2 }), (err) => codeOf(err) === 'WEFT_ERR_CA_CONFIG');
    await assert.rejects(startControlPlane({ port: 0, dataDir: dir, log: quiet, trustDomain: 'Not Valid' }), (err) => codeOf(err) === 'WEFT_ERR_CA_CONFIG');
    await assert.rejects(startControlPlane({ port: 0, dataDir: dir, log: quiet, caCertFile: join(dir, 'x.pem') }), (err) => codeOf(err) === 'WEFT_ERR_CA_CONFIG');
    await assert.rejects(startControlPlane({ port: 0, dataDir: dir, log: quiet, caCertFile: join(dir, 'x.pem'), caKeyFile: join(dir, 'x.key') }), (err) => codeOf(err) === 'WEFT_ERR_CA_OPERATOR_FILE');
    const ok = await startControlPlane({ port: 0, dataDir: dir, log: quiet, insecure: true });
    await ok.close();
    writeFileSync(join(dir, 'ca', 'ca-cert.pem'), 'garbage\n');
    await assert.rejects(startControlPlane({ port: 0, dataDir: dir, log: quiet, insecure: true }), (err) => codeOf(err) === 'WEFT_ERR_CA_LOAD' && (err as Error).message.includes('ca-cert.pem'));
    // The store was closed on the way out: the same directory opens again once the file is fixed.
    rmSync(join(dir, 'ca'), { recursive: true });
    const again = await startControlPlane({ port: 0, dataDir: dir, log: quiet, insecure: true });
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GET /v1/health (no token) names the trust domain and when the root expires, nothing secret', async () => {
  const res = await call('GET', '/v1/health', undefined, null);
  assert.equal(res.status, 200);
  const bundle = await call('GET', '/v1/certificates/bundle');
  assert.equal(res.body.ca.trustDomain, 'test.mesh');
  assert.equal(Date.parse(res.body.ca.rootNotAfter), new X509Certificate(bundle.body.trustBundle).validToDate.getTime());
  assert.deepEqual(Object.keys(res.body.ca).sort(), ['intermediates', 'rootNotAfter', 'roots', 'rotationPhase', 'trustDomain']);
  assert.equal(res.body.ca.roots.length, 1);
  assert.equal(res.body.ca.roots[0].notAfter, res.body.ca.rootNotAfter);
  assert.equal(res.body.ca.roots[0].signing, true);
  assert.equal(res.body.ca.rotationPhase, 'idle');
  assert.ok(!JSON.stringify(res.body).includes('PRIVATE'));
});

test('GET /v1/ca and POST /v1/ca/rotate need the token; a rotation shows in the status, the bundle and /v1/health', async () => {
  for (const [method, path] of [['GET', '/v1/ca'], ['POST', '/v1/ca/rotate']] as const) {
    const res = await call(method, path, undefined, null);
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'WEFT_ERR_AUTH_REQUIRED');
  }
  const before = await call('GET', '/v1/ca');
  assert.equal(before.status, 200);
  assert.equal(before.body.phase, 'idle');
  assert.equal(before.body.source, 'weft');
  const rotated = await call('POST', '/v1/ca/rotate');
  assert.equal(rotated.status, 202);
  // Earlier tests' certificates (600 s, their proxies never renew) hold phase 1 open.
  assert.equal(rotated.body.phase, 'distributing');
  assert.ok(rotated.body.rotation.waitingFor.includes('cart-1'));
  const bundle = await call('GET', `${CERTIFICATES_PATH}/bundle`);
  assert.equal(bundle.body.trustBundle.match(/BEGIN CERTIFICATE/g).length, 2);
  const health = await call('GET', '/v1/health', undefined, null);
  assert.equal(health.body.ca.rotationPhase, 'distributing');
  assert.deepEqual(health.body.ca.roots.map((r: { fingerprint256: string }) => r.fingerprint256), rotated.body.roots.map((r: { fingerprint256: string }) => r.fingerprint256));
  const again = await call('POST', '/v1/ca/rotate');
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'WEFT_ERR_CA_ROTATION_IN_PROGRESS');
});

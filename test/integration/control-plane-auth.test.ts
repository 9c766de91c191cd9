// Bar: the control plane is secure by default and identities go only to whom they belong. Each
// finding of issue 11 is replayed as written and refused; openssl s_client to an inbound port with
// no certificate, a foreign CA, an expired certificate or another trust domain gets nothing from the
// app while a mesh certificate does; a proxy joined with A's token gets none of B's certificate,
// snapshot or registrations; no token, key or proof shows in logs, API or admin responses.

import 'reflect-metadata';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { CompactSign } from 'jose';
import { CA_CERT_FILE, CA_DIR, CA_KEY_FILE } from '../../src/control/ca/certificate-authority.ts';
import { PROOF_SCHEME, PROOF_TYPE } from '../../src/config/control-auth.ts';
import { startControlPlane, startSidecar, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { getViaProxy } from '../support/upstreams.ts';
import { runWeft } from '../support/cli.ts';
import { createTestCa } from '../support/test-ca.ts';
import { stopAll, waitFor } from '../support/processes.ts';

const ECHO = 'spiffe://weft.local/ns/default/svc/echo';
const WEB = 'spiffe://weft.local/ns/default/svc/web';

/** An app that says who it is and counts its requests. */
interface CountingApp {
  readonly port: number;
  hits: number;
  close(): Promise<void>;
}

async function startApp(name: string): Promise<CountingApp> {
  const app: CountingApp = { port: 0, hits: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('ok');
    app.hits++;
    res.end(`APP-REACHED ${name} auth=${req.headers.authorization ?? '-'}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return Object.assign(app, {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

let cp: ControlPlaneProcess;
let echoApp: CountingApp;
let echo: SidecarProcess;
let web: SidecarProcess;
const secrets: string[] = [];
const responses: string[] = [];
let work: string;

/** Records what the API answered, for the final grep for secrets. */
async function api(authorization: string | null, method: string, p: string, body?: unknown) {
  const res = await cp.apiAs(authorization, method, p, body);
  responses.push(String(JSON.stringify(res.body)));
  return res;
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'weft-auth-'));
  cp = await startControlPlane();
  secrets.push(cp.adminToken!);
  echoApp = await startApp('echo');
  [echo, web] = await Promise.all([startSidecar(cp.url, 'echo', ['--app-port', String(echoApp.port)]), startSidecar(cp.url, 'web')]);
  await waitForPassing(cp, 'echo', 1);
  await waitFor('web calls echo', async () => (await getViaProxy(web.outboundPort, 'http://echo/')).status === 200);
}, { timeout: 120_000 });

after(async () => {
  await stopAll();
  await echoApp?.close();
  await cp?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** A CSR for a fresh P-256 key, made with @peculiar/x509 (as a sidecar does). */
async function newCsr(uri?: string): Promise<{ csr: string; key: KeyObject }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'O=test',
    keys: { privateKey: privateKey.toCryptoKey(alg, false, ['sign']), publicKey: publicKey.toCryptoKey(alg, true, ['verify']) },
    signingAlgorithm: alg,
    extensions: uri ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }])] : [],
  });
  return { csr: csr.toString('pem'), key: privateKey };
}

/** A proxy credential: the certificate a join token got for a CSR, and its key. */
interface Joined {
  readonly certificate: string;
  readonly key: KeyObject;
  readonly proxyId: string;
}

async function join(service: string, proxyId = `${service}-${randomBytes(3).toString('hex')}`): Promise<Joined> {
  const token = await cp.joinToken(service);
  secrets.push(token);
  const { csr, key } = await newCsr();
  const res = await api(`Bearer ${token}`, 'POST', '/v1/certificates', { service, proxyId, csr });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { certificate: res.body.certificate, key, proxyId };
}

/** `Weft-Proof <JWS>` for one request, as a sidecar makes it. */
async function proof(who: Joined, method: string, target: string): Promise<string> {
  const x5c = (who.certificate.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => c.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''));
  const jws = await new CompactSign(Buffer.from(JSON.stringify({ htm: method, htu: target, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url') })))
    .setProtectedHeader({ alg: 'ES256', typ: PROOF_TYPE, x5c })
    .sign(who.key);
  secrets.push(jws);
  return `${PROOF_SCHEME} ${jws}`;
}

/** Opens POST /v1/stream with a hello and returns the first line the control plane sends. */
function openStream(authorization: string | null, node: Record<string, unknown>): Promise<{ status: number; first: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
    if (authorization) headers.authorization = authorization;
    const req = http.request(`${cp.url}/v1/stream`, { method: 'POST', headers, agent: false }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        const nl = buf.indexOf('\n');
        if (nl !== -1 || res.statusCode !== 200) {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, first: nl !== -1 ? buf.slice(0, nl) : buf });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, first: buf }));
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    req.write(JSON.stringify({ type: 'hello', node: { labels: {}, upstreams: [], weftVersion: 'test', ...node } }) + '\n');
  });
}

test('finding 1: nobody, a read-only token or another service\'s join token gets a certificate for admin in kube-system', async () => {
  const { csr } = await newCsr();
  const body = { service: 'admin', namespace: 'kube-system', proxyId: 'attacker-1', csr };
  const anonymous = await api(null, 'POST', '/v1/certificates', body);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.error.code, 'WEFT_ERR_AUTH_REQUIRED');
  const readOnly = await cp.createAdminToken('read-only');
  secrets.push(readOnly);
  assert.equal((await api(`Bearer ${readOnly}`, 'POST', '/v1/certificates', body)).body.error.code, 'WEFT_ERR_AUTH_FORBIDDEN');
  const echoToken = await cp.joinToken('echo');
  secrets.push(echoToken);
  const wrongScope = await api(`Bearer ${echoToken}`, 'POST', '/v1/certificates', body);
  assert.equal(wrongScope.status, 403);
  assert.equal(wrongScope.body.error.code, 'WEFT_ERR_AUTH_FORBIDDEN');
  // The join token's own service, but a CSR asking for another identity in its SAN: refused too.
  const sneaky = await newCsr('spiffe://weft.local/ns/kube-system/svc/admin');
  const sanRes = await api(`Bearer ${echoToken}`, 'POST', '/v1/certificates', { service: 'echo', proxyId: 'attacker-2', csr: sneaky.csr });
  assert.equal(sanRes.body.error.code, 'WEFT_ERR_AUTH_FORBIDDEN');
  // A join token may not send a bare public key (no proof it holds the key).
  const bare = await api(`Bearer ${echoToken}`, 'POST', '/v1/certificates', { service: 'echo', proxyId: 'attacker-3', publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) });
  assert.equal(bare.body.error.code, 'WEFT_ERR_CA_CSR_REQUIRED');
  // An expired join token gets nothing.
  const shortLived = await cp.joinToken('echo', undefined, 1);
  secrets.push(shortLived);
  await new Promise((r) => setTimeout(r, 1_100));
  assert.equal((await api(`Bearer ${shortLived}`, 'POST', '/v1/certificates', { service: 'echo', proxyId: 'late-1', csr })).body.error.code, 'WEFT_ERR_AUTH_TOKEN_EXPIRED');
});

test('finding 2: fake echo instances (another identity, or none) cannot register anonymously, and draw no traffic under STRICT even when an admin registers them', { timeout: 60_000 }, async () => {
  const fakeApp = await startApp('fake');
  try {
    const fake = (id: string, identity?: string) => ({ service: 'echo', id, address: '127.0.0.1', port: fakeApp.port, ...(identity ? { identity } : {}) });
    assert.equal((await api(null, 'POST', '/v1/catalog/instances', fake('fake-anon'))).body.error.code, 'WEFT_ERR_AUTH_REQUIRED');
    // A proxy of another service, with its own certificate, cannot register an echo instance.
    const intruder = await join('intruder');
    const asProxy = await api(await proof(intruder, 'POST', '/v1/catalog/instances'), 'POST', '/v1/catalog/instances', fake('fake-proxy', ECHO));
    assert.equal(asProxy.status, 403);
    assert.equal(asProxy.body.error.code, 'WEFT_ERR_AUTH_FORBIDDEN');

    assert.equal((await api(`Bearer ${cp.adminToken}`, 'PUT', '/v1/resources/meshconfigs/default/mesh', { apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' }, spec: { mtls: { mode: 'STRICT' } } })).status < 300, true);
    // An operator's mistake (or a leaked admin token): instances with no identity, or another trust domain's.
    for (const body of [fake('fake-none'), fake('fake-evil', 'spiffe://evil.local/ns/default/svc/echo')]) {
      assert.equal((await api(`Bearer ${cp.adminToken}`, 'POST', '/v1/catalog/instances', body)).status, 201);
    }
    await waitForPassing(cp, 'echo', 3);
    // Wait until web's snapshot holds the new state, seen from its /config (one endpoint: the real one).
    await waitFor('web sees STRICT', async () => {
      const config = await (await fetch(`http://127.0.0.1:${web.adminPort}/config`)).json() as { snapshot?: { mtlsMode?: string; services: { name: string; ports: { endpoints: { id: string }[] }[] }[] } };
      return config.snapshot?.mtlsMode === 'STRICT' && config.snapshot.services.find((s) => s.name === 'echo')?.ports[0]?.endpoints.length === 1;
    });
    for (let i = 0; i < 20; i++) {
      const res = await getViaProxy(web.outboundPort, 'http://echo/secret', undefined);
      assert.equal(res.status, 200);
      assert.match(res.body, /APP-REACHED echo/);
    }
    assert.equal(fakeApp.hits, 0, 'no call reached an instance that does not prove echo\'s identity');

    // Flagged where an operator looks.
    const endpoints = await runWeft(['endpoints', 'echo'], { control: cp.url });
    assert.equal(endpoints.code, 0, endpoints.stderr);
    assert.match(endpoints.stdout, /! echo\.default\/fake-none: no identity/);
    assert.match(endpoints.stdout, /! echo\.default\/fake-evil: identity spiffe:\/\/evil\.local/);
    const check = await runWeft(['check'], { control: cp.url });
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, /ENDPOINT-IDENTITY\s+echo\.default\/fake-evil/);
    const checkJson = await runWeft(['check', '-o', 'json'], { control: cp.url });
    const findings = (JSON.parse(checkJson.stdout) as { findings: { check: string; subject: string }[] }).findings;
    assert.deepEqual(findings.filter((f) => f.check === 'endpoint-identity').map((f) => f.subject).sort(), ['echo.default/fake-evil', 'echo.default/fake-none']);
    for (const id of ['fake-none', 'fake-evil']) assert.equal((await api(`Bearer ${cp.adminToken}`, 'DELETE', `/v1/catalog/instances/default/echo/${id}`)).status, 200);
    assert.equal((await runWeft(['check'], { control: cp.url })).code, 0, 'all is well again');
  } finally {
    await fakeApp.close();
  }
});

test('finding 3: the MeshConfig cannot be deleted or turned to DISABLE by nobody, a read-only token or a proxy', async () => {
  const readOnly = await cp.createAdminToken('read-only');
  secrets.push(readOnly);
  const intruder = await join('intruder');
  const disable = { apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' }, spec: { mtls: { mode: 'DISABLE' } } };
  const target = '/v1/resources/meshconfigs/default/mesh';
  for (const [who, auth, code] of [['nobody', null, 'WEFT_ERR_AUTH_REQUIRED'], ['read-only', `Bearer ${readOnly}`, 'WEFT_ERR_AUTH_FORBIDDEN']] as const) {
    assert.equal((await api(auth, 'DELETE', target)).body.error.code, code, who);
    assert.equal((await api(auth, 'PUT', target, disable)).body.error.code, code, who);
  }
  assert.equal((await api(await proof(intruder, 'DELETE', target), 'DELETE', target)).body.error.code, 'WEFT_ERR_AUTH_FORBIDDEN');
  assert.equal((await api(await proof(intruder, 'PUT', target), 'PUT', target, disable)).body.error.code, 'WEFT_ERR_AUTH_FORBIDDEN');
  // A read-only token still reads.
  const got = await api(`Bearer ${readOnly}`, 'GET', target);
  assert.equal(got.status, 200);
  assert.equal(got.body.spec.mtls.mode, 'STRICT');
});

test('finding 4: nobody opens a stream; a proxy streams only as its own service and cannot take over a live proxy id', { timeout: 60_000 }, async () => {
  const anonymous = await openStream(null, { id: 'x-1', service: 'echo', namespace: 'default' });
  assert.equal(anonymous.status, 401);
  const intruder = await join('intruder');
  // Another service's snapshot.
  const asEcho = await openStream(await proof(intruder, 'POST', '/v1/stream'), { id: intruder.proxyId, service: 'echo', namespace: 'default' });
  assert.equal(JSON.parse(asEcho.first).code, 'WEFT_ERR_AUTH_FORBIDDEN');
  // A live proxy's id, from another service, and from the same service with another key.
  const sameService = await join('web');
  for (const who of [intruder, sameService]) {
    const service = who === intruder ? 'intruder' : 'web';
    const takeover = await openStream(await proof(who, 'POST', '/v1/stream'), { id: web.id, service, namespace: 'default' });
    assert.equal(JSON.parse(takeover.first).code, 'WEFT_ERR_AUTH_FORBIDDEN', service);
  }
  // Replaying a proof is refused even for the same request.
  const once = await proof(intruder, 'POST', '/v1/stream');
  const first = await openStream(once, { id: intruder.proxyId, service: 'intruder', namespace: 'default' });
  // Its own stream it gets: the CA's trust state comes first, then its snapshot.
  assert.ok(['trust', 'snapshot'].includes(JSON.parse(first.first).type), `its own stream it gets: ${first.first.slice(0, 200)}`);
  const again = await openStream(once, { id: intruder.proxyId, service: 'intruder', namespace: 'default' });
  assert.equal(again.status, 401);
  const proxies = await api(`Bearer ${cp.adminToken}`, 'GET', '/v1/proxies');
  const live = proxies.body.items.find((p: { id: string }) => p.id === web.id);
  assert.equal(live.connected, true, 'the real web proxy is still connected');
  assert.equal(live.service, 'web');
});

test('a proxy joined with service A\'s token gets none of B\'s certificate, snapshot or registrations', async () => {
  const a = await join('alpha');
  const b = await join('bravo');
  const bReg = { service: 'bravo', id: b.proxyId, address: '127.0.0.1', port: 9, identity: 'spiffe://weft.local/ns/default/svc/bravo' };
  assert.equal((await api(await proof(b, 'POST', '/v1/catalog/instances'), 'POST', '/v1/catalog/instances', bReg)).status, 201);
  const { csr } = await newCsr();
  const cert = await api(await proof(a, 'POST', '/v1/certificates'), 'POST', '/v1/certificates', { service: 'bravo', proxyId: 'alpha-as-bravo', csr });
  assert.equal(cert.body.error.code, 'WEFT_ERR_AUTH_FORBIDDEN');
  const snapshot = await openStream(await proof(a, 'POST', '/v1/stream'), { id: a.proxyId, service: 'bravo', namespace: 'default' });
  assert.equal(JSON.parse(snapshot.first).code, 'WEFT_ERR_AUTH_FORBIDDEN');
  const instance = `/v1/catalog/instances/default/bravo/${b.proxyId}`;
  for (const [method, p, body] of [
    ['POST', '/v1/catalog/instances', { ...bReg, id: 'alpha-fake' }],
    ['GET', instance, undefined],
    ['PUT', `${instance}/heartbeat`, undefined],
    ['DELETE', instance, undefined],
    ['GET', '/v1/catalog/instances', undefined],
    ['GET', '/v1/proxies', undefined],
    ['POST', '/v1/tokens', { role: 'admin' }],
  ] as const) {
    const res = await api(await proof(a, method, p), method, p, body);
    assert.equal(res.status, 403, `${method} ${p}`);
  }
  // Its own registration, and renewal of its own certificate with a CSR, it may.
  const own = await api(await proof(a, 'POST', '/v1/catalog/instances'), 'POST', '/v1/catalog/instances', { service: 'alpha', id: a.proxyId, address: '127.0.0.1', port: 9, identity: 'spiffe://weft.local/ns/default/svc/alpha' });
  assert.equal(own.status, 201);
  const renew = await api(await proof(a, 'POST', '/v1/certificates'), 'POST', '/v1/certificates', { service: 'alpha', proxyId: a.proxyId, csr: (await newCsr()).csr });
  assert.equal(renew.status, 200);
  assert.equal(renew.body.identity, 'spiffe://weft.local/ns/default/svc/alpha');
  // A proxy registers only under the identity it proved.
  const lying = await api(await proof(a, 'POST', '/v1/catalog/instances'), 'POST', '/v1/catalog/instances', { service: 'alpha', id: 'alpha-2', address: '127.0.0.1', port: 9 });
  assert.equal(lying.status, 403);
  const list = await api(`Bearer ${cp.adminToken}`, 'GET', '/v1/catalog/instances?service=bravo');
  assert.deepEqual(list.body.items.map((i: { id: string }) => i.id), [b.proxyId], 'B\'s registrations are untouched');
});

test('malformed or oversized tokens, proofs and CSRs are refused with their codes and change nothing', async () => {
  const issuedBefore = (await (await fetch(`${cp.url}/metrics`)).text()).match(/^weft_control_certificates_issued_total (\d+)/m)?.[1];
  const token = await cp.joinToken('echo');
  secrets.push(token);
  const cases: [string | null, unknown, string][] = [
    [`Bearer ${'x'.repeat(5000)}`, undefined, 'WEFT_ERR_AUTH_TOKEN_TOO_LARGE'],
    ['Bearer weft-admin.000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', undefined, 'WEFT_ERR_AUTH_BAD_TOKEN'],
    [`Bearer ${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, undefined, 'WEFT_ERR_AUTH_BAD_TOKEN'],
    ['Basic dXNlcjpwYXNz', undefined, 'WEFT_ERR_AUTH_SCHEME'],
    [`${PROOF_SCHEME} not.a.jws`, undefined, 'WEFT_ERR_AUTH_BAD_PROOF'],
    [`${PROOF_SCHEME} ${'a'.repeat(13_000)}`, undefined, 'WEFT_ERR_AUTH_BAD_PROOF'],
    [`Bearer ${token}`, { service: 'echo', proxyId: 'bad-csr-1', csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }, 'WEFT_ERR_CA_BAD_CSR'],
    [`Bearer ${token}`, { service: 'echo', proxyId: 'bad-csr-2', csr: `-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(9000)}\n-----END CERTIFICATE REQUEST-----\n` }, 'WEFT_ERR_CA_CSR_TOO_LARGE'],
    [`Bearer ${token}`, { service: 'echo', proxyId: 'bad-csr-3', csr: 'hello' }, 'WEFT_ERR_CA_BAD_CSR'],
  ];
  // A CSR whose signature does not match its key: its last signature bytes flipped.
  const { csr } = await newCsr();
  const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 2] ^= 0xff;
  cases.push([`Bearer ${token}`, { service: 'echo', proxyId: 'bad-csr-4', csr: `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n` }, 'WEFT_ERR_CA_BAD_CSR']);
  for (const [auth, body, code] of cases) {
    const res = await api(auth, 'POST', '/v1/certificates', body ?? { service: 'echo', proxyId: 'x', csr });
    assert.equal(res.body.error.code, code, `${auth?.slice(0, 40)} ${JSON.stringify(body)?.slice(0, 80)}`);
  }
  const issuedAfter = (await (await fetch(`${cp.url}/metrics`)).text()).match(/^weft_control_certificates_issued_total (\d+)/m)?.[1];
  assert.equal(issuedAfter, issuedBefore, 'no certificate was issued');
  const tokenReq = await api(`Bearer ${cp.adminToken}`, 'POST', '/v1/tokens', { role: 'root' });
  assert.equal(tokenReq.body.error.code, 'WEFT_ERR_AUTH_INVALID_TOKEN_REQUEST');
});

test('weft token: create prints the token once, list shows no secret, revoke takes effect at once; a read-only token cannot create', async () => {
  const created = await runWeft(['token', 'create', '--service', 'cart', '-n', 'shop', '--ttl', '10m'], { control: cp.url });
  assert.equal(created.code, 0, created.stderr);
  const token = created.stdout.trim();
  assert.match(token, /^weft-join\.[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/);
  secrets.push(token);
  const id = token.split('.')[1]!;
  const list = await runWeft(['token', 'list', '-o', 'json'], { control: cp.url });
  const row = (JSON.parse(list.stdout) as { items: { id: string; kind: string; service?: string; namespace?: string; expiresAt?: string }[] }).items.find((t) => t.id === id);
  assert.deepEqual([row?.kind, row?.service, row?.namespace], ['join', 'cart', 'shop']);
  assert.ok(row?.expiresAt);
  assert.equal(list.stdout.includes(token.split('.')[2]!), false);
  const { csr } = await newCsr();
  assert.equal((await api(`Bearer ${token}`, 'POST', '/v1/certificates', { service: 'cart', namespace: 'shop', proxyId: 'cart-cli-1', csr })).status, 200);
  assert.equal((await runWeft(['token', 'revoke', id], { control: cp.url })).code, 0);
  assert.equal((await api(`Bearer ${token}`, 'POST', '/v1/certificates', { service: 'cart', namespace: 'shop', proxyId: 'cart-cli-2', csr })).body.error.code, 'WEFT_ERR_AUTH_BAD_TOKEN');
  const readOnly = await cp.createAdminToken('read-only');
  secrets.push(readOnly);
  const refused = await runWeft(['token', 'create', '--role', 'admin'], { control: cp.url, token: readOnly });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /WEFT_ERR_AUTH_FORBIDDEN/);
  assert.equal((await runWeft(['token', 'create'], { control: cp.url })).code, 2, 'neither --role nor --service: a usage error');
});

test('the bootstrap admin token file is 0600 and written once; --insecure writes none, accepts anonymous callers, still refuses bad tokens', { timeout: 60_000 }, async () => {
  assert.equal(statSync(path.join(cp.dataDir, 'admin-token')).mode & 0o777, 0o600);
  assert.match(cp.process.output(), /wrote a bootstrap admin token to .*admin-token/);
  const open = await startControlPlane(['--insecure']);
  try {
    assert.equal(existsSync(path.join(open.dataDir, 'admin-token')), false);
    assert.match(open.process.output(), /--insecure/);
    assert.equal((await open.apiAs(null, 'GET', '/v1/proxies')).status, 200);
    assert.equal((await open.apiAs(null, 'PUT', '/v1/resources/meshconfigs/default/mesh', { apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh' }, spec: { mtls: { mode: 'STRICT' } } })).status, 201);
    assert.equal((await open.apiAs('Bearer not-a-token', 'GET', '/v1/proxies')).body.error.code, 'WEFT_ERR_AUTH_BAD_TOKEN');
    // Its second start keeps it insecure and still writes nothing.
    await open.stop();
    await open.restart();
    assert.equal(existsSync(path.join(open.dataDir, 'admin-token')), false);
  } finally {
    await open.cleanup();
  }
});

test('weft check flags proxy certificates and the CA root expiring within its thresholds', async () => {
  // Day-long certificates and a ten-year root: within 48 h and 87600 h respectively.
  const res = await runWeft(['check', '-o', 'json', '--cert-warn', '48h', '--root-warn', '87600h'], { control: cp.url });
  assert.equal(res.code, 1, res.stderr);
  const findings = (JSON.parse(res.stdout) as { findings: { check: string; subject: string }[] }).findings;
  const proxies = findings.filter((f) => f.check === 'proxy-certificate').map((f) => f.subject);
  assert.ok(proxies.includes(echo.id) && proxies.includes(web.id), JSON.stringify(findings));
  assert.deepEqual(findings.filter((f) => f.check === 'ca-root').map((f) => f.subject), ['weft.local']);
  // A read-only token is enough for it; nobody is not.
  const readOnly = await cp.createAdminToken('read-only');
  secrets.push(readOnly);
  assert.equal((await runWeft(['check'], { control: cp.url, token: readOnly })).code, 0);
  const anonymous = await runWeft(['check'], { control: cp.url, token: null });
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /WEFT_ERR_AUTH_REQUIRED/);
});

// ── openssl s_client against the echo sidecar's inbound port ────────────────────────────────

/** A leaf signed by the mesh's own root (read from the control plane's data dir), with any URI SAN and validity. */
async function meshLeaf(uri: string, notBefore: Date, notAfter: Date): Promise<{ cert: string; key: string }> {
  const caDir = path.join(cp.dataDir, CA_DIR);
  const root = new x509.X509Certificate(readFileSync(path.join(caDir, CA_CERT_FILE), 'utf8'));
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const caKey = createPrivateKey(readFileSync(path.join(caDir, CA_KEY_FILE), 'utf8')).toCryptoKey(alg, false, ['sign']);
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex').replace(/^[89a-f]/, '1'),
    subject: 'O=test',
    issuer: root.subject,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { cert: cert.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n` };
}

/** What the app sends back to an `openssl s_client` that speaks one HTTP/1.1 request (all of its stdout). */
function sClient(port: number, leaf?: { cert: string; key: string }): Promise<string> {
  const n = randomBytes(4).toString('hex');
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-quiet', '-verify_quiet', '-CAfile', path.join(cp.dataDir, CA_DIR, CA_CERT_FILE)];
  if (leaf) {
    writeFileSync(path.join(work, `${n}.crt`), leaf.cert);
    writeFileSync(path.join(work, `${n}.key`), leaf.key, { mode: 0o600 });
    args.push('-cert', path.join(work, `${n}.crt`), '-key', path.join(work, `${n}.key`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', reject);
    child.once('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    child.stdin.on('error', () => {});
    // Written at once: a refused handshake closes the connection before anything is read.
    child.stdin.write('GET /whoami HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n');
  });
}

test('openssl s_client: no certificate, a foreign CA, an expired certificate or another trust domain get nothing from the app; a mesh certificate does', { timeout: 90_000 }, async () => {
  const port = echo.inboundPort!;
  const now = Date.now();
  const valid = await meshLeaf(WEB, new Date(now - 60_000), new Date(now + 3_600_000));
  const good = await sClient(port, valid);
  assert.match(good, /APP-REACHED echo/, 'a certificate from the mesh CA for a mesh identity gets through');

  const foreignCa = createTestCa('foreign root');
  try {
    const refused: [string, { cert: string; key: string } | undefined][] = [
      ['no certificate', undefined],
      ['a foreign CA', foreignCa.issue(`URI:${WEB}`)],
      ['an expired certificate', await meshLeaf(WEB, new Date(now - 7_200_000), new Date(now - 3_600_000))],
      ['another trust domain', await meshLeaf('spiffe://evil.local/ns/default/svc/web', new Date(now - 60_000), new Date(now + 3_600_000))],
    ];
    const before = echoApp.hits;
    for (const [what, leaf] of refused) {
      const out = await sClient(port, leaf);
      assert.doesNotMatch(out, /APP-REACHED|HTTP\/1\.1/, `${what}: nothing from the app`);
    }
    assert.equal(echoApp.hits, before, 'the app saw none of them');
  } finally {
    foreignCa.remove();
  }
});

test('no token, private key or proof appears in logs, API responses (but token creation), /config, metrics or errors', { timeout: 30_000 }, async () => {
  // What an operator or a scraper reads.
  for (const p of ['/v1/tokens', '/v1/proxies', '/v1/catalog/instances', '/v1/health', '/v1/resources']) responses.push(JSON.stringify((await cp.api('GET', p)).body));
  responses.push(await (await fetch(`${cp.url}/metrics`)).text());
  for (const s of [echo, web]) {
    for (const p of ['/config', '/metrics', '/ready']) responses.push(await (await fetch(`http://127.0.0.1:${s.adminPort}${p}`)).text());
  }
  const logs = [cp.process.output(), echo.process.output(), web.process.output()];
  // The creation answers are the one place a token may appear: leave them out of the grep.
  const haystack = [...responses.filter((r) => !r.includes('"token":"weft-')), ...logs].join('\n');
  assert.ok(secrets.length > 10, 'the scenarios above made tokens and proofs');
  for (const secret of secrets) {
    const secretPart = secret.startsWith(`${PROOF_SCHEME} `) ? secret.slice(PROOF_SCHEME.length + 1) : secret.split('.').pop()!;
    assert.equal(haystack.includes(secretPart), false, `a secret (${secret.slice(0, 16)}…) appeared in output`);
  }
  assert.doesNotMatch(haystack, /PRIVATE KEY/, 'no private key in any output');
  // The token list shows ids and scopes, never a digest.
  assert.doesNotMatch(JSON.stringify((await cp.api('GET', '/v1/tokens')).body), /secretSha256|"token"/);
  // The store holds digests only.
  const db = readFileSync(path.join(cp.dataDir, 'weft.db')).toString('latin1') + (() => {
    try {
      return readFileSync(path.join(cp.dataDir, 'weft.db-wal')).toString('latin1');
    } catch {
      return '';
    }
  })();
  for (const secret of secrets.filter((s) => s.startsWith('weft-'))) assert.equal(db.includes(secret.split('.').pop()!), false, 'the store has no token secret');
});

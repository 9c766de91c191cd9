// Bar: RequestAuthentication and AuthorizationPolicy end to end through real sidecars. JWTs signed
// by a test issuer whose JWKS a small HTTP server serves: valid, expired, not yet valid, wrong
// issuer, wrong audience, bad signature, unknown key id, missing (passes; denied once a policy needs
// a request principal), claims forwarded as headers, forged claim headers dropped. Then an
// allow/deny/audit matrix: principal patterns, namespaces, methods, paths, headers, claims, ports,
// MeshConfig default deny, DENY winning over ALLOW.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { stopAll } from '../support/processes.ts';
import { epochS, jwksOf, testKey, type TestKey } from '../../src/proxy/filters/jwt-authn/fixtures.ts';

const ISSUER = 'https://issuer.test';
const PROXIES = 4;

let cp: ControlPlaneProcess;
let app: HeaderEcho;
let jwks: { url: string; hits(): number; close(): Promise<void> };
let key: TestKey;
let stranger: TestKey;
let orders: SidecarProcess;
let web: SidecarProcess;
let batch: SidecarProcess;
let admin: SidecarProcess;

/** The app: answers every request with what it received (method, url, headers). */
interface HeaderEcho {
  readonly port: number;
  hits(): number;
  close(): Promise<void>;
}

async function startHeaderEcho(): Promise<HeaderEcho> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, hits: () => hits, close: () => new Promise((r) => server.close(() => r())) };
}

before(async () => {
  key = await testKey('k1', 'ES256');
  stranger = await testKey('k1', 'ES256');
  let served = 0;
  const server = http.createServer((_req, res) => {
    served++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(jwksOf(key)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  jwks = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`, hits: () => served, close: () => new Promise((r) => server.close(() => r())) };

  cp = await startControlPlane();
  app = await startHeaderEcho();
  orders = await startSidecar(cp.url, 'orders', ['--app-port', String(app.port)]);
  web = await startSidecar(cp.url, 'web');
  batch = await startSidecar(cp.url, 'batch');
  admin = await startSidecar(cp.url, 'admin', ['--namespace', 'ops']);
  await waitForPassing(cp, 'orders', 1);
  await waitForInSync(cp, PROXIES);
});

after(async () => {
  await stopAll();
  await app?.close();
  await jwks?.close();
  await cp?.cleanup();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** What the app received, when the request reached it. */
  seen?: { method: string; url: string; headers: Record<string, string> };
  reason?: string;
  message?: string;
}

/** A request through `from`'s sidecar to orders, with extra headers. */
function call(from: SidecarProcess, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: from.outboundPort, method, path: `http://orders.default${path}`, headers: { host: 'orders.default', ...headers }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const reply: Reply = { status: res.statusCode ?? 0, headers: res.headers, body: text };
        const parsed = text ? (JSON.parse(text) as Record<string, any>) : {};
        if (res.headers['x-weft-reason']) Object.assign(reply, { reason: parsed.error?.reason, message: parsed.error?.message });
        else if (res.statusCode === 200) reply.seen = parsed as Reply['seen'];
        resolve(reply);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function apply(items: unknown[]): Promise<void> {
  const r = await cp.api('POST', '/v1/apply', { items });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitForInSync(cp, PROXIES);
}

async function remove(plural: string, name: string): Promise<void> {
  assert.equal((await cp.api('DELETE', `/v1/resources/${plural}/default/${name}`)).status, 200);
  await waitForInSync(cp, PROXIES);
}

const resource = (kind: string, name: string, spec: unknown) => ({ apiVersion: 'weft.dev/v1alpha1', kind, metadata: { name, namespace: 'default' }, spec });
const policy = (name: string, action: string, rules: unknown[]) => resource('AuthorizationPolicy', name, { targetRefs: [{ kind: 'Service', name: 'orders' }], action, rules });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISSUER, sub: 'alice', aud: 'orders', exp: epochS() + 600, nbf: epochS() - 10, groups: ['dev'], ...extra });

/** Applies the policies, runs `fn`, removes them (also when `fn` fails, so later tests start clean). */
async function withPolicies(items: ReturnType<typeof policy>[], fn: () => Promise<void>): Promise<void> {
  await apply(items);
  try {
    await fn();
  } finally {
    for (const p of items) await remove(p.kind === 'MeshConfig' ? 'meshconfigs' : 'authorizationpolicies', p.metadata.name);
  }
}

test('RequestAuthentication: an invalid one is refused with field paths', async () => {
  const r = await cp.api('POST', '/v1/apply', { items: [resource('RequestAuthentication', 'bad', { targetRefs: [{ kind: 'Service', name: 'orders' }], jwtRules: [{ issuer: ISSUER, jwksUri: 'ftp://x/jwks', outputClaimToHeaders: [{ header: 'x-forwarded-client-cert', claim: 'sub' }] }] })] });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.error.details.map((d: { path: string }) => d.path).sort(), ['items[0].spec.jwtRules[0].jwksUri', 'items[0].spec.jwtRules[0].outputClaimToHeaders[0].header']);
});

test('JWT: valid passes with claims as headers and the token stripped; every bad token is 401 jwt-invalid naming why', async () => {
  await apply([resource('RequestAuthentication', 'issuer', {
    targetRefs: [{ kind: 'Service', name: 'orders' }],
    jwtRules: [{ issuer: ISSUER, audiences: ['orders'], jwksUri: jwks.url, outputClaimToHeaders: [{ header: 'x-user', claim: 'sub' }, { header: 'x-groups', claim: 'groups' }] }],
  })]);

  const missing = await call(web, '/a');
  assert.equal(missing.status, 200, 'a request without a token passes while no policy requires one');
  assert.equal(missing.seen?.headers['x-user'], undefined);

  const valid = await call(web, '/a', bearer(await key.sign(claims())));
  assert.equal(valid.status, 200, valid.body);
  assert.equal(valid.seen?.headers['x-user'], 'alice');
  assert.equal(valid.seen?.headers['x-groups'], 'dev');
  assert.equal(valid.seen?.headers.authorization, undefined, 'the token does not reach the app (forwardOriginalToken: false)');
  assert.ok(jwks.hits() >= 1, 'the sidecar fetched the JWKS');

  const forgedWithout = await call(web, '/a', { 'x-user': 'root', 'x-groups': 'admins' });
  assert.equal(forgedWithout.status, 200);
  assert.equal(forgedWithout.seen?.headers['x-user'], undefined, 'a caller cannot forge a claim header');
  assert.equal(forgedWithout.seen?.headers['x-groups'], undefined);
  const forgedWith = await call(web, '/a', { 'x-user': 'root', ...bearer(await key.sign(claims())) });
  assert.equal(forgedWith.seen?.headers['x-user'], 'alice');

  const hitsBefore = app.hits();
  const cases: [string, string, RegExp][] = [
    ['expired', await key.sign(claims({ exp: epochS() - 3600 })), /expired/],
    ['not yet valid', await key.sign(claims({ nbf: epochS() + 3600 })), /not yet valid/],
    ['wrong issuer', await key.sign(claims({ iss: 'https://evil.test' })), /wrong issuer/],
    ['wrong audience', await key.sign(claims({ aud: 'billing' })), /wrong audience/],
    ['bad signature', await stranger.sign(claims()), /bad signature/],
    ['unknown key id', await key.sign(claims(), { kid: 'k-unknown' }), /unknown key id/],
    ['malformed', 'not-a-jwt', /malformed/],
  ];
  for (const [why, token, message] of cases) {
    const r = await call(web, '/a', bearer(token));
    assert.equal(r.status, 401, why);
    assert.equal(r.headers['x-weft-reason'], 'jwt-invalid', why);
    assert.match(r.headers['www-authenticate'] ?? '', /^Bearer error="invalid_token"/, why);
    assert.match(r.message!, message, why);
    assert.ok(!r.body.includes(token), `${why}: the reply never echoes the token`);
  }
  assert.equal(app.hits(), hitsBefore, 'no rejected token reached the app');
});

test('JWT: a missing token is denied once an ALLOW policy requires a request principal; claims drive rules', async () => {
  await withPolicies([policy('jwt-required', 'ALLOW', [{ from: [{ requestPrincipals: [`${ISSUER}/*`] }], when: [{ key: 'request.auth.claims[groups]', values: ['dev', 'admins'] }] }])], async () => {
    const missing = await call(web, '/a');
    assert.equal(missing.status, 403);
    assert.equal(missing.reason, 'authz-denied');
    assert.match(missing.message!, /default\/jwt-required/);
    assert.equal((await call(web, '/a', bearer(await key.sign(claims())))).status, 200);
    assert.equal((await call(web, '/a', bearer(await key.sign(claims({ groups: ['guests'] }))))).status, 403, 'the claim condition is not met');
    assert.equal((await call(web, '/a', bearer(await key.sign(claims({ sub: 'bob', groups: 'admins' }))))).status, 200, 'a string claim matches too');
  });
});

test('matrix: principal patterns (exact, prefix, suffix) and namespaces on the mTLS identity', async () => {
  await withPolicies([policy('web-by-suffix', 'ALLOW', [{ from: [{ principals: ['*/svc/web'] }] }, { from: [{ namespaces: ['ops'] }] }])], async () => {
    assert.equal((await call(web, '/a')).status, 200);
    assert.equal((await call(admin, '/a')).status, 200, 'namespace ops');
    const denied = await call(batch, '/a');
    assert.equal(denied.status, 403);
    assert.match(denied.message!, /spiffe:\/\/weft\.local\/ns\/default\/svc\/batch matches no rule .*default\/web-by-suffix/);
  });
  await withPolicies([policy('default-ns', 'ALLOW', [{ from: [{ principals: ['spiffe://weft.local/ns/default/*'], notPrincipals: ['spiffe://weft.local/ns/default/svc/batch'] }] }])], async () => {
    assert.equal((await call(web, '/a')).status, 200);
    assert.equal((await call(batch, '/a')).status, 403, 'notPrincipals');
    assert.equal((await call(admin, '/a')).status, 403, 'prefix of another namespace');
  });
  await withPolicies([policy('not-ops', 'ALLOW', [{ from: [{ notNamespaces: ['ops'] }] }])], async () => {
    assert.equal((await call(batch, '/a')).status, 200);
    assert.equal((await call(admin, '/a')).status, 403);
  });
});

test('matrix: methods, paths (normalized), ports and headers', async () => {
  await withPolicies([policy('reads', 'ALLOW', [{ to: [{ methods: ['GET'], paths: ['/api/*', '*/status'], notPaths: ['/api/private/*'], ports: [app.port] }] }])], async () => {
    assert.equal((await call(web, '/api/orders')).status, 200);
    assert.equal((await call(web, '/x/status')).status, 200, 'suffix');
    assert.equal((await call(web, '/api/orders', {}, 'POST')).status, 403, 'method');
    assert.equal((await call(web, '/other')).status, 403, 'path');
    assert.equal((await call(web, '/api/private/x')).status, 403, 'notPaths');
    assert.equal((await call(web, '/api/../api/private/x')).status, 403, 'judged on the normalized path');
  });
  await withPolicies([policy('other-port', 'ALLOW', [{ to: [{ ports: [1] }] }])], async () => {
    assert.equal((await call(web, '/a')).status, 403, 'the app port is not 1');
  });
  await withPolicies([policy('tenant', 'ALLOW', [{ when: [{ key: 'request.headers[X-Tenant]', values: ['acme', 'beta-*'] }] }])], async () => {
    assert.equal((await call(web, '/a', { 'x-tenant': 'acme' })).status, 200);
    assert.equal((await call(web, '/a', { 'x-tenant': 'beta-2' })).status, 200);
    assert.equal((await call(web, '/a', { 'x-tenant': 'evil' })).status, 403);
    assert.equal((await call(web, '/a')).status, 403);
  });
});

test('matrix: DENY wins over ALLOW; AUDIT counts a match without deciding', async () => {
  const before = await adminMetrics(orders.adminPort);
  const audited = (text: string, decision: string) => metricSample(text, `weft_proxy_authz_audit_total{policy="default/watch-admin",decision="${decision}"}`);
  await withPolicies([
    policy('mesh-callers', 'ALLOW', [{ from: [{ principals: ['*'] }] }]),
    policy('no-admin', 'DENY', [{ to: [{ paths: ['/admin/*'] }] }, { from: [{ principals: ['*/svc/batch'] }], to: [{ methods: ['POST'] }] }]),
    policy('watch-admin', 'AUDIT', [{ to: [{ paths: ['/admin/*', '/audited'] }] }]),
  ], async () => {
    const denied = await call(web, '/admin/users');
    assert.equal(denied.status, 403);
    assert.match(denied.message!, /denied by AuthorizationPolicy default\/no-admin \(rule 0\)/);
    assert.equal((await call(batch, '/x', {}, 'POST')).status, 403);
    assert.equal((await call(web, '/x', {}, 'POST')).status, 200);
    assert.equal((await call(web, '/audited')).status, 200, 'AUDIT alone does not deny');
    const text = await adminMetrics(orders.adminPort);
    assert.equal(audited(text, 'allowed') - audited(before, 'allowed'), 1);
    assert.equal(audited(text, 'denied') - audited(before, 'denied'), 1);
  });
});

test('MeshConfig authorization.defaultAction DENY: no ALLOW policy, no request; an ALLOW policy opens what it names', async () => {
  const mesh = { apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'mesh', namespace: 'default' }, spec: { authorization: { defaultAction: 'DENY' } } };
  await withPolicies([mesh as ReturnType<typeof policy>], async () => {
    const denied = await call(web, '/a');
    assert.equal(denied.status, 403);
    assert.equal(denied.reason, 'authz-denied');
    assert.match(denied.message!, /default deny/);
    await withPolicies([policy('web-only', 'ALLOW', [{ from: [{ principals: ['*/svc/web'] }] }])], async () => {
      assert.equal((await call(web, '/a')).status, 200);
      assert.equal((await call(batch, '/a')).status, 403);
    });
  });
  assert.equal((await call(batch, '/a')).status, 200, 'default allow again once the MeshConfig is gone');
});

// What a proxy refuses before it runs a snapshot: the mTLS fields (endpoint identity, mode), and
// authorization and RequestAuthentication rules read by the API's own validators.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateSnapshot } from './validate-snapshot.ts';

test('validateSnapshot refuses an endpoint identity that is not a SPIFFE ID, and an unknown mtlsMode', () => {
  const snap = { version: '1', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', mtlsMode: 'SOMETIMES', services: [{ name: 'a', namespace: 'default', policy: { loadBalancer: { algorithm: 'round-robin' }, timeouts: { connectMs: 1, requestMs: 1, idleMs: 1 }, retries: { attempts: 0 } }, ports: [{ port: 80, protocol: 'http', endpoints: [{ id: 'a1', address: '127.0.0.1', port: 1, weight: 1, health: 'passing', labels: {}, identity: 'https://x' }] }] }] };
  const r = validateSnapshot(snap);
  assert.ok(!r.ok);
  assert.deepEqual(r.errors.map((e) => e.path).sort(), ['snapshot.mtlsMode', 'snapshot.services[0].ports[0].endpoints[0].identity']);
});

test('validateSnapshot: responseHeaderMs and streamIdleMs may be absent (an older control plane), but not malformed', () => {
  const snap = (timeouts: Record<string, unknown>) => ({ version: '1', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', mtlsMode: 'PERMISSIVE', services: [{ name: 'a', namespace: 'default', policy: { loadBalancer: { algorithm: 'round-robin' }, timeouts, retries: { attempts: 0 } }, ports: [{ port: 80, protocol: 'http', endpoints: [] }] }] });
  const old = validateSnapshot(snap({ connectMs: 1, requestMs: 0, idleMs: 1 }));
  assert.ok(old.ok, JSON.stringify(!old.ok && old.errors));
  const bad = validateSnapshot(snap({ connectMs: 1, requestMs: 0, idleMs: 1, responseHeaderMs: -1, streamIdleMs: 'long' }));
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors.map((e) => e.path).sort(), ['snapshot.services[0].policy.timeouts.responseHeaderMs', 'snapshot.services[0].policy.timeouts.streamIdleMs']);
});

test('validateSnapshot checks authorization and request-authentication rules with the API\'s own readers', () => {
  const service = (extra: Record<string, unknown>) => ({ version: '1', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', services: [{ name: 'a', namespace: 'default', policy: { loadBalancer: { algorithm: 'round-robin' }, timeouts: { connectMs: 1, requestMs: 1, idleMs: 1 }, retries: { attempts: 0 } }, ports: [], ...extra }] });
  const good = service({
    authorization: [{ name: 'default/p', action: 'AUDIT', rules: [{ from: [{ identities: ['spiffe://weft.local/ns/default/svc/web'] }], when: [{ key: 'request.auth.claims[groups]', values: ['admins'] }] }] }],
    authorizationDefault: 'DENY',
    requestAuthentication: [{ name: 'default/jwt', jwtRules: [{ issuer: 'i', audiences: [], jwksUri: 'https://i.example/jwks', fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }], fromParams: [], outputClaimToHeaders: [], forwardOriginalToken: false }] }],
  });
  assert.ok(validateSnapshot(good).ok, 'what the builder sends (and a policy stored with the first field name, identities) is accepted');
  const bad = service({
    authorization: [{ name: 'default/p', action: 'ALLOW', rules: [{ to: [{ paths: ['/a/*/b'] }], when: [{ key: 'source.ip', values: ['x'] }] }] }],
    authorizationDefault: 'MAYBE',
    requestAuthentication: [{ name: 'default/jwt', jwtRules: [{ issuer: 'i', jwksUri: 'file:///etc/passwd' }] }],
  });
  const r = validateSnapshot(bad);
  assert.ok(!r.ok);
  assert.deepEqual(r.errors.map((e) => e.path).sort(), [
    'snapshot.services[0].authorizationDefault',
    'snapshot.services[0].authorization[0].rules[0].to[0].paths[0]',
    'snapshot.services[0].authorization[0].rules[0].when[0].key',
    'snapshot.services[0].requestAuthentication[0].jwtRules[0].jwksUri',
  ]);
});

test('validateSnapshot checks tcpRoutes: a name, an optional port, backends with weights', () => {
  const snap = (tcpRoutes: unknown) => ({ version: '1', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', services: [{ name: 'redis', namespace: 'default', policy: { loadBalancer: { algorithm: 'round-robin' }, timeouts: { connectMs: 1, requestMs: 1, idleMs: 1 }, retries: { attempts: 0 } }, ports: [], tcpRoutes }] });
  const good = validateSnapshot(snap([{ name: 'default/split', port: 6379, rule: '0', backends: [{ weight: 1, ref: 'Service/default/a', service: { name: 'a', namespace: 'default' } }] }]));
  assert.ok(good.ok, JSON.stringify(!good.ok && good.errors));
  const bad = validateSnapshot(snap([{ port: 0, backends: [{ weight: -1 }] }]));
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors.map((e) => e.path).sort(), ['snapshot.services[0].tcpRoutes[0].backends[0].weight', 'snapshot.services[0].tcpRoutes[0].name', 'snapshot.services[0].tcpRoutes[0].port']);
});

test('a snapshot whose observability settings are malformed is refused (NACK) with their paths', () => {
  const base = { version: '1', hash: 'h', outboundTrafficPolicy: 'ALLOW_ANY', services: [] };
  assert.equal(validateSnapshot({ ...base, observability: { accessLog: { enabled: true, sampleRate: 1, alwaysLogErrors: true, path: 'stdout' }, tracing: { sampleRate: 0.5, otlpEndpoint: 'http://c:4318/v1/traces' } } }).ok, true);
  const r = validateSnapshot({ ...base, observability: { tracing: { sampleRate: 3, otlpEndpoint: 'http://c:4318/v1/traces' }, other: true } });
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.errors.map((e) => e.path).sort(), ['snapshot.observability.other', 'snapshot.observability.tracing.sampleRate']);
});

test('validateSnapshot: outlierDetection and slowStart may be absent (an older control plane), but not malformed', () => {
  const snap = (extra: Record<string, unknown>) => ({ version: '1', hash: '', outboundTrafficPolicy: 'ALLOW_ANY', services: [{ name: 'a', namespace: 'default', policy: { loadBalancer: { algorithm: 'round-robin' }, timeouts: { connectMs: 1, requestMs: 0, idleMs: 1 }, retries: { attempts: 0 }, ...extra }, ports: [] }] });
  assert.ok(validateSnapshot(snap({})).ok);
  assert.ok(validateSnapshot(snap({ outlierDetection: { consecutive5xx: 3 }, slowStart: { windowMs: 1000 } })).ok);
  const bad = validateSnapshot(snap({ outlierDetection: { maxEjectionPercent: 150, baseEjectionTimeMs: 10, maxEjectionTimeMs: 5 }, slowStart: { aggression: -1 } }));
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors.map((e) => e.path).sort(), [
    'snapshot.services[0].policy.outlierDetection.maxEjectionPercent',
    'snapshot.services[0].policy.outlierDetection.maxEjectionTimeMs',
    'snapshot.services[0].policy.slowStart.aggression',
  ]);
});

// RateLimitPolicy validation: defaults filled in, every bad field refused with its path, and the
// proxy's snapshot check refusing what the API would.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRedisAddress, rateLimitPolicyType } from './rate-limit-policy.ts';
import { validateSnapshot } from '../validate-snapshot.ts';
import { DEFAULT_BACKEND_POLICY } from './backend-policy.ts';

const target = [{ kind: 'Service', name: 'orders' }];
const validate = (spec: unknown) => rateLimitPolicyType.validateSpec(spec, 'spec');
const paths = (spec: unknown): string[] => {
  const r = validate(spec);
  assert.equal(r.ok, false, 'expected refusal');
  return r.ok ? [] : r.errors.map((e) => e.path);
};

test('a full policy: defaults for direction, burst, algorithm and failureMode', () => {
  const r = validate({
    targetRefs: target,
    local: {
      total: { requestsPerSecond: 100 },
      identity: { requestsPerSecond: 2.5, burst: 10 },
      overrides: [{ requestsPerSecond: 50, clientRefs: [{ kind: 'Service', name: 'web', namespace: 'default' }] }],
      perHeader: [{ name: 'X-Tenant', requestsPerSecond: 0.5 }],
    },
    global: { redis: { address: 'redis.internal:6379' }, requestsPerSecond: 1000 },
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.value, {
    targetRefs: [{ kind: 'Service', name: 'orders' }],
    direction: 'inbound',
    local: {
      total: { requestsPerSecond: 100, burst: 100 },
      identity: { requestsPerSecond: 2.5, burst: 10 },
      overrides: [{ requestsPerSecond: 50, burst: 50, clientRefs: [{ kind: 'Service', name: 'web', namespace: 'default' }] }],
      perHeader: [{ name: 'x-tenant', requestsPerSecond: 0.5, burst: 1 }],
    },
    global: { redis: { address: 'redis.internal:6379' }, requestsPerSecond: 1000, burst: 1000, algorithm: 'gcra', failureMode: 'open' },
  });
});

test('limits out of range are refused with their field paths', () => {
  assert.deepEqual(paths({ targetRefs: target, local: { total: { requestsPerSecond: 0 } } }), ['spec.local.total.requestsPerSecond']);
  assert.deepEqual(paths({ targetRefs: target, local: { total: { requestsPerSecond: -5 } } }), ['spec.local.total.requestsPerSecond']);
  assert.deepEqual(paths({ targetRefs: target, local: { total: { requestsPerSecond: 1e12 } } }), ['spec.local.total.requestsPerSecond']);
  assert.deepEqual(paths({ targetRefs: target, local: { total: { requestsPerSecond: '10' } } }), ['spec.local.total.requestsPerSecond']);
  assert.deepEqual(paths({ targetRefs: target, local: { total: { requestsPerSecond: 1e-9 } } }), ['spec.local.total.requestsPerSecond']);
  assert.deepEqual(paths({ targetRefs: target, local: { identity: { requestsPerSecond: 10, burst: 0 } } }), ['spec.local.identity.burst']);
  assert.deepEqual(paths({ targetRefs: target, local: { identity: { requestsPerSecond: 10, burst: 2.5 } } }), ['spec.local.identity.burst']);
  assert.deepEqual(paths({ targetRefs: target, local: { total: {} } }), ['spec.local.total.requestsPerSecond']);
  assert.deepEqual(paths({ targetRefs: target, global: { redis: { address: 'r:6379' }, requestsPerSecond: 5, fallbackLocalRequestsPerSecond: 0 } }), ['spec.global.fallbackLocalRequestsPerSecond']);
});

test('a header limit naming no header, an empty local, or overrides without identity are refused', () => {
  assert.deepEqual(paths({ targetRefs: target, local: { perHeader: [{ requestsPerSecond: 5 }] } }), ['spec.local.perHeader[0].name']);
  assert.deepEqual(paths({ targetRefs: target, local: { perHeader: [{ name: 'bad header', requestsPerSecond: 5 }] } }), ['spec.local.perHeader[0].name']);
  assert.deepEqual(paths({ targetRefs: target, local: { perHeader: [{ name: 'a', requestsPerSecond: 5 }, { name: 'A', requestsPerSecond: 1 }] } }), ['spec.local.perHeader[1].name']);
  assert.deepEqual(paths({ targetRefs: target, local: {} }), ['spec.local']);
  assert.deepEqual(paths({ targetRefs: target }), ['spec']);
  assert.deepEqual(paths({ targetRefs: target, local: { overrides: [{ requestsPerSecond: 5, clientRefs: [{ kind: 'Service', name: 'web', namespace: 'default' }] }] } }), ['spec.local.overrides']);
  assert.deepEqual(paths({ targetRefs: target, local: { identity: { requestsPerSecond: 1 }, overrides: [{ requestsPerSecond: 5, clientRefs: [{ kind: 'Pod', name: 'web' }] }] } }), ['spec.local.overrides[0].clientRefs[0].kind', 'spec.local.overrides[0].clientRefs[0].namespace']);
  assert.deepEqual(paths({ targetRefs: target, local: { total: { requestsPerSecond: 1, rate: 2 } } }), ['spec.local.total.rate']);
});

test('a Redis address that does not parse, an unknown failureMode or algorithm are refused', () => {
  for (const address of ['redis', 'redis:', ':6379', 'redis:0', 'redis:70000', 'red is:6379', 'http://redis:6379', '::1:6379', '']) {
    assert.deepEqual(paths({ targetRefs: target, global: { redis: { address }, requestsPerSecond: 5 } }), ['spec.global.redis.address'], address);
  }
  assert.deepEqual(paths({ targetRefs: target, global: { requestsPerSecond: 5 } }), ['spec.global.redis']);
  assert.deepEqual(paths({ targetRefs: target, global: { redis: { address: 'r:1' }, requestsPerSecond: 5, failureMode: 'maybe' } }), ['spec.global.failureMode']);
  assert.deepEqual(paths({ targetRefs: target, global: { redis: { address: 'r:1' }, requestsPerSecond: 5, algorithm: 'leaky' } }), ['spec.global.algorithm']);
  assert.deepEqual(paths({ targetRefs: target, direction: 'sideways', global: { redis: { address: 'r:1' }, requestsPerSecond: 5 } }), ['spec.direction']);
  assert.deepEqual(paths({ targetRefs: target, global: { redis: { address: 'nope' }, requestsPerSecond: -1 } }), ['spec.global.requestsPerSecond', 'spec.global.redis.address']);
});

test('global descriptors: identity and header parts; one naming no source is refused', () => {
  const r = validate({ targetRefs: target, global: { redis: { address: 'r:1' }, requestsPerSecond: 5, descriptors: [{ source: 'identity' }, { source: 'header', header: 'X-Tenant' }] } });
  assert.ok(r.ok);
  assert.deepEqual(r.value.global?.descriptors, [{ source: 'identity' }, { source: 'header', header: 'x-tenant' }]);
  const g = (descriptors: unknown) => ({ targetRefs: target, global: { redis: { address: 'r:1' }, requestsPerSecond: 5, descriptors } });
  assert.deepEqual(paths(g([{}])), ['spec.global.descriptors[0].source']);
  assert.deepEqual(paths(g([{ source: 'header' }])), ['spec.global.descriptors[0].header']);
  assert.deepEqual(paths(g([{ source: 'cookie' }])), ['spec.global.descriptors[0].source']);
  assert.deepEqual(paths(g([{ source: 'identity', header: 'x' }])), ['spec.global.descriptors[0].header']);
  assert.deepEqual(paths(g([])), ['spec.global.descriptors']);
});

test('targetRefs: a Service, or an HTTPRoute/GRPCRoute for outbound policies only', () => {
  const route = [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'canary' }];
  const ok = validate({ targetRefs: route, direction: 'outbound', local: { total: { requestsPerSecond: 1 } } });
  assert.ok(ok.ok && ok.value.targetRefs[0]?.kind === 'HTTPRoute');
  assert.deepEqual(paths({ targetRefs: route, local: { total: { requestsPerSecond: 1 } } }), ['spec.direction']);
  assert.deepEqual(paths({ targetRefs: [{ group: 'x', kind: 'HTTPRoute', name: 'r' }], direction: 'outbound', local: { total: { requestsPerSecond: 1 } } }), ['spec.targetRefs[0].group']);
  assert.deepEqual(paths({ targetRefs: [{ kind: 'Deployment', name: 'r' }], local: { total: { requestsPerSecond: 1 } } }), ['spec.targetRefs[0].kind']);
  assert.deepEqual(paths({ targetRefs: [], local: { total: { requestsPerSecond: 1 } } }), ['spec.targetRefs']);
});

test('parseRedisAddress: names, IPv4 and bracketed IPv6', () => {
  assert.deepEqual(parseRedisAddress('127.0.0.1:6379'), { host: '127.0.0.1', port: 6379 });
  assert.deepEqual(parseRedisAddress('redis.weft.svc:7000'), { host: 'redis.weft.svc', port: 7000 });
  assert.deepEqual(parseRedisAddress('[::1]:6380'), { host: '::1', port: 6380 });
  assert.equal(typeof parseRedisAddress('[::1]'), 'string');
});

test('a proxy NACKs a snapshot whose rate limit it would not run', () => {
  const snapshot = (rateLimits: unknown) => ({ version: '1', hash: 'h', outboundTrafficPolicy: 'ALLOW_ANY', services: [{ name: 'orders', namespace: 'default', ports: [], policy: DEFAULT_BACKEND_POLICY, rateLimits }] });
  assert.ok(validateSnapshot(snapshot([{ name: 'default/rl', direction: 'inbound', local: { total: { requestsPerSecond: 5, burst: 5 } } }])).ok);
  const r = validateSnapshot(snapshot([{ name: 'default/rl', direction: 'inbound', local: { total: { requestsPerSecond: 0, burst: 5 } } }]));
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.errors.map((e) => e.path), ['snapshot.services[0].rateLimits[0].local.total.requestsPerSecond']);
  const g = validateSnapshot(snapshot([{ name: 'default/rl', direction: 'outbound', global: { redis: { address: 'x' }, requestsPerSecond: 1, burst: 1, algorithm: 'gcra', failureMode: 'open' } }]));
  assert.deepEqual(!g.ok && g.errors.map((e) => e.path), ['snapshot.services[0].rateLimits[0].global.redis.address']);
});

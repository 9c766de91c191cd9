// BackendPolicy loadBalancer fields of peak-ewma, ring-hash and maglev: defaults, and bad input
// rejected with field paths, by the API and by the proxy's snapshot validation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendPolicyType, DEFAULT_BACKEND_POLICY } from './backend-policy.ts';
import { isPrime } from './backend-policy-balancing.ts';
import { validateSnapshot } from '../validate-snapshot.ts';

const targetRefs = [{ kind: 'Service', name: 'reviews' }];

function check(loadBalancer: unknown) {
  return backendPolicyType.validateSpec({ targetRefs, loadBalancer }, 'spec');
}

function errors(loadBalancer: unknown): string[] {
  const r = check(loadBalancer);
  assert.equal(r.ok, false, `expected errors for ${JSON.stringify(loadBalancer)}`);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('the new algorithms are accepted, their sections completed with defaults', () => {
  const r = check({ algorithm: 'peak-ewma', peakEwma: { decayMs: 5000 } });
  assert.ok(r.ok);
  assert.deepEqual(r.value.loadBalancer, { algorithm: 'peak-ewma', choiceCount: 2, peakEwma: { decayMs: 5000, penaltyMs: 1000, defaultRttMs: 30 } });
  const ring = check({ algorithm: 'ring-hash', ringHash: {}, hashPolicy: [{ header: { name: 'X-User' }, terminal: true }, { cookie: { name: 'sid', ttlMs: 60000, path: '/' } }, { queryParameter: { name: 'u' } }, { sourceIP: {} }] });
  assert.ok(ring.ok, JSON.stringify(ring));
  assert.deepEqual(ring.value.loadBalancer.ringHash, { minimumRingSize: 1024, maximumRingSize: 8388608 });
  assert.deepEqual(ring.value.loadBalancer.hashPolicy, [{ header: { name: 'x-user' }, terminal: true }, { cookie: { name: 'sid', ttlMs: 60000, path: '/' } }, { queryParameter: { name: 'u' } }, { sourceIP: {} }]);
  const mag = check({ algorithm: 'maglev', maglev: { tableSize: 131071 } });
  assert.ok(mag.ok);
  assert.deepEqual(mag.value.loadBalancer, { algorithm: 'maglev', choiceCount: 2, maglev: { tableSize: 131071 } });
  const plain = check({ algorithm: 'maglev' });
  assert.ok(plain.ok);
  assert.deepEqual(plain.value.loadBalancer, { algorithm: 'maglev', choiceCount: 2 }, 'absent sections stay absent (the proxy uses the defaults)');
});

const bad: [string, unknown, string][] = [
  ['ring size 0', { algorithm: 'ring-hash', ringHash: { minimumRingSize: 0 } }, 'spec.loadBalancer.ringHash.minimumRingSize'],
  ['ring size over 8M', { algorithm: 'ring-hash', ringHash: { maximumRingSize: 8388609 } }, 'spec.loadBalancer.ringHash.maximumRingSize'],
  ['ring max under min', { algorithm: 'ring-hash', ringHash: { minimumRingSize: 4096, maximumRingSize: 2048 } }, 'spec.loadBalancer.ringHash.maximumRingSize'],
  ['maglev table not prime', { algorithm: 'maglev', maglev: { tableSize: 65536 } }, 'spec.loadBalancer.maglev.tableSize: must be a prime'],
  ['hashPolicy entry without a source', { algorithm: 'maglev', hashPolicy: [{ terminal: true }] }, 'spec.loadBalancer.hashPolicy[0]: needs one source'],
  ['hashPolicy entry with two sources', { algorithm: 'maglev', hashPolicy: [{ header: { name: 'a' }, sourceIP: {} }] }, 'spec.loadBalancer.hashPolicy[0]: has 2 sources'],
  ['hashPolicy empty', { algorithm: 'ring-hash', hashPolicy: [] }, 'spec.loadBalancer.hashPolicy'],
  ['header name missing', { algorithm: 'ring-hash', hashPolicy: [{ header: {} }] }, 'spec.loadBalancer.hashPolicy[0].header.name'],
  ['header name not a token', { algorithm: 'ring-hash', hashPolicy: [{ header: { name: 'x user' } }] }, 'spec.loadBalancer.hashPolicy[0].header.name'],
  ['cookie ttl negative', { algorithm: 'ring-hash', hashPolicy: [{ cookie: { name: 's', ttlMs: -1 } }] }, 'spec.loadBalancer.hashPolicy[0].cookie.ttlMs'],
  ['cookie path without ttl', { algorithm: 'ring-hash', hashPolicy: [{ cookie: { name: 's', path: '/' } }] }, 'spec.loadBalancer.hashPolicy[0].cookie.path'],
  ['unknown source field', { algorithm: 'ring-hash', hashPolicy: [{ sourceIP: { v6: true } }] }, 'spec.loadBalancer.hashPolicy[0].sourceIP.v6'],
  ['hashPolicy on round-robin', { algorithm: 'round-robin', hashPolicy: [{ sourceIP: {} }] }, 'spec.loadBalancer.hashPolicy: applies only to algorithm ring-hash or maglev, not round-robin'],
  ['ringHash on maglev', { algorithm: 'maglev', ringHash: {} }, 'spec.loadBalancer.ringHash: applies only to algorithm ring-hash, not maglev'],
  ['peakEwma on least-request', { algorithm: 'least-request', peakEwma: {} }, 'spec.loadBalancer.peakEwma: applies only to algorithm peak-ewma'],
  ['peakEwma decay 0', { algorithm: 'peak-ewma', peakEwma: { decayMs: 0 } }, 'spec.loadBalancer.peakEwma.decayMs'],
  ['peakEwma unknown field', { algorithm: 'peak-ewma', peakEwma: { tau: 1 } }, 'spec.loadBalancer.peakEwma.tau'],
];

for (const [name, lb, expected] of bad) {
  test(`rejected: ${name}`, () => {
    const errs = errors(lb);
    assert.ok(errs.some((e) => e.startsWith(expected)), `${expected} not in ${JSON.stringify(errs)}`);
  });
}

test('isPrime', () => {
  assert.deepEqual([2, 3, 7, 65537, 131071].map(isPrime), [true, true, true, true, true]);
  assert.deepEqual([0, 1, 4, 65536, 65535, 1.5].map(isPrime), [false, false, false, false, false, false]);
});

test('the proxy NACKs a snapshot whose policy has a bad hashing field, with the field path', () => {
  const snapshot = (loadBalancer: unknown) => ({
    version: '1', outboundTrafficPolicy: 'ALLOW_ANY',
    services: [{ name: 'reviews', namespace: 'default', ports: [], policy: { ...DEFAULT_BACKEND_POLICY, loadBalancer } }],
  });
  const good = validateSnapshot(snapshot({ algorithm: 'maglev', choiceCount: 2, maglev: { tableSize: 65537 }, hashPolicy: [{ sourceIP: {} }] }));
  assert.ok(good.ok, JSON.stringify(good));
  const r = validateSnapshot(snapshot({ algorithm: 'maglev', choiceCount: 2, maglev: { tableSize: 1000 } }));
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.errors.some((e) => e.path === 'snapshot.services[0].policy.loadBalancer.maglev.tableSize'), JSON.stringify(r));
});

// The balancer with locality: picks stay in the client's zone while it is healthy, spill over by
// Envoy's math as endpoints are ejected, follow failoverPriority, and retries cross levels.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { LOAD_BALANCER_ALGORITHMS, type BackendPolicySpec, type LoadBalancerAlgorithm } from '../../../config/kinds/backend-policy.ts';
import { REGION_LABEL, ZONE_LABEL, type LocalityLoadBalancing } from '../../../config/kinds/backend-policy-locality.ts';
import type { EndpointSnapshot } from '../../../config/snapshot-types.ts';
import { createBalancer, type StatefulBalancer } from '../balancer.ts';
import { countPicks, endpoint, pickedId, policy, seededRandom, tuned } from '../fixtures.ts';
import { createLocalityPicker } from './locality-picker.ts';
import type { Pick, Picker } from '../picker.ts';

const refused = { ok: false, connectFailure: true, latencyMs: 1 };
const client = { [REGION_LABEL]: 'r1', [ZONE_LABEL]: 'a' };

function inZone(id: string, zone: string, region = 'r1', extra: Partial<EndpointSnapshot> = {}): EndpointSnapshot {
  return endpoint(id, { labels: { [REGION_LABEL]: region, [ZONE_LABEL]: zone }, ...extra });
}

function localityPolicy(locality?: Partial<LocalityLoadBalancing>, algorithm: LoadBalancerAlgorithm = 'round-robin'): BackendPolicySpec {
  const p = policy(algorithm);
  if (locality === undefined) return p;
  return { ...p, loadBalancer: { ...p.loadBalancer, locality: { enabled: true, failoverPriority: [], overprovisioningFactor: 140, ...locality } } };
}

/** Share of picks (out of n) per zone letter, the endpoint ids starting with their zone. */
function byZone(b: StatefulBalancer, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [id, count] of countPicks(() => b.picker(), n)) out[id[0]] = (out[id[0]] ?? 0) + count;
  return out;
}

/** Fails one attempt at `id` with a refused connection (passive ejection). */
function refuse(b: StatefulBalancer, id: string): void {
  const others = new Set(b.endpointStats().map((s) => s.id).filter((x) => x !== id));
  const pick = b.picker().pick({ exclude: others });
  assert.equal(pickedId(pick), id);
  if (pick.kind === 'endpoint') pick.done(refused);
}

const fiveAndFive = ['a1', 'a2', 'a3', 'a4', 'a5'].map((id) => inZone(id, 'a')).concat(['b1', 'b2', 'b3', 'b4', 'b5'].map((id) => inZone(id, 'b')));

test('every pick stays in the client\'s zone while it is healthy, for every algorithm', () => {
  for (const algorithm of LOAD_BALANCER_ALGORITHMS) {
    const b = createBalancer({ random: seededRandom(7), locality: { labels: client } });
    b.update([inZone('b1', 'b'), inZone('a1', 'a'), inZone('c1', 'c', 'r2'), inZone('a2', 'a')], localityPolicy(undefined, algorithm));
    const counts = countPicks(() => b.picker(), 400);
    // peak-ewma may settle on one of them (its latencies here are equal and it keeps the first).
    const picked = [...counts.keys()].sort();
    if (algorithm === 'peak-ewma') assert.ok(picked.length > 0 && picked.every((id) => id.startsWith('a')), `${algorithm}: ${picked}`);
    else assert.deepEqual(picked, ['a1', 'a2'], algorithm);
    // Within the level the algorithm picks: round-robin alternates exactly.
    if (algorithm === 'round-robin') assert.deepEqual([counts.get('a1'), counts.get('a2')], [200, 200]);
  }
});

test('spillover at the threshold: 2 of 5 ejected in the zone sends 84% there and 16% on', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(11), locality: { labels: client } });
  b.update(fiveAndFive, localityPolicy());
  refuse(b, 'a1');
  assert.equal(byZone(b, 1000).a, 1000, '4 of 5 healthy × 140% is still 100%: nothing spills');
  refuse(b, 'a2');
  const n = 20_000;
  const zones = byZone(b, n);
  assert.ok(Math.abs(zones.a / n - 0.84) < 0.01, `about 84% to zone a: ${JSON.stringify(zones)}`);
  assert.ok(Math.abs(zones.b / n - 0.16) < 0.01, `about 16% to zone b: ${JSON.stringify(zones)}`);
  assert.ok(!countPicks(() => b.picker(), 2000).has('a1'), 'ejected endpoints get nothing');
  // The ejections end, and the zone has all the traffic again.
  clock.advance(30_000); // baseEjectionTimeMs (outlier detection default)
  assert.equal(byZone(b, 1000).a, 1000);
});

test('the level choice splits exactly at the level\'s share', () => {
  const one = (id: string): Picker => ({ pick: (): Pick => ({ kind: 'endpoint', endpoint: endpoint(id), done: () => {} }) });
  let r = 0;
  const picker = createLocalityPicker({ pickers: [one('near'), one('far')], loads: [84, 16] }, () => r);
  for (const [value, expected] of [[0, 'near'], [0.8399, 'near'], [0.84, 'far'], [0.9999, 'far']] as const) {
    r = value;
    assert.equal(pickedId(picker.pick()), expected, `r=${value}`);
  }
});

test('a zone with nothing healthy sends everything to the region, then to other regions', () => {
  const b = createBalancer({ random: seededRandom(3), locality: { labels: client } });
  b.update([inZone('a1', 'a', 'r1', { health: 'critical' }), inZone('b1', 'b'), inZone('c1', 'c', 'r2')], localityPolicy());
  assert.deepEqual([...countPicks(() => b.picker(), 100).keys()], ['b1']);
  b.update([inZone('a1', 'a', 'r1', { health: 'critical' }), inZone('b1', 'b', 'r1', { health: 'critical' }), inZone('c1', 'c', 'r2')], localityPolicy());
  assert.deepEqual([...countPicks(() => b.picker(), 100).keys()], ['c1']);
  // Every endpoint unhealthy: the balancer's own failure, as without locality.
  b.update([inZone('a1', 'a', 'r1', { health: 'critical' })], localityPolicy());
  const pick = b.picker().pick();
  assert.equal(pick.kind === 'fail' && pick.reason, 'no-healthy-endpoints');
});

test('a retry that has tried the whole zone goes to the next level, then runs out', () => {
  const b = createBalancer({ random: seededRandom(5), locality: { labels: client } });
  b.update([inZone('a1', 'a'), inZone('a2', 'a'), inZone('b1', 'b'), inZone('c1', 'c', 'r2')], localityPolicy());
  assert.equal(pickedId(b.picker().pick({ exclude: new Set(['a1']) })), 'a2');
  assert.equal(pickedId(b.picker().pick({ exclude: new Set(['a1', 'a2']) })), 'b1');
  assert.equal(pickedId(b.picker().pick({ exclude: new Set(['a1', 'a2', 'b1']) })), 'c1');
  const pick = b.picker().pick({ exclude: new Set(['a1', 'a2', 'b1', 'c1']) });
  assert.equal(pick.kind === 'fail' && pick.reason, 'all-endpoints-tried');
});

test('every endpoint ejected: ejections are set aside and the zone is preferred again', () => {
  const b = createBalancer({ random: seededRandom(9), locality: { labels: client } });
  b.update([inZone('a1', 'a'), inZone('b1', 'b')], tuned(localityPolicy(), { maxEjectionPercent: 100 }));
  refuse(b, 'a1');
  assert.deepEqual([...countPicks(() => b.picker(), 50).keys()], ['b1']);
  refuse(b, 'b1');
  assert.deepEqual([...countPicks(() => b.picker(), 50).keys()], ['a1']);
});

test('failoverPriority orders the levels by the labels it names', () => {
  const labels = { ...client, version: 'v2' };
  const b = createBalancer({ random: seededRandom(13), locality: { labels } });
  const eps = [
    inZone('a-v1', 'a', 'r1', { labels: { ...client, version: 'v1' } }),
    inZone('b-v2', 'b', 'r1', { labels: { [REGION_LABEL]: 'r1', [ZONE_LABEL]: 'b', version: 'v2' } }),
  ];
  // Default order: the zone comes first.
  b.update(eps, localityPolicy());
  assert.deepEqual([...countPicks(() => b.picker(), 50).keys()], ['a-v1']);
  // Version first: the same-version endpoint in the other zone wins.
  b.update(eps, localityPolicy({ failoverPriority: ['version', REGION_LABEL, ZONE_LABEL] }));
  assert.deepEqual([...countPicks(() => b.picker(), 50).keys()], ['b-v2']);
});

test('no client locality, or locality disabled: plain balancing over every endpoint', () => {
  for (const [name, options, p] of [
    ['client without labels', {}, localityPolicy()],
    ['client without topology labels', { locality: { labels: { app: 'client' } } }, localityPolicy()],
    ['disabled', { locality: { labels: client } }, localityPolicy({ enabled: false })],
  ] as const) {
    const b = createBalancer({ random: seededRandom(17), ...options });
    b.update([inZone('a1', 'a'), inZone('b1', 'b'), inZone('c1', 'c', 'r2')], p);
    const counts = countPicks(() => b.picker(), 300);
    assert.deepEqual([counts.get('a1'), counts.get('b1'), counts.get('c1')], [100, 100, 100], name);
  }
});

test('the overprovisioning factor decides how early traffic spills', () => {
  const clock = new ManualClock();
  const b = createBalancer({ clock, random: seededRandom(19), locality: { labels: client } });
  b.update(fiveAndFive, localityPolicy({ overprovisioningFactor: 100 }));
  refuse(b, 'a1');
  const n = 20_000;
  const zones = byZone(b, n);
  assert.ok(Math.abs(zones.a / n - 0.8) < 0.01, `4/5 × 100% = 80% to zone a: ${JSON.stringify(zones)}`);
});

test('each pick is counted at its level', () => {
  const counts = [0, 0, 0];
  const b = createBalancer({ random: seededRandom(23), locality: { labels: client, counter: (level) => ({ inc: () => void counts[level]++ }) } });
  b.update([inZone('a1', 'a'), inZone('b1', 'b'), inZone('c1', 'c', 'r2')], localityPolicy());
  countPicks(() => b.picker(), 10);
  b.picker().pick({ exclude: new Set(['a1']) });
  b.picker().pick({ exclude: new Set(['a1', 'b1']) });
  assert.deepEqual(counts, [10, 1, 1]);
});

// Consistent hashing: MurmurHash3 test vectors, the hashPolicy's key sources and cookie generation,
// and for ring-hash and maglev: spread, ~1/N movement when an endpoint leaves, weights, stickiness
// and the retry walk. Seeded keys, so every run checks the same numbers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKEND_POLICY, type BackendPolicySpec, type LoadBalancerAlgorithm } from '../../../config/kinds/backend-policy.ts';
import { createBalancer } from '../balancer.ts';
import type { Picker } from '../picker.ts';
import { endpoint, pickedId, seededRandom } from '../fixtures.ts';
import { murmur3, murmur3Bytes } from './murmur3.ts';
import { HashPolicy, cookieValue, queryValue } from './hash-policy.ts';
import type { EndpointSnapshot } from '../../../config/snapshot-types.ts';

const HASHING: LoadBalancerAlgorithm[] = ['ring-hash', 'maglev'];

function hashed(algorithm: LoadBalancerAlgorithm, extra: Partial<BackendPolicySpec['loadBalancer']> = {}): BackendPolicySpec {
  return { ...DEFAULT_BACKEND_POLICY, loadBalancer: { algorithm, choiceCount: 2, ...extra } };
}

function picker(algorithm: LoadBalancerAlgorithm, endpoints: EndpointSnapshot[], extra: Partial<BackendPolicySpec['loadBalancer']> = {}): Picker {
  const b = createBalancer({ random: seededRandom(1) });
  b.update(endpoints, hashed(algorithm, extra));
  return b.picker();
}

/** `n` keys from a seeded source, as murmur3 of `user-<k>` strings (what a header would give). */
function keys(n: number, seed = 42): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => murmur3(`user-${Math.floor(r() * 1e12)}`));
}

function owner(p: Picker, key: number): string {
  const pick = p.pick({ hashKey: key });
  const id = pickedId(pick);
  if (pick.kind === 'endpoint') pick.done({ ok: true, latencyMs: 1 });
  return id;
}

const ids = (n: number): EndpointSnapshot[] => Array.from({ length: n }, (_, i) => endpoint(`ep-${i}`, { address: `10.0.0.${i + 1}` }));

test('murmur3 x86_32 matches the reference vectors', () => {
  assert.equal(murmur3(''), 0);
  assert.equal(murmur3('', 1), 0x514e28b7);
  assert.equal(murmur3('hello'), 0x248bfa47);
  assert.equal(murmur3('The quick brown fox jumps over the lazy dog'), 0x2e4ff723);
  // Non-ASCII is hashed as its UTF-8 bytes ('é' is c3 a9), not its UTF-16 code units.
  assert.equal(murmur3('héllo'), murmur3Bytes(Buffer.from('héllo', 'utf8'), 0));
  assert.notEqual(murmur3('héllo'), murmur3Bytes(Buffer.from('héllo', 'latin1'), 0));
});

for (const algorithm of HASHING) {
  test(`${algorithm}: the same key goes to the same endpoint; keys spread within 15% of even`, () => {
    const p = picker(algorithm, ids(5));
    const ks = keys(20_000);
    const counts = new Map<string, number>();
    for (const k of ks) {
      const id = owner(p, k);
      counts.set(id, (counts.get(id) ?? 0) + 1);
      assert.equal(owner(p, k), id);
    }
    assert.equal(counts.size, 5);
    for (const [id, c] of counts) assert.ok(Math.abs(c - 4_000) < 4_000 * 0.15, `${id}: ${c} of 20000`);
  });

  test(`${algorithm}: when one of 5 endpoints leaves, only its keys move (~1/5), and a new picker agrees`, () => {
    const before = picker(algorithm, ids(5));
    const after = picker(algorithm, ids(5).filter((e) => e.id !== 'ep-2'));
    const ks = keys(20_000, 7);
    let moved = 0;
    let movedElsewhere = 0;
    for (const k of ks) {
      const a = owner(before, k);
      const b = owner(after, k);
      if (a !== b) {
        moved++;
        if (a !== 'ep-2') movedElsewhere++;
      }
    }
    // The leaver's keys (~1/5) move, and few others: the ring is rescaled to keep minimumRingSize
    // points (Envoy does the same), Maglev's table refills a few slots of the others (the paper's
    // "minimal disruption").
    const share = moved / ks.length;
    assert.ok(share > 0.15 && share < 0.27, `${(share * 100).toFixed(1)}% of keys moved`);
    assert.ok(movedElsewhere / ks.length < 0.07, `${((movedElsewhere / ks.length) * 100).toFixed(1)}% of keys of staying endpoints moved`);
  });

  test(`${algorithm}: weights set the share (3:1) and weight 0 owns nothing`, () => {
    const p = picker(algorithm, [endpoint('heavy', { weight: 3 }), endpoint('light', { weight: 1 }), endpoint('none', { weight: 0 })]);
    const counts = new Map<string, number>();
    for (const k of keys(20_000, 3)) counts.set(owner(p, k), (counts.get(owner(p, k)) ?? 0) + 1);
    assert.equal(counts.get('none'), undefined);
    const ratio = (counts.get('heavy') ?? 0) / (counts.get('light') ?? 1);
    assert.ok(ratio > 2.5 && ratio < 3.5, `heavy:light = ${ratio.toFixed(2)}`);
  });

  test(`${algorithm}: a retry walks on to the next endpoint not tried; no key → random; all tried → fails`, () => {
    const p = picker(algorithm, ids(3));
    const k = murmur3('alice');
    const first = owner(p, k);
    const second = pickedId(p.pick({ hashKey: k, exclude: new Set([first]) }));
    assert.notEqual(second, first);
    assert.equal(pickedId(p.pick({ hashKey: k, exclude: new Set([first]) })), second, 'the walk is deterministic');
    assert.equal(p.pick({ hashKey: k, exclude: new Set(['ep-0', 'ep-1', 'ep-2']) }).kind, 'fail');
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(pickedId(p.pick()));
    assert.equal(seen.size, 3, 'without a key the pick is random over all');
  });
}

test('ring-hash: minimumRingSize sets the points; maglev: tableSize sets the slots (both change the mapping little)', () => {
  const small = picker('ring-hash', ids(3), { ringHash: { minimumRingSize: 3, maximumRingSize: 3 } });
  const counts = new Map<string, number>();
  for (const k of keys(3_000)) counts.set(owner(small, k), (counts.get(owner(small, k)) ?? 0) + 1);
  assert.equal(counts.size, 3, 'one point per endpoint still reaches every endpoint');
  const mag = picker('maglev', ids(3), { maglev: { tableSize: 7 } });
  const seen = new Set(keys(200).map((k) => owner(mag, k)));
  assert.equal(seen.size, 3);
});

test('cookie and query values are parsed without decoding', () => {
  assert.equal(cookieValue('a=1; session=abc; b=2', 'session'), 'abc');
  assert.equal(cookieValue('sessionx=1; session="q"', 'session'), 'q');
  assert.equal(cookieValue('a=1', 'session'), undefined);
  assert.equal(cookieValue(undefined, 'session'), undefined);
  assert.equal(queryValue('/p?user=7&x=1', 'user'), '7');
  assert.equal(queryValue('/p?username=7&user=8', 'user'), '8');
  assert.equal(queryValue('/p?x=1&user', 'user'), '');
  assert.equal(queryValue('/p', 'user'), undefined);
  assert.equal(queryValue('/p?x=1#user=2', 'user'), undefined);
});

test('hashPolicy: header, query, source IP; entries combine, a terminal entry that matched ends it, nothing matched → undefined', () => {
  const byHeader = new HashPolicy([{ header: { name: 'X-User' } }]);
  const req = (headers: Record<string, string>, remoteAddress = '10.1.1.1') => ({ headers, socket: { remoteAddress } });
  assert.equal(byHeader.hash(req({ 'x-user': 'alice' }), '/'), murmur3('alice'));
  assert.equal(byHeader.hash(req({}), '/'), undefined);
  assert.equal(new HashPolicy([{ queryParameter: { name: 'u' } }]).hash(req({}), '/a?u=bob'), murmur3('bob'));
  assert.equal(new HashPolicy([{ sourceIP: {} }]).hash(req({}, '10.9.9.9'), '/'), murmur3('10.9.9.9'));
  const two = new HashPolicy([{ header: { name: 'x-a' } }, { header: { name: 'x-b' } }]);
  const ha = murmur3('1');
  const hb = murmur3('2');
  assert.equal(two.hash(req({ 'x-a': '1', 'x-b': '2' }), '/'), (((ha << 1) | (ha >>> 31)) ^ hb) >>> 0);
  assert.equal(two.hash(req({ 'x-b': '2' }), '/'), hb, 'a missing source is skipped');
  const terminal = new HashPolicy([{ header: { name: 'x-a' }, terminal: true }, { header: { name: 'x-b' } }]);
  assert.equal(terminal.hash(req({ 'x-a': '1', 'x-b': '2' }), '/'), ha);
});

test('hashPolicy cookie: present → its hash; absent with ttlMs → a generated value, hashed, and Set-Cookie; absent without ttlMs → nothing', () => {
  const gen = new HashPolicy([{ cookie: { name: 'weft-affinity', ttlMs: 3_600_000, path: '/shop' } }]);
  assert.equal(gen.hash({ headers: { cookie: 'weft-affinity=v1' } }, '/'), murmur3('v1'));
  const h = gen.hash({ headers: {} }, '/');
  assert.ok(h !== undefined && typeof h === 'object', 'a generated cookie comes with Set-Cookie');
  const m = /^weft-affinity=([0-9a-f-]{36}); Max-Age=3600; Path=\/shop; HttpOnly$/.exec(h.setCookie ?? '');
  assert.ok(m, h.setCookie);
  assert.equal(h.key, murmur3(m[1]), 'the key is the generated value\'s hash: the next request, carrying it, goes to the same place');
  const h2 = gen.hash({ headers: {} }, '/');
  assert.ok(typeof h2 === 'object' && h2.setCookie !== h.setCookie, 'each client gets its own value');
  const session = new HashPolicy([{ cookie: { name: 's', ttlMs: 0 } }]).hash({ headers: {} }, '/');
  assert.ok(typeof session === 'object' && /^s=[0-9a-f-]{36}; Path=\/; HttpOnly$/.test(session.setCookie ?? ''), 'ttlMs 0: a session cookie');
  assert.equal(new HashPolicy([{ cookie: { name: 's' } }]).hash({ headers: {} }, '/'), undefined);
});

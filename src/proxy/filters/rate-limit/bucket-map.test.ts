// The bounded bucket map: a new key gets a fresh bucket, the least recently used key goes first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BucketMap } from './bucket-map.ts';
import { TokenBucket } from './token-bucket.ts';

test('at most maxKeys buckets; the least recently used one is dropped', () => {
  const created: string[] = [];
  const m = new BucketMap(3, (key, now) => {
    created.push(key);
    return new TokenBucket(1, 1, now);
  });
  const a = m.get('a', 0);
  m.get('b', 0);
  m.get('c', 0);
  assert.equal(m.get('a', 0), a, 'a known key keeps its bucket');
  m.get('d', 0); // drops b, the least recently used
  assert.equal(m.size, 3);
  assert.equal(m.has('b'), false);
  assert.ok(m.has('a') && m.has('c') && m.has('d'));
  assert.deepEqual(created, ['a', 'b', 'c', 'd']);
  m.get('b', 0);
  assert.equal(m.has('c'), false, 'then c, now the oldest');
});

test('a hostile caller cycling keys cannot grow the map', () => {
  const m = new BucketMap(100, (_k, now) => new TokenBucket(1, 1, now));
  for (let i = 0; i < 10_000; i++) m.get(`k${i}`, 0);
  assert.equal(m.size, 100);
});

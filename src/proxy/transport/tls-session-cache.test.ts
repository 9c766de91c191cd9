// The client-side TLS session cache: a session is offered only to its endpoint key, with the client
// context it was made under, until it is too old; the least recently stored goes first when full.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SecureContext } from 'node:tls';
import { ManualClock } from '../../lib/clock.ts';
import { TlsSessionCache } from './tls-session-cache.ts';

const ctxA = {} as SecureContext;
const ctxB = {} as SecureContext;
const s1 = Buffer.from('session-1');
const s2 = Buffer.from('session-2');

test('a session is offered to its endpoint key with the context it was made under; the latest wins', () => {
  const cache = new TlsSessionCache({ clock: new ManualClock() });
  const key = TlsSessionCache.key('10.0.0.1', 15006, 'spiffe://weft.local/ns/default/svc/a');
  assert.equal(cache.get(key, ctxA), undefined);
  cache.set(key, ctxA, s1);
  cache.set(key, ctxA, s2);
  assert.equal(cache.get(key, ctxA), s2);
  assert.equal(cache.get(TlsSessionCache.key('10.0.0.1', 15006, 'spiffe://weft.local/ns/default/svc/b'), ctxA), undefined, 'another identity at the same address');
  assert.equal(cache.get(key, ctxB), undefined, 'a renewed certificate (new context) starts afresh');
  assert.equal(cache.get(key, ctxA), undefined, 'and the old session is gone');
});

test('a session older than maxAgeMs is not offered', () => {
  const clock = new ManualClock();
  const cache = new TlsSessionCache({ clock, maxAgeMs: 1_000 });
  cache.set('k', ctxA, s1);
  clock.advance(999);
  assert.equal(cache.get('k', ctxA), s1);
  clock.advance(1);
  assert.equal(cache.get('k', ctxA), undefined);
  assert.equal(cache.size, 0);
});

test('at maxEntries the least recently stored endpoint is forgotten; delete forgets one', () => {
  const cache = new TlsSessionCache({ clock: new ManualClock(), maxEntries: 2 });
  cache.set('a', ctxA, s1);
  cache.set('b', ctxA, s1);
  cache.set('a', ctxA, s2); // stored again: now the most recent
  cache.set('c', ctxA, s1);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('b', ctxA), undefined);
  assert.equal(cache.get('a', ctxA), s2);
  cache.delete('a');
  assert.equal(cache.get('a', ctxA), undefined);
  assert.equal(cache.get('c', ctxA), s1);
});

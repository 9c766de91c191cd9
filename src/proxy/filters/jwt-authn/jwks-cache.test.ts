// The JWKS cache against a real HTTP server: the first fetch, refresh on the clock, last good keys
// kept through a failed fetch, retries while none are known, the rate-limited refetch for an
// unknown kid, and refusals of documents that are not public key sets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../../lib/clock.ts';
import { JWKS_REFRESH_MS, JWKS_RETRY_MS, JWKS_UNKNOWN_KID_COOLDOWN_MS, JwksCache } from './jwks-cache.ts';
import { jwksOf, testKey } from './fixtures.ts';

/** A JWKS server whose answer the test sets; counts requests. */
async function jwksServer(): Promise<{ url: string; set(status: number, body: unknown): void; hits(): number; close(): Promise<void> }> {
  let status = 200;
  let body: unknown = { keys: [] };
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    set: (s, b) => ((status = s), (body = b)),
    hits: () => hits,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Waits for the fetch the clock started (real I/O) to finish. */
function settle(cache: JwksCache, uri: string): Promise<void> {
  return cache.get(uri).idle();
}

test('fetches once, refreshes on the clock, keeps the last good keys when a fetch fails', async () => {
  const a = await testKey('a');
  const b = await testKey('b');
  const s = await jwksServer();
  const clock = new ManualClock();
  const cache = new JwksCache({ clock });
  try {
    s.set(200, jwksOf(a));
    const entry = cache.get(s.url);
    await entry.ready();
    assert.deepEqual(entry.keys()?.keys.map((k) => k.kid), ['a']);
    assert.equal(s.hits(), 1);
    assert.equal(cache.get(s.url), entry, 'one entry per URI');

    s.set(200, jwksOf(a, b));
    clock.advance(JWKS_REFRESH_MS);
    await settle(cache, s.url);
    waitForHits(s, 2);
    assert.deepEqual(entry.keys()?.keys.map((k) => k.kid), ['a', 'b']);

    s.set(500, 'down');
    clock.advance(JWKS_REFRESH_MS);
    await settle(cache, s.url);
    waitForHits(s, 3);
    assert.deepEqual(entry.keys()?.keys.map((k) => k.kid), ['a', 'b'], 'an outage keeps the last good keys');
    assert.match(entry.lastError()!, /HTTP 500/);
  } finally {
    cache.close();
    await s.close();
  }
});

function waitForHits(s: { hits(): number }, n: number): void {
  assert.equal(s.hits(), n);
}

test('with no keys yet, a failed first fetch is retried soon; a document that is not a public key set is refused', async () => {
  const a = await testKey('a');
  const s = await jwksServer();
  const clock = new ManualClock();
  const cache = new JwksCache({ clock });
  try {
    s.set(200, { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] });
    const entry = cache.get(s.url);
    await entry.ready();
    assert.equal(entry.keys(), undefined);
    assert.match(entry.lastError()!, /no public RSA, EC or OKP key/);
    s.set(200, jwksOf(a));
    clock.advance(JWKS_RETRY_MS);
    await settle(cache, s.url);
    waitForHits(s, 2);
    assert.deepEqual(entry.keys()?.keys.map((k) => k.kid), ['a']);
  } finally {
    cache.close();
    await s.close();
  }
});

test('an unknown kid refetches at most once per cooldown', async () => {
  const a = await testKey('a');
  const s = await jwksServer();
  const clock = new ManualClock();
  const cache = new JwksCache({ clock });
  try {
    s.set(200, jwksOf(a));
    const entry = cache.get(s.url);
    await entry.ready();
    assert.equal(await entry.refetchForUnknownKid(), true);
    assert.equal(s.hits(), 2);
    assert.equal(await entry.refetchForUnknownKid(), false, 'inside the cooldown: no fetch');
    assert.equal(s.hits(), 2);
    clock.advance(JWKS_UNKNOWN_KID_COOLDOWN_MS);
    assert.equal(await entry.refetchForUnknownKid(), true);
    assert.equal(s.hits(), 3);
  } finally {
    cache.close();
    await s.close();
  }
});

test('retain drops entries no rule uses', async () => {
  const s = await jwksServer();
  const cache = new JwksCache({ clock: new ManualClock() });
  try {
    s.set(200, jwksOf(await testKey('a')));
    const first = cache.get(s.url);
    await first.ready();
    cache.retain([s.url]);
    assert.equal(cache.get(s.url), first);
    cache.retain([]);
    const second = cache.get(s.url);
    assert.notEqual(second, first);
    await second.ready();
  } finally {
    cache.close();
    await s.close();
  }
});

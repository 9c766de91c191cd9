import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createControlTarget, expandControlUrls, parseControlUrls } from './control-target.ts';

const A = 'http://10.0.0.1:7700';
const B = 'http://10.0.0.2:7700';
const C = 'http://10.0.0.3:7700';

test('a lost replica moves every client to the next URL, wrapping around', () => {
  const t = createControlTarget({ urls: [A, B, C], random: () => 0.5 });
  assert.equal(t.current(), A);
  t.failed(A);
  assert.equal(t.current(), B);
  t.failed(B);
  assert.equal(t.current(), C);
  t.failed(C);
  assert.equal(t.current(), A);
});

test('a failure reported for a URL that is no longer current (another client moved on) changes nothing', () => {
  const t = createControlTarget({ urls: [A, B], random: () => 0.5 });
  t.failed(A); // the stream moved to B
  const delay = t.failed(A); // a heartbeat that was still on its way to A
  assert.equal(t.current(), B);
  assert.ok(delay <= 200);
});

test('full jitter: each delay is uniform below a ceiling that doubles per failure up to the cap, and success starts over', () => {
  // random() near 1 shows the ceiling; near 0 shows the floor is 0 (full jitter, no minimum).
  const high = createControlTarget({ urls: [A, B], baseMs: 100, maxMs: 1_000, random: () => 0.999999 });
  const ceilings = Array.from({ length: 6 }, () => high.failed(high.current()));
  assert.deepEqual(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
  high.succeeded();
  assert.equal(high.failed(high.current()), 100);
  const low = createControlTarget({ urls: [A], baseMs: 100, maxMs: 1_000, random: () => 0 });
  assert.deepEqual([low.failed(A), low.failed(A), low.failed(A)], [0, 0, 0]);
  assert.equal(low.current(), A, 'one URL: it stays on it');
});

test('seeded: a fleet of sidecars spreads its reconnects over the whole window', () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const delays = Array.from({ length: 200 }, () => createControlTarget({ urls: [A, B], baseMs: 1_000, random }).failed(A));
  const buckets = [0, 0, 0, 0];
  for (const d of delays) buckets[Math.min(3, Math.floor(d / 250))]++;
  // Each quarter of [0, 1000) gets a fair share (expected 50 each).
  for (const n of buckets) assert.ok(n > 25 && n < 75, JSON.stringify(buckets));
});

test('--control takes one URL or several comma-separated; anything else is refused naming it', () => {
  assert.deepEqual(parseControlUrls(A), [A]);
  assert.deepEqual(parseControlUrls(`${A}, ${B},`), [A, B]);
  assert.throws(() => parseControlUrls(''), /at least one URL/);
  assert.throws(() => parseControlUrls(`${A},10.0.0.2:7700`), /"10.0.0.2:7700"/);
  assert.throws(() => parseControlUrls('ftp://x'), /http/);
  // A second replica typed as the first again, or a path the clients would drop.
  assert.throws(() => parseControlUrls(`${A},${A}/`), /same control plane/);
  assert.throws(() => parseControlUrls(`${A}/v1`), /without a path/);
  assert.throws(() => parseControlUrls(`${A}?x=1`), /without a path, query/);
  assert.deepEqual(parseControlUrls(`${A}/`), [`${A}/`]);
});

test('one --control name that resolves to several addresses stands for each of them; anything else stays as given', async () => {
  const lookup = async (host: string) =>
    host === 'replicas.weft.internal'
      ? [{ address: '10.0.0.1', family: 4 }, { address: 'fd00::2', family: 6 }, { address: '10.0.0.1', family: 4 }]
      : host === 'one.weft.internal'
        ? [{ address: '10.0.0.9', family: 4 }]
        : Promise.reject(new Error('ENOTFOUND'));
  assert.deepEqual(await expandControlUrls(['http://replicas.weft.internal:7700'], lookup), ['http://10.0.0.1:7700', 'http://[fd00::2]:7700']);
  assert.deepEqual(await expandControlUrls(['http://one.weft.internal:7700'], lookup), ['http://one.weft.internal:7700']);
  assert.deepEqual(await expandControlUrls(['http://gone.weft.internal:7700'], lookup), ['http://gone.weft.internal:7700'], 'not resolvable now: kept by name');
  assert.deepEqual(await expandControlUrls(['http://10.0.0.5:7700'], lookup), ['http://10.0.0.5:7700']);
  assert.deepEqual(await expandControlUrls([A, B], lookup), [A, B], 'a list is taken as it is');
});

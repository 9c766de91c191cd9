import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CachedSnapshot } from '../snapshot/cache.ts';
import { createSnapshotWriter } from './snapshot-writer.ts';

/** A cached snapshot whose lines say what they are: `full:N` or `delta:B>N`. */
function cached(version: number, deltaFrom?: number): CachedSnapshot {
  return {
    snapshot: { version: String(version), hash: `h${version}`, outboundTrafficPolicy: 'ALLOW_ANY', services: [] },
    line: `full:${version}`,
    delta: deltaFrom === undefined ? undefined : { base: String(deltaFrom), line: `delta:${deltaFrom}>${version}` },
  };
}

/** A socket stand-in that backs up when told to, and records what was written. */
function sink() {
  const s = { lines: [] as string[], backedUp: false, written: [] as string[] };
  const writer = createSnapshotWriter({ write: (line) => (s.lines.push(line), !s.backedUp), needsDrain: () => s.backedUp }, (v) => s.written.push(v));
  return { s, writer };
}

test('the first snapshot goes in full, the next ones as deltas from it', () => {
  const { s, writer } = sink();
  writer.push(cached(3, 2));
  writer.push(cached(4, 3));
  writer.push(cached(5, 4));
  assert.deepEqual(s.lines, ['full:3', 'delta:3>4', 'delta:4>5']);
  assert.deepEqual(s.written, ['3', '4', '5']);
});

test('a version without a delta goes in full', () => {
  const { s, writer } = sink();
  writer.push(cached(1));
  writer.push(cached(2));
  writer.push(cached(3, 2));
  assert.deepEqual(s.lines, ['full:1', 'full:2', 'delta:2>3']);
});

test('while the socket is backed up only the newest waits, and it goes in full if the proxy never got its base', () => {
  const { s, writer } = sink();
  writer.push(cached(1));
  s.backedUp = true;
  writer.push(cached(2, 1));
  writer.push(cached(3, 2));
  assert.deepEqual(s.lines, ['full:1'], 'nothing written while backed up');
  s.backedUp = false;
  writer.drain();
  assert.deepEqual(s.lines, ['full:1', 'full:3'], 'version 2 was replaced, so the delta 2>3 would not apply');
  writer.drain();
  assert.equal(s.lines.length, 2, 'a drain with nothing waiting writes nothing');
  writer.push(cached(4, 3));
  assert.deepEqual(s.lines.at(-1), 'delta:3>4');
});

test('what waits for drain is still sent as a delta when its base was the last thing written', () => {
  const { s, writer } = sink();
  writer.push(cached(1));
  s.backedUp = true;
  writer.push(cached(2, 1));
  s.backedUp = false;
  writer.drain();
  assert.deepEqual(s.lines, ['full:1', 'delta:1>2']);
});

test('after a NACK the next version goes in full, not as a delta on what was refused', () => {
  const { s, writer } = sink();
  writer.push(cached(1));
  writer.push(cached(2, 1));
  writer.refused();
  writer.push(cached(3, 2));
  assert.deepEqual(s.lines, ['full:1', 'delta:1>2', 'full:3']);
});

test('a resync writes the newest full snapshot at once, then deltas resume from it', () => {
  const { s, writer } = sink();
  writer.push(cached(1));
  writer.push(cached(2, 1));
  writer.resync('2');
  writer.push(cached(3, 2));
  assert.deepEqual(s.lines, ['full:1', 'delta:1>2', 'full:2', 'delta:2>3']);
});

test('a resync for a delta already overtaken by a full snapshot writes nothing more', () => {
  const { s, writer } = sink();
  writer.push(cached(1));
  writer.push(cached(2, 1));
  writer.push(cached(3, 2));
  writer.resync('2'); // the proxy could not apply 1>2 …
  writer.resync('3'); // … so not 2>3 either, which was on the wire before full:3
  assert.deepEqual(s.lines, ['full:1', 'delta:1>2', 'delta:2>3', 'full:3']);
});

test('a resync while the socket is backed up makes what waits go in full', () => {
  const { s, writer } = sink();
  writer.push(cached(1));
  writer.push(cached(2, 1));
  s.backedUp = true;
  writer.push(cached(3, 2));
  writer.resync('2');
  s.backedUp = false;
  writer.drain();
  assert.deepEqual(s.lines, ['full:1', 'delta:1>2', 'full:3']);
});

test('a resuming proxy that holds the same content gets an empty delta renumbering it, then deltas as usual', () => {
  const { s, writer } = sink();
  // Held version 7 (from another replica) with the content this replica numbers 9.
  writer.resume('7', 'h9');
  writer.push(cached(9, 8));
  assert.equal(s.lines.length, 1);
  const renumber = JSON.parse(s.lines[0]);
  assert.deepEqual({ type: renumber.type, base: renumber.base, version: renumber.version, hash: renumber.hash, upsert: renumber.upsert, remove: renumber.remove }, { type: 'delta', base: '7', version: '9', hash: 'h9', upsert: [], remove: [] });
  writer.push(cached(10, 9));
  assert.deepEqual(s.lines.slice(1), ['delta:9>10']);
  assert.deepEqual(s.written, ['9', '10']);
});

test('a resuming proxy that holds a newer version than this replica has waits for it (never goes back), or for release()', () => {
  const { s, writer } = sink();
  writer.resume('12', 'other');
  writer.push(cached(9));
  assert.deepEqual(s.lines, [], 'an older snapshot is held back');
  assert.equal(writer.holding(), true);
  writer.push(cached(13, 9));
  assert.deepEqual(s.lines, ['full:13'], 'the newer one goes, in full (the proxy never held 9)');
  assert.equal(writer.holding(), false);

  const second = sink();
  second.writer.resume('12', 'other');
  second.writer.push(cached(9));
  second.writer.release();
  assert.deepEqual(second.s.lines, ['full:9'], 'after release the replica sends what it has');
});

test('a resuming proxy with other content and an older version gets the full snapshot at once', () => {
  const { s, writer } = sink();
  writer.resume('5', 'old');
  writer.push(cached(9, 8));
  assert.deepEqual(s.lines, ['full:9']);
});

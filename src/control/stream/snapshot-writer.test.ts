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

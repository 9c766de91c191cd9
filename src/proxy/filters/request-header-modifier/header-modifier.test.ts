import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHeaderModifier, type HeaderEdits } from './header-modifier.ts';

const mod = compileHeaderModifier({
  set: [{ name: 'X-Set', value: 'new' }],
  add: [{ name: 'X-Add', value: 'more' }, { name: 'x-fresh', value: '1' }],
  remove: ['X-Gone'],
});

test('request: set overwrites, add appends to the incoming value, remove drops; names are case-insensitive', () => {
  const edits: HeaderEdits = {};
  mod.request({ 'x-set': 'old', 'x-add': 'first', 'x-gone': 'bye', other: 'kept' }, edits);
  assert.deepEqual(edits, { 'x-set': 'new', 'x-add': ['first', 'more'], 'x-fresh': '1', 'x-gone': undefined });
});

test('request: a second filter builds on the first one’s edits', () => {
  const edits: HeaderEdits = { 'x-add': 'from-earlier-filter' };
  mod.request({ 'x-add': 'incoming' }, edits);
  assert.deepEqual(edits['x-add'], ['from-earlier-filter', 'more']);
});

test('response: the same rules on a flat field list', () => {
  const out = mod.response(['x-set', 'a', 'x-set', 'b', 'x-add', 'first', 'x-gone', 'bye', 'content-type', 'text/plain']);
  assert.deepEqual(out, ['x-add', 'first', 'content-type', 'text/plain', 'x-set', 'new', 'x-add', 'more', 'x-fresh', '1']);
});

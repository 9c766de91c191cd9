import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closest, didYouMean, editDistance } from './suggest.ts';

test('edit distance counts insertions, deletions, substitutions and adjacent swaps as one edit', () => {
  assert.equal(editDistance('apply', 'apply'), 0);
  assert.equal(editDistance('aply', 'apply'), 1);
  assert.equal(editDistance('appyl', 'apply'), 1);
  assert.equal(editDistance('stauts', 'status'), 1);
  assert.equal(editDistance('', 'get'), 3);
});

test('closest suggests a near verb and nothing for an unrelated word', () => {
  const verbs = ['control', 'proxy', 'run', 'apply', 'get', 'delete', 'services', 'endpoints', 'status', 'version'];
  assert.equal(closest('aply', verbs), 'apply');
  assert.equal(closest('servics', verbs), 'services');
  assert.equal(closest('Status', verbs), 'status');
  assert.equal(closest('kubectl', verbs), undefined);
  assert.equal(closest('x', verbs), undefined);
  assert.equal(didYouMean('endpoint', verbs), '; did you mean "endpoints"?');
  assert.equal(didYouMean('zzz', verbs), '');
});

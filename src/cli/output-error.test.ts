import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../lib/errors.ts';
import { formatCliError } from './output-error.ts';

test('field problems are printed once, under a summary that does not repeat them', () => {
  const details = [
    { path: 'items[0].spec.loadBalancer.algorithm', message: 'must be one of round-robin, random' },
    { path: 'items[0].spec.timeouts.connectMs', message: 'must be at least 1, got -1' },
  ];
  const err = new WeftError('WEFT_ERR_RESOURCE_INVALID', `invalid resources, nothing applied: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, 1, details);
  const text = formatCliError(err);
  assert.equal(text.split('\n')[0], 'error: invalid resources, nothing applied [WEFT_ERR_RESOURCE_INVALID]');
  assert.equal(text.split('items[0].spec.timeouts.connectMs').length, 2, 'each path appears once');
});

test('the code comes on the first line, before a usage text', () => {
  const text = formatCliError(new WeftError('WEFT_ERR_CLI_USAGE', 'unknown option --bogus\n\nUsage: weft get TYPE', 2));
  assert.equal(text, 'error: unknown option --bogus [WEFT_ERR_CLI_USAGE]\n\nUsage: weft get TYPE\n');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWeftError } from '../../lib/errors.ts';
import { parseDocuments } from './apply.ts';

/** The "billion laughs" shape: each level names the one before nine times (9^depth expansions). */
function aliasBomb(depth: number): string {
  let text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  for (let d = 1; d <= depth; d++) text += `a${d}: &a${d} [${Array(9).fill(`*a${d - 1}`).join(',')}]\n`;
  return text;
}

test('an alias bomb is bad input with its own code and where, not a stack trace', () => {
  assert.throws(
    () => parseDocuments(`kind: Service\n---\n${aliasBomb(9)}`, 'bomb.yaml'),
    (err) => isWeftError(err) && err.code === 'WEFT_ERR_CLI_YAML_ALIASES' && err.status === 1 && err.message.startsWith('bomb.yaml:4:') && err.message.includes('document 2'),
  );
});

test('a few aliases, as real files use them, still parse', () => {
  assert.deepEqual(parseDocuments('a: &x {k: 1}\nb: *x\n', 'ok.yaml'), [{ a: { k: 1 }, b: { k: 1 } }]);
  assert.deepEqual(parseDocuments(aliasBomb(1), 'small.yaml').length, 1);
});

test('invalid YAML keeps its code', () => {
  assert.throws(() => parseDocuments('a: [1,\n', 'bad.yaml'), (err) => isWeftError(err) && err.code === 'WEFT_ERR_CLI_PARSE');
});

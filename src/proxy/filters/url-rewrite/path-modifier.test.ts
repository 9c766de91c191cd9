import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modifyPath } from './path-modifier.ts';

test("ReplacePrefixMatch follows the Gateway API specification's table", () => {
  // [request path, matched prefix, replacement, expected] — the rows of HTTPPathModifier's doc.
  const rows: [string, string, string, string][] = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
    ['/anything', '/', '/v2', '/v2/anything'],
  ];
  for (const [path, prefix, replacement, want] of rows) {
    assert.equal(modifyPath(path, { type: 'ReplacePrefixMatch', replacePrefixMatch: replacement }, prefix), want, `${path} ${prefix} → ${replacement}`);
  }
});

test('the query string is kept; ReplaceFullPath replaces the whole path', () => {
  assert.equal(modifyPath('/foo/bar?a=1&b', { type: 'ReplacePrefixMatch', replacePrefixMatch: '/x' }, '/foo'), '/x/bar?a=1&b');
  assert.equal(modifyPath('/foo/bar?a=1', { type: 'ReplaceFullPath', replaceFullPath: '/new' }, '/foo'), '/new?a=1');
});

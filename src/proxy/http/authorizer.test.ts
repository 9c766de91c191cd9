// The path inbound policies judge: dot segments, doubled slashes and encodings normalized, so a
// policy on /admin/* cannot be walked around.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizationPath } from './authorizer.ts';

test('policies judge the normalized path, so dot segments, doubled slashes and encodings do not slip past', () => {
  for (const [url, path] of [
    ['/api/orders?x=1', '/api/orders'],
    ['/api/../admin/users', '/admin/users'],
    ['//admin//users', '/admin/users'],
    ['/%61dmin/%2e%2e/admin/x', '/admin/x'],
    ['/a/./b/', '/a/b/'],
    ['/a/b/..', '/a/'],
    ['/../../etc', '/etc'],
    ['/files/a%2Fb', '/files/a%2Fb'],
    ['', '/'],
  ] as const) assert.equal(authorizationPath(url), path, url);
});

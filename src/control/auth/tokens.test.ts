// The token store on a real SQLite store: tokens verify, wrong / expired / malformed ones are told
// apart, only digests are kept, revocation and reopening work; the POST /v1/tokens body rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isWeftError } from '../../lib/errors.ts';
import { openSqliteStore } from '../store/sqlite-store.ts';
import { TokenStore, parseToken, secretsEqual, tokenInfo, validateTokenRequest } from './tokens.ts';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isWeftError(err) ? err.code : 'not a WeftError';
  }
  return undefined;
};

test('tokens verify by id and secret, expire, and survive a restart as digests only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-tokens-'));
  try {
    const store = await openSqliteStore(dir);
    const tokens = await TokenStore.open(store);
    assert.equal(tokens.hasAdmin(), false);
    const admin = await tokens.create({ kind: 'admin', role: 'admin' }, 1_000);
    const reader = await tokens.create({ kind: 'admin', role: 'read-only' }, 1_000);
    const join1 = await tokens.create({ kind: 'join', service: 'cart', namespace: 'shop', ttlSeconds: 60 }, 1_000);
    assert.equal(tokens.hasAdmin(), true);
    assert.match(admin.token, /^weft-admin\.[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/);
    assert.match(join1.token, /^weft-join\./);

    const ok = tokens.verify(admin.token, 2_000);
    assert.equal(typeof ok === 'object' && ok.role, 'admin');
    const r = tokens.verify(reader.token, 2_000);
    assert.equal(typeof r === 'object' && r.role, 'read-only');
    const j = tokens.verify(join1.token, 60_999);
    assert.deepEqual(typeof j === 'object' && [j.kind, j.service, j.namespace], ['join', 'cart', 'shop']);
    assert.equal(tokens.verify(join1.token, 61_000), 'expired');
    // One character off, another kind's prefix, or not a token at all.
    const last = admin.token.at(-1) === 'A' ? 'B' : 'A';
    assert.equal(tokens.verify(admin.token.slice(0, -1) + last, 2_000), 'unknown');
    assert.equal(tokens.verify(admin.token.replace('weft-admin', 'weft-join'), 2_000), 'unknown');
    assert.equal(tokens.verify('hunter2', 2_000), 'malformed');
    assert.equal(tokens.verify('x'.repeat(10_000), 2_000), 'malformed');

    // The API's view has no digest; the database has no secret.
    assert.equal('secretSha256' in tokenInfo(admin.stored), false);
    await store.close();
    const db = (await readFile(join(dir, 'weft.db'))).toString('latin1') + (await readFile(join(dir, 'weft.db-wal')).catch(() => Buffer.alloc(0))).toString('latin1');
    for (const t of [admin, reader, join1]) assert.equal(db.includes(parseToken(t.token)!.secret), false);

    const reopened = await TokenStore.open(await openSqliteStore(dir));
    assert.notEqual(typeof reopened.verify(admin.token, 2_000), 'string', 'tokens survive a restart');
    await reopened.revoke(admin.stored.id);
    assert.equal(reopened.verify(admin.token, 2_000), 'unknown');
    await assert.rejects(reopened.revoke(admin.stored.id), (err) => isWeftError(err) && err.code === 'WEFT_ERR_AUTH_TOKEN_NOT_FOUND');
    assert.deepEqual(reopened.list().map((t) => t.id).sort(), [reader.stored.id, join1.stored.id].sort());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a token request is an admin role or a join scope, never both, with a bounded TTL', () => {
  assert.deepEqual(validateTokenRequest({ role: 'read-only' }), { kind: 'admin', role: 'read-only', ttlSeconds: undefined, description: undefined });
  assert.deepEqual(validateTokenRequest({ service: 'cart' }), { kind: 'join', service: 'cart', namespace: 'default', ttlSeconds: 3600, description: undefined });
  for (const bad of [{}, { role: 'root' }, { role: 'admin', service: 'cart' }, { role: 'admin', namespace: 'x' }, { service: 'Cart' }, { service: 'cart', ttlSeconds: 0 }, { service: 'cart', ttlSeconds: 31 * 86_400 }, { service: 'cart', extra: 1 }, 'text']) {
    assert.equal(codeOf(() => validateTokenRequest(bad)), 'WEFT_ERR_AUTH_INVALID_TOKEN_REQUEST', JSON.stringify(bad));
  }
});

test('secretsEqual compares any two strings, of any lengths', () => {
  assert.equal(secretsEqual('abc', 'abc'), true);
  assert.equal(secretsEqual('abc', 'abcd'), false);
  assert.equal(secretsEqual('', 'a'), false);
});

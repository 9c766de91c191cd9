// Tests for `--store` parsing: the forms accepted, and a clear WEFT_ERR_STORE_URL for each bad one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWeftError } from '../../lib/errors.ts';
import { parseStoreUrl } from './store-url.ts';

test('sqlite and etcd URLs with one or several members, IPv6, and a key prefix', () => {
  assert.deepEqual(parseStoreUrl('sqlite'), { backend: 'sqlite' });
  assert.deepEqual(parseStoreUrl('etcd://127.0.0.1:2379'), {
    backend: 'etcd',
    addresses: ['127.0.0.1:2379'],
    endpoints: ['http://127.0.0.1:2379'],
    prefix: '/weft',
  });
  assert.deepEqual(parseStoreUrl('etcd://etcd-0.etcd:2379,etcd-1.etcd:2379,[::1]:2380/weft/staging/'), {
    backend: 'etcd',
    addresses: ['etcd-0.etcd:2379', 'etcd-1.etcd:2379', '[::1]:2380'],
    endpoints: ['http://etcd-0.etcd:2379', 'http://etcd-1.etcd:2379', 'http://[::1]:2380'],
    prefix: '/weft/staging',
  });
  assert.equal((parseStoreUrl('ETCD://h:1/') as { prefix: string }).prefix, '/weft');
});

test('malformed store URLs are rejected with WEFT_ERR_STORE_URL', () => {
  for (const bad of [
    '',
    'etcd',
    'etcd:/h:1',
    'mysql://h:1',
    'etcds://h:2379',
    'etcd://',
    'etcd://h',
    'etcd://h:',
    'etcd://:2379',
    'etcd://h:0',
    'etcd://h:65536',
    'etcd://h:2379,',
    'etcd://h_1:2379',
    'etcd://user:pw@h:2379',
    'etcd://h:2379?x=1',
    'etcd://h:2379/we ft',
    'etcd://h:2379/a//b',
  ]) {
    assert.throws(() => parseStoreUrl(bad), (err: unknown) => isWeftError(err) && err.code === 'WEFT_ERR_STORE_URL' && err.status === 400, bad);
  }
});

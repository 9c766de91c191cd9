// The API's answer when etcd stops answering: a real etcd is killed under an open store, and the
// errors its client then throws must map to 503 WEFT_ERR_STORE_UNAVAILABLE, not 500 internal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../lib/log.ts';
import { openEtcdStore } from './etcd-store.ts';
import { policy } from './store-contract.ts';
import { storeUnavailable } from './store-errors.ts';
import { sendError } from '../api/http-util.ts';
import { startEtcd } from '../../../test/support/etcd.ts';

const quiet = createLogger('test', () => {});

test('storeUnavailable: other errors are not the store\'s', () => {
  assert.equal(storeUnavailable(new Error('boom')), undefined);
  assert.equal(storeUnavailable(new TypeError('x is undefined')), undefined);
  assert.equal(storeUnavailable('a string'), undefined);
});

test('etcd killed under an open store: reads and writes fail as 503 WEFT_ERR_STORE_UNAVAILABLE, and the API says so', async () => {
  const etcd = await startEtcd();
  const store = await openEtcdStore({ endpoints: [etcd.clientUrl], prefix: `/weft-store-errors-${process.pid}`, logger: quiet });
  try {
    await store.applyResource(policy('before', { targetRefs: [{ kind: 'Service', name: 'reviews' }] }));
    await etcd.member.kill();
    const failures: unknown[] = [];
    for (const call of [() => store.listResources(), () => store.applyResource(policy('during', { targetRefs: [{ kind: 'Service', name: 'reviews' }] })), () => store.listInstances()]) {
      await assert.rejects(call(), (err: unknown) => (failures.push(err), true));
    }
    for (const err of failures) {
      const mapped = storeUnavailable(err);
      assert.ok(mapped, `not recognised as the store's: ${(err as Error)?.constructor?.name}: ${String(err)}`);
      assert.equal(mapped.status, 503);
      assert.equal(mapped.code, 'WEFT_ERR_STORE_UNAVAILABLE');
    }
    // What a caller of the API gets for such an error.
    const server = http.createServer((_req, res) => sendError(res, failures[0], quiet));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'WEFT_ERR_STORE_UNAVAILABLE');
      assert.match(body.error.message, /the store \(etcd\) is not answering/);
    } finally {
      server.close();
    }
    await etcd.member.restart();
    // Nothing stored before is lost; the store works again.
    for (let i = 0; ; i++) {
      try {
        assert.deepEqual((await store.listResources()).map((r) => r.metadata.name), ['before']);
        break;
      } catch (err) {
        if (i >= 50 || storeUnavailable(err) === undefined) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await store.close();
    await etcd.stop();
  }
});

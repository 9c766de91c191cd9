// Tests for the DNS source's copy of the Service resources: it follows the store's events, and a
// `resync` (the store may have missed changes, e.g. an etcd watch lost to compaction) re-reads them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Resource } from '../../config/resource.ts';
import { createLogger } from '../../lib/log.ts';
import { openSqliteStore } from '../store/sqlite-store.ts';
import type { Store, StoreEvent } from '../store/store.ts';
import { openDnsSource } from './service-source.ts';

const quiet = createLogger('test', () => {});
const service = (name: string): Resource => ({ apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { app: name }, ports: [{ port: 80 }] } });

test('a resync from the store re-reads the Service resources, picking up changes it was not told of', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weft-dns-source-'));
  const store = await openSqliteStore(dir, { logger: quiet });
  // A second writer on the same data, whose writes this store announces nothing of (as another
  // control plane's writes during a lost etcd watch).
  const other = await openSqliteStore(dir, { logger: quiet });
  let announce: ((e: StoreEvent) => void) | undefined;
  const watched = new Proxy(store, {
    get: (target, prop) => {
      if (prop === 'watch') {
        return (listener: (e: StoreEvent) => void) => {
          announce = listener;
          return target.watch(listener);
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Store;
  try {
    await store.applyResource(service('seen'));
    const source = await openDnsSource(watched, { list: () => [], subscribe: () => () => {} });
    let notified = 0;
    source.subscribe(() => notified++);
    await other.applyResource(service('missed'));
    await other.deleteResource('Service', 'default', 'seen');
    const names = () => source.services().map((s) => s.name).sort();
    assert.deepEqual(names(), ['seen'], 'not told: the copy is stale');

    announce!({ type: 'resync' });
    for (let i = 0; i < 50 && notified === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(notified, 1);
    assert.deepEqual(names(), ['missed']);
    source.close();
  } finally {
    await other.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

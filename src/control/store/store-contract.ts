// The Store's behaviour, as one test suite every backend runs (sqlite-store.test.ts against files
// in a temp dir, etcd-store.test.ts against a real etcd): apply/delete semantics, revisions,
// events, instances, tokens, corrupt data and close. Versions are compared, never hard-coded,
// since etcd's revision is the cluster's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../config/resource.ts';
import type { InstanceState } from '../../config/catalog-types.ts';
import type { Store, StoreEvent, StoredToken } from './store.ts';
import { isWeftError } from '../../lib/errors.ts';
import { createLogger, type Logger } from '../../lib/log.ts';

/** How the suite reaches one backend. Each test gets fresh, empty data (the test file's beforeEach). */
export interface StoreHarness {
  /**
   * Opens the current test's data (a new store the first time, the same data after a close).
   * Its clock is fixed at 2024-01-01T00:00:00Z. The harness closes what it opened after the test.
   */
  open(logger?: Logger): Promise<Store>;
  /** Writes a resource body the store cannot parse, as an operator's tool might; returns its version. */
  corruptResource(kind: string, namespace: string, name: string, body: string): Promise<string>;
  /** Same, for an instance. */
  corruptInstance(namespace: string, service: string, id: string, body: string): Promise<void>;
}

export function policy(name: string, spec: unknown, meta: Partial<Resource['metadata']> = {}, namespace = 'default'): Resource {
  return { apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name, namespace, ...meta }, spec };
}

export function code(expected: string, status?: number) {
  return (err: unknown) => isWeftError(err) && err.code === expected && (status === undefined || err.status === status);
}

export function instance(id: string, extra: Partial<InstanceState> = {}): InstanceState {
  return {
    service: 'checkout',
    namespace: 'shop',
    id,
    address: '10.0.0.1',
    ports: [{ port: 80, targetPort: 8080 }],
    labels: { version: 'v1' },
    weight: 1,
    ttlSeconds: 10,
    deregisterAfterSeconds: 60,
    checks: [],
    health: 'passing',
    healthReason: 'registered',
    registeredAt: 1,
    lastHeartbeat: 1,
    healthSince: 1,
    ...extra,
  };
}

const rv = (r: Resource): number => Number(r.metadata.resourceVersion);

/** Registers the shared Store tests (node:test `test`s) under `name`. */
export function storeContract(name: string, h: StoreHarness): void {
  const t = (title: string, fn: () => Promise<void>): void => {
    test(`${name}: ${title}`, fn);
  };

  t('create sets version, timestamp and generation; update keeps timestamp and bumps generation on spec change', async () => {
    const store = await h.open();
    const created = await store.applyResource(policy('a', { lb: 'round-robin' }));
    assert.equal(created.created, true);
    assert.equal(created.unchanged, false);
    assert.match(created.resource.metadata.resourceVersion ?? '', /^[1-9]\d*$/);
    assert.equal(created.resource.metadata.generation, 1);
    assert.equal(created.resource.metadata.creationTimestamp, '2024-01-01T00:00:00.000Z');
    assert.deepEqual(await store.getResource('BackendPolicy', 'default', 'a'), created.resource);

    const labelled = await store.applyResource(policy('a', { lb: 'round-robin' }, { labels: { team: 'x' } }));
    assert.equal(labelled.created, false);
    assert.equal(labelled.unchanged, false);
    assert.equal(rv(labelled.resource), rv(created.resource) + 1);
    assert.equal(labelled.resource.metadata.generation, 1, 'labels alone do not bump generation');

    const updated = await store.applyResource(policy('a', { lb: 'least-request' }, { labels: { team: 'x' } }));
    assert.equal(rv(updated.resource), rv(labelled.resource) + 1);
    assert.equal(updated.resource.metadata.generation, 2);
    assert.equal(updated.resource.metadata.creationTimestamp, '2024-01-01T00:00:00.000Z');
    assert.deepEqual(updated.resource.spec, { lb: 'least-request' });
    assert.deepEqual(await store.getResource('BackendPolicy', 'default', 'a'), updated.resource);
  });

  t('an apply equal in spec, labels and annotations writes nothing and emits nothing', async () => {
    const store = await h.open();
    const first = await store.applyResource(policy('a', { lb: 'rr', n: [1, 2] }, { labels: { t: 'x' } }));
    const events: StoreEvent[] = [];
    store.watch((e) => events.push(e));
    const again = await store.applyResource(policy('a', { n: [1, 2], lb: 'rr' }, { labels: { t: 'x' } }));
    assert.equal(again.unchanged, true);
    assert.equal(again.created, false);
    assert.deepEqual(again.resource, first.resource);
    // No revision was burnt either.
    const next = await store.applyResource(policy('b', {}));
    assert.equal(rv(next.resource), rv(first.resource) + 1);
    assert.deepEqual(events, [{ type: 'resource-put', resource: next.resource }]);
  });

  t('version conflicts: expectedVersion, metadata.resourceVersion, and a version for a missing object', async () => {
    const store = await h.open();
    const v1 = (await store.applyResource(policy('a', { v: 1 }))).resource.metadata.resourceVersion!;
    const v2 = (await store.applyResource(policy('a', { v: 2 }))).resource.metadata.resourceVersion!;
    assert.notEqual(v1, v2);

    await assert.rejects(store.applyResource(policy('a', { v: 3 }), { expectedVersion: v1 }), code('WEFT_ERR_STORE_CONFLICT', 409));
    await assert.rejects(store.applyResource(policy('a', { v: 3 }, { resourceVersion: v1 })), code('WEFT_ERR_STORE_CONFLICT', 409));
    await assert.rejects(store.applyResource(policy('missing', {}, { resourceVersion: v2 })), code('WEFT_ERR_STORE_CONFLICT', 409));
    // Options win over metadata.
    await assert.rejects(store.applyResource(policy('a', { v: 3 }, { resourceVersion: v2 }), { expectedVersion: v1 }), code('WEFT_ERR_STORE_CONFLICT'));

    const ok = await store.applyResource(policy('a', { v: 3 }, { resourceVersion: v2 }));
    assert.ok(rv(ok.resource) > Number(v2));
    const ok2 = await store.applyResource(policy('a', { v: 4 }), { expectedVersion: ok.resource.metadata.resourceVersion });
    assert.ok(rv(ok2.resource) > rv(ok.resource));
    assert.deepEqual((await store.getResource('BackendPolicy', 'default', 'a'))?.spec, { v: 4 });
  });

  t('a rejected conflicting write changes nothing: object, revision, events', async () => {
    const store = await h.open();
    const stored = (await store.applyResource(policy('a', { v: 1 }))).resource;
    const events: StoreEvent[] = [];
    store.watch((e) => events.push(e));
    const stale = String(rv(stored) + 1000);
    await assert.rejects(store.applyResource(policy('a', { v: 2 }), { expectedVersion: stale }), code('WEFT_ERR_STORE_CONFLICT'));
    await assert.rejects(store.deleteResource('BackendPolicy', 'default', 'a', { expectedVersion: stale }), code('WEFT_ERR_STORE_CONFLICT', 409));
    await assert.rejects(store.applyResource(policy('new', {}, { resourceVersion: stored.metadata.resourceVersion })), code('WEFT_ERR_STORE_CONFLICT'));
    assert.deepEqual(await store.getResource('BackendPolicy', 'default', 'a'), stored);
    assert.deepEqual(await store.listResources(), [stored]);
    assert.deepEqual(events, []);
    const next = await store.applyResource(policy('b', {}));
    assert.equal(rv(next.resource), rv(stored) + 1, 'rejected writes burn no revision');
  });

  t('delete returns the object, emits, and 404s when absent', async () => {
    const store = await h.open();
    const stored = (await store.applyResource(policy('a', { v: 1 }))).resource;
    const events: StoreEvent[] = [];
    store.watch((e) => events.push(e));
    const deleted = await store.deleteResource('BackendPolicy', 'default', 'a', { expectedVersion: stored.metadata.resourceVersion });
    assert.deepEqual(deleted, stored);
    assert.equal(await store.getResource('BackendPolicy', 'default', 'a'), undefined);
    assert.deepEqual(events, [{ type: 'resource-delete', resource: stored }]);
    await assert.rejects(store.deleteResource('BackendPolicy', 'default', 'a'), code('WEFT_ERR_STORE_NOT_FOUND', 404));

    // Re-creating after delete starts a new object (generation 1) at a higher revision: the delete
    // advanced the revision too.
    const again = await store.applyResource(policy('a', { v: 1 }));
    assert.equal(again.created, true);
    assert.equal(again.resource.metadata.generation, 1);
    assert.ok(rv(again.resource) > rv(stored) + 1);
  });

  t('list is sorted by kind, namespace, name and filters by kind and namespace', async () => {
    const store = await h.open();
    const route = (name: string, ns: string): Resource => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name, namespace: ns },
      spec: {},
    });
    await store.applyResource(route('z', 'prod'));
    await store.applyResource(policy('b', {}, {}, 'prod'));
    await store.applyResource(route('a', 'prod'));
    await store.applyResource(policy('c', {}));
    await store.applyResource(route('m', 'default'));
    // Names that sort differently from their keys ('-' and '.' come before '/' in bytes).
    await store.applyResource(route('a-b', 'prod-x'));
    await store.applyResource(route('a.b', 'prod'));
    const ids = (rs: Resource[]) => rs.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`);
    assert.deepEqual(ids(await store.listResources()), [
      'BackendPolicy/default/c',
      'BackendPolicy/prod/b',
      'HTTPRoute/default/m',
      'HTTPRoute/prod/a',
      'HTTPRoute/prod/a.b',
      'HTTPRoute/prod/z',
      'HTTPRoute/prod-x/a-b',
    ]);
    assert.deepEqual(ids(await store.listResources({ kind: 'HTTPRoute' })), [
      'HTTPRoute/default/m',
      'HTTPRoute/prod/a',
      'HTTPRoute/prod/a.b',
      'HTTPRoute/prod/z',
      'HTTPRoute/prod-x/a-b',
    ]);
    assert.deepEqual(ids(await store.listResources({ namespace: 'prod' })), ['BackendPolicy/prod/b', 'HTTPRoute/prod/a', 'HTTPRoute/prod/a.b', 'HTTPRoute/prod/z']);
    assert.deepEqual(ids(await store.listResources({ kind: 'HTTPRoute', namespace: 'prod' })), ['HTTPRoute/prod/a', 'HTTPRoute/prod/a.b', 'HTTPRoute/prod/z']);
    assert.deepEqual(await store.listResources({ kind: 'Nope' }), []);
    // A kind that is a prefix of another kind's name sees only its own objects.
    assert.deepEqual(await store.listResources({ kind: 'HTTPRout' }), []);
  });

  t('events fire after the write with the stored object; a throwing watcher breaks nothing', async () => {
    const store = await h.open();
    const seen: StoreEvent[] = [];
    store.watch(() => {
      throw new Error('bad watcher');
    });
    const off = store.watch((e) => seen.push(e));
    // By the time a watcher runs, a read sees the write (events follow the commit).
    let readBack: Promise<Resource | undefined> | undefined;
    store.watch((e) => {
      if (e.type === 'resource-put') readBack ??= store.getResource('BackendPolicy', 'default', 'a');
    });
    const { resource } = await store.applyResource(policy('a', { v: 1 }));
    assert.deepEqual(seen, [{ type: 'resource-put', resource }], 'the event is out when the write returns');
    assert.deepEqual(await readBack, resource);
    off();
    const second = await store.applyResource(policy('a', { v: 2 }));
    assert.equal(seen.length, 1);
    // Each write is seen once, even where the backend hears of it twice (its own write and its watch).
    const all: StoreEvent[] = [];
    store.watch((e) => all.push(e));
    const third = await store.applyResource(policy('a', { v: 3 }), { expectedVersion: second.resource.metadata.resourceVersion });
    await store.deleteResource('BackendPolicy', 'default', 'a');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(all, [
      { type: 'resource-put', resource: third.resource },
      { type: 'resource-delete', resource: third.resource },
    ]);
  });

  t('instances: put, list, overwrite, delete, events', async () => {
    const store = await h.open();
    const events: StoreEvent[] = [];
    store.watch((e) => events.push(e));
    await store.putInstance(instance('i-2'));
    await store.putInstance(instance('i-1'));
    await store.putInstance(instance('i-1', { health: 'critical', healthReason: 'ttl expired' }));
    await store.putInstance(instance('no-ttl', { ttlSeconds: 0, service: 'billing' }));
    assert.deepEqual(await store.listInstances(), [
      instance('no-ttl', { ttlSeconds: 0, service: 'billing' }),
      instance('i-1', { health: 'critical', healthReason: 'ttl expired' }),
      instance('i-2'),
    ]);
    await store.deleteInstance('shop', 'checkout', 'i-2');
    await store.deleteInstance('shop', 'checkout', 'never-there');
    await store.deleteInstance('shop', 'billing', 'no-ttl');
    assert.deepEqual(await store.listInstances(), [instance('i-1', { health: 'critical', healthReason: 'ttl expired' })]);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      events.map((e) => (e.type === 'instance-put' ? `put ${e.instance.id} ${e.instance.health}` : e.type === 'instance-delete' ? `delete ${e.id}` : e.type)),
      ['put i-2 passing', 'put i-1 passing', 'put i-1 critical', 'put no-ttl passing', 'delete i-2', 'delete no-ttl'],
    );
  });

  t('tokens: put, list sorted by id, overwrite, delete', async () => {
    const store = await h.open();
    const token = (id: string, extra: Partial<StoredToken> = {}): StoredToken => ({ id, kind: 'admin', role: 'admin', secretSha256: 'ab'.repeat(32), createdAt: 1, ...extra });
    await store.putToken(token('t2'));
    await store.putToken(token('t1', { kind: 'join', role: undefined, service: 'checkout', namespace: 'shop', expiresAt: 9 }));
    await store.putToken(token('t2', { role: 'read-only' }));
    assert.deepEqual(await store.listTokens(), [
      { id: 't1', kind: 'join', service: 'checkout', namespace: 'shop', secretSha256: 'ab'.repeat(32), createdAt: 1, expiresAt: 9 },
      token('t2', { role: 'read-only' }),
    ]);
    assert.equal(await store.deleteToken('t2'), true);
    assert.equal(await store.deleteToken('t2'), false);
    assert.deepEqual((await store.listTokens()).map((x) => x.id), ['t1']);
  });

  t('data and revision survive close and reopen', async () => {
    let store = await h.open();
    await store.applyResource(policy('a', { v: 1 }));
    const a2 = (await store.applyResource(policy('a', { v: 2 }))).resource;
    const gone = (await store.applyResource(policy('gone', {}))).resource;
    await store.deleteResource('BackendPolicy', 'default', 'gone');
    await store.putInstance(instance('i-1'));
    await store.putToken({ id: 'tk', kind: 'admin', role: 'admin', secretSha256: 'cd'.repeat(32), createdAt: 2 });

    await store.close();
    store = await h.open();
    assert.deepEqual(await store.listResources(), [a2]);
    assert.deepEqual(await store.listInstances(), [instance('i-1')]);
    assert.deepEqual((await store.listTokens()).map((x) => x.id), ['tk']);
    const a3 = await store.applyResource(policy('a', { v: 3 }), { expectedVersion: a2.metadata.resourceVersion });
    assert.ok(rv(a3.resource) > rv(gone) + 1, `revision keeps increasing, got ${a3.resource.metadata.resourceVersion}`);
    assert.equal(a3.resource.metadata.generation, 3);
    assert.equal(a3.resource.metadata.creationTimestamp, a2.metadata.creationTimestamp);

    await store.close();
    store = await h.open();
    const b = await store.applyResource(policy('b', {}));
    assert.ok(rv(b.resource) > rv(a3.resource));
  });

  t('corrupt data is skipped with a warning, not fatal, and can be repaired or deleted', async () => {
    const lines: string[] = [];
    const store = await h.open(createLogger('test', (l) => lines.push(l)));
    const good = (await store.applyResource(policy('good', {}))).resource;
    await store.putInstance(instance('i-1'));
    const badVersion = await h.corruptResource('BackendPolicy', 'default', 'bad', '{not json');
    await h.corruptInstance('shop', 'checkout', 'bad', 'null');

    assert.deepEqual(await store.listResources(), [good]);
    assert.equal(await store.getResource('BackendPolicy', 'default', 'bad'), undefined);
    assert.deepEqual(await store.listInstances(), [instance('i-1')]);
    assert.ok(lines.some((l) => l.includes('WARN') && /corrupt resource/.test(l) && l.includes('bad')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('WARN') && /corrupt instance/.test(l)), lines.join('\n'));

    // The bad one can be repaired by an apply (at its stored version) or deleted.
    const fixed = await store.applyResource(policy('bad', { ok: true }), { expectedVersion: badVersion });
    assert.equal(fixed.created, false);
    assert.equal(fixed.resource.metadata.generation, 1);
    await store.deleteResource('BackendPolicy', 'default', 'bad');
    await h.corruptResource('BackendPolicy', 'default', 'bad2', '[]');
    const removed = await store.deleteResource('BackendPolicy', 'default', 'bad2');
    assert.equal(removed.metadata.name, 'bad2');
    assert.deepEqual(await store.listResources(), [good]);
  });

  t('operations after close fail with WEFT_ERR_STORE_CLOSED; close is idempotent', async () => {
    const store = await h.open();
    await store.close();
    await store.close();
    await assert.rejects(store.listResources(), code('WEFT_ERR_STORE_CLOSED'));
    await assert.rejects(store.getResource('BackendPolicy', 'default', 'a'), code('WEFT_ERR_STORE_CLOSED'));
    await assert.rejects(store.applyResource(policy('a', {})), code('WEFT_ERR_STORE_CLOSED'));
    await assert.rejects(store.putInstance(instance('i-1')), code('WEFT_ERR_STORE_CLOSED'));
    await assert.rejects(store.listTokens(), code('WEFT_ERR_STORE_CLOSED'));
  });
}

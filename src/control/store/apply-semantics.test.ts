// Unit tests for the backend-independent store rules: version checks, "unchanged" detection,
// store-owned metadata and watcher fan-out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../config/resource.ts';
import { createLogger } from '../../lib/log.ts';
import { isWeftError } from '../../lib/errors.ts';
import {
  STORE_CONFLICT,
  STORE_NOT_FOUND,
  checkDelete,
  createStoreEvents,
  expectedVersionOf,
  isUnchanged,
  jsonEqual,
  parseResource,
  planApply,
} from './apply-semantics.ts';

function res(spec: unknown, extra: Partial<Resource['metadata']> = {}): Resource {
  return { apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name: 'a', namespace: 'default', ...extra }, spec };
}

function hasCode(code: string) {
  return (err: unknown) => isWeftError(err) && err.code === code;
}

test('jsonEqual ignores key order and undefined-valued keys', () => {
  assert.ok(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 }));
  assert.ok(jsonEqual({ a: 1, b: undefined }, { a: 1 }));
  assert.ok(!jsonEqual({ a: 1 }, { a: 2 }));
  assert.ok(!jsonEqual([1, 2], [2, 1]));
  assert.ok(!jsonEqual({ a: [] }, { a: {} }));
  assert.ok(!jsonEqual({ a: null }, { a: 0 }));
});

test('expectedVersionOf prefers options, then metadata, and ignores empty strings', () => {
  assert.equal(expectedVersionOf({ expectedVersion: '3' }, res({}, { resourceVersion: '2' })), '3');
  assert.equal(expectedVersionOf({}, res({}, { resourceVersion: '2' })), '2');
  assert.equal(expectedVersionOf({ expectedVersion: '' }, res({}, { resourceVersion: '' })), undefined);
  assert.equal(expectedVersionOf(undefined, res({})), undefined);
});

test('isUnchanged treats absent and empty label maps alike', () => {
  assert.ok(isUnchanged(res({ x: 1 }), res({ x: 1 }, { labels: {} })));
  assert.ok(!isUnchanged(res({ x: 1 }), res({ x: 1 }, { labels: { a: 'b' } })));
  assert.ok(!isUnchanged(res({ x: 1 }), res({ x: 1 }, { annotations: { a: 'b' } })));
  assert.ok(!isUnchanged(res({ x: 1 }), res({ x: 2 })));
});

test('planApply sets store-owned metadata and bumps generation only on spec change', () => {
  let rev = 0;
  const base = { nextRevision: () => String(++rev), now: () => '2024-01-01T00:00:00.000Z' };
  const created = planApply({ ...base, existing: undefined, existingVersion: undefined, incoming: res({ x: 1 }, { generation: 9, creationTimestamp: 'bogus' }) });
  assert.equal(created.action, 'write');
  assert.ok(created.action === 'write' && created.created);
  assert.deepEqual(created.resource.metadata, { name: 'a', namespace: 'default', resourceVersion: '1', creationTimestamp: '2024-01-01T00:00:00.000Z', generation: 1 });

  const labelled = planApply({ ...base, now: () => 'later', existing: created.resource, existingVersion: '1', incoming: res({ x: 1 }, { labels: { a: 'b' } }) });
  assert.equal(labelled.resource.metadata.generation, 1);
  assert.equal(labelled.resource.metadata.creationTimestamp, '2024-01-01T00:00:00.000Z');
  assert.equal(labelled.resource.metadata.resourceVersion, '2');

  const respec = planApply({ ...base, existing: labelled.resource, existingVersion: '2', incoming: res({ x: 2 }, { labels: { a: 'b' } }) });
  assert.equal(respec.resource.metadata.generation, 2);

  const same = planApply({ ...base, existing: respec.resource, existingVersion: '3', incoming: res({ x: 2 }, { labels: { a: 'b' } }) });
  assert.equal(same.action, 'unchanged');
  assert.equal(rev, 3, 'an unchanged apply burns no revision');
});

test('planApply conflicts on a stale or dangling version, before the unchanged check', () => {
  const base = { nextRevision: () => '99', now: () => 'now' };
  const stored = res({ x: 1 }, { resourceVersion: '5', generation: 1 });
  assert.throws(() => planApply({ ...base, existing: stored, existingVersion: '5', incoming: res({ x: 1 }), options: { expectedVersion: '4' } }), hasCode(STORE_CONFLICT));
  assert.throws(() => planApply({ ...base, existing: stored, existingVersion: '5', incoming: res({ x: 1 }, { resourceVersion: '4' }) }), hasCode(STORE_CONFLICT));
  assert.throws(() => planApply({ ...base, existing: undefined, existingVersion: undefined, incoming: res({ x: 1 }, { resourceVersion: '1' }) }), hasCode(STORE_CONFLICT));
  const ok = planApply({ ...base, existing: stored, existingVersion: '5', incoming: res({ x: 2 }, { resourceVersion: '5' }) });
  assert.equal(ok.resource.metadata.resourceVersion, '99');
});

test('checkDelete: not found, conflict, ok', () => {
  assert.throws(() => checkDelete('K', 'ns', 'n', undefined, undefined), (err: unknown) => hasCode(STORE_NOT_FOUND)(err) && isWeftError(err) && err.status === 404);
  assert.throws(() => checkDelete('K', 'ns', 'n', '3', { expectedVersion: '2' }), (err: unknown) => hasCode(STORE_CONFLICT)(err) && isWeftError(err) && err.status === 409);
  checkDelete('K', 'ns', 'n', '3', { expectedVersion: '3' });
  checkDelete('K', 'ns', 'n', '3', undefined);
});

test('parseResource rejects non-JSON and non-resource shapes', () => {
  assert.equal(parseResource('{nope'), undefined);
  assert.equal(parseResource('[]'), undefined);
  assert.equal(parseResource('{"kind":"K"}'), undefined);
  assert.ok(parseResource(JSON.stringify(res({}))));
});

test('store events: a throwing listener is logged and others still run; unsubscribe works', () => {
  const lines: string[] = [];
  const events = createStoreEvents(createLogger('test', (l) => lines.push(l)));
  const seen: string[] = [];
  events.watch(() => {
    throw new Error('boom');
  });
  const off = events.watch((e) => seen.push(e.type));
  events.emit({ type: 'instance-delete', namespace: 'a', service: 'b', id: 'c' });
  off();
  events.emit({ type: 'instance-delete', namespace: 'a', service: 'b', id: 'c' });
  assert.deepEqual(seen, ['instance-delete']);
  assert.equal(lines.filter((l) => l.includes('store watcher threw')).length, 2);
});

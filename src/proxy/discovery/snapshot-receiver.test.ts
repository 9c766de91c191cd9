import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxySnapshot, ServiceSnapshot } from '../../config/snapshot-types.ts';
import { DEFAULT_BACKEND_POLICY } from '../../config/kinds/backend-policy.ts';
import { snapshotHash } from '../../config/snapshot-hash.ts';
import { createSnapshotReceiver } from './snapshot-receiver.ts';

function service(name: string, port = 9000): ServiceSnapshot {
  return { name, namespace: 'default', policy: DEFAULT_BACKEND_POLICY, ports: [{ name: 'http', port: 80, protocol: 'http', endpoints: [{ id: `${name}-1`, address: '127.0.0.1', port, weight: 1, health: 'passing', labels: {} }] }] };
}

/** As the stream delivers them: JSON text, parsed. */
const full = (version: string, services: ServiceSnapshot[]): unknown =>
  JSON.parse(JSON.stringify({ version, hash: snapshotHash('ALLOW_ANY', services), outboundTrafficPolicy: 'ALLOW_ANY', services }));
const delta = (version: string, base: string, result: ServiceSnapshot[], upsert: ServiceSnapshot[], remove: { namespace: string; name: string }[] = []): unknown =>
  JSON.parse(JSON.stringify({ type: 'delta', version, base, hash: snapshotHash('ALLOW_ANY', result), outboundTrafficPolicy: 'ALLOW_ANY', upsert, remove }));

test('a full snapshot, then deltas on top of it, are each accepted and ACKed', () => {
  const r = createSnapshotReceiver();
  assert.deepEqual(r.snapshot(full('1', [service('a'), service('b')])).reply, { type: 'ack', version: '1' });
  const second = r.delta(delta('2', '1', [service('a', 9001), service('b')], [service('a', 9001)]));
  assert.deepEqual(second.reply, { type: 'ack', version: '2' });
  assert.equal(second.snapshot?.services[0].ports[0].endpoints[0].port, 9001);
  const third = r.delta(delta('3', '2', [service('a', 9001)], [], [{ namespace: 'default', name: 'b' }]));
  assert.deepEqual(third.reply, { type: 'ack', version: '3' });
  assert.deepEqual(third.snapshot?.services.map((s) => s.name), ['a']);
});

test('a delta on another base is refused with resync and changes nothing', () => {
  const r = createSnapshotReceiver();
  r.snapshot(full('1', [service('a')]));
  const wrong = r.delta(delta('3', '2', [service('a', 9002)], [service('a', 9002)]));
  assert.equal(wrong.snapshot, undefined);
  assert.equal(wrong.reply.type, 'nack');
  assert.ok(wrong.reply.type === 'nack' && wrong.reply.resync === true);
  assert.deepEqual(wrong.reply.type === 'nack' && wrong.reply.errors.map((e) => e.path), ['delta.base']);
  // Still on version 1: a delta from 1 applies.
  assert.deepEqual(r.delta(delta('4', '1', [service('a', 9004)], [service('a', 9004)])).reply, { type: 'ack', version: '4' });
});

test('a delta before any snapshot on this stream asks for a resync', () => {
  const reply = createSnapshotReceiver().delta(delta('2', '1', [service('a')], [service('a')])).reply;
  assert.ok(reply.type === 'nack' && reply.resync && /no snapshot was accepted/.test(reply.errors[0].message));
});

test('an invalid delta is NACKed with its field paths, without resync, and the last good snapshot stays the base', () => {
  const r = createSnapshotReceiver();
  r.snapshot(full('1', [service('a')]));
  const bad = delta('2', '1', [service('a')], [service('a')]) as { upsert: { ports: { protocol: string }[] }[] };
  bad.upsert[0].ports[0].protocol = 'carrier-pigeon';
  const got = r.delta(bad);
  assert.equal(got.snapshot, undefined);
  assert.ok(got.reply.type === 'nack' && !got.reply.resync);
  assert.deepEqual(got.reply.errors.map((e) => e.path), ['delta.upsert[0].ports[0].protocol']);
  assert.match(got.reply.errors[0].message, /carrier-pigeon/, 'the message names the bad value');
  assert.deepEqual(r.delta(delta('3', '1', [service('b')], [service('b')], [{ namespace: 'default', name: 'a' }])).reply, { type: 'ack', version: '3' });
});

test('a delta whose result the proxy cannot run (accept throws) is NACKed and not used as the next base', () => {
  let refuse = false;
  const r = createSnapshotReceiver((s: ProxySnapshot) => {
    if (refuse) throw new Error(`cannot run ${s.version}`);
  });
  r.snapshot(full('1', [service('a')]));
  refuse = true;
  assert.deepEqual(r.delta(delta('2', '1', [service('a', 9002)], [service('a', 9002)])).reply, { type: 'nack', version: '2', errors: [{ path: 'snapshot', message: 'cannot run 2' }] });
  refuse = false;
  const resent = r.delta(delta('3', '2', [service('a', 9003)], [service('a', 9003)]));
  assert.ok(resent.reply.type === 'nack' && resent.reply.resync, 'version 2 was never in force');
  assert.equal(r.snapshot(full('3', [service('a', 9003)])).reply.type, 'ack');
});

test('a full snapshot that fails validation is NACKed without resync', () => {
  const got = createSnapshotReceiver().snapshot({ version: '1', outboundTrafficPolicy: 'ALLOW_ANY' });
  assert.deepEqual(got.reply, { type: 'nack', version: '1', errors: [{ path: 'snapshot.services', message: 'is required' }] });
});

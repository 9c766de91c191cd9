import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../lib/clock.ts';
import { ANY_SERVICE, ChangeIndex } from './change-index.ts';

const settle = () => new Promise((r) => setImmediate(r));

test('the index starts at the clock (so it grows across restarts) and moves only when a service changes', () => {
  const clock = new ManualClock(1_700_000_000_000);
  const idx = new ChangeIndex(clock);
  assert.equal(idx.current, 1_700_000_000_000);
  idx.update(new Map([['web', 'a'], ['db', 'x']]));
  const first = idx.current;
  assert.equal(first, 1_700_000_000_001);
  assert.equal(idx.of('web'), first);
  idx.update(new Map([['web', 'a'], ['db', 'x']]));
  assert.equal(idx.current, first, 'nothing changed, no new index');
  idx.update(new Map([['web', 'b'], ['db', 'x']]));
  assert.equal(idx.of('web'), first + 1);
  assert.equal(idx.of('db'), first, 'db did not change');
  idx.update(new Map([['web', 'b']]));
  assert.equal(idx.of('db'), first + 2, 'a service that went away changed');
  assert.equal(idx.of('never-seen'), idx.current);
  assert.equal(new ChangeIndex(new ManualClock(0)).current, 1, 'never 0: Consul clients treat 0 as no index');
});

test('a waiter wakes when its service changes past its index, not for another service; else at its wait', async () => {
  const clock = new ManualClock();
  const idx = new ChangeIndex(clock);
  idx.update(new Map([['web', 'a'], ['db', 'x']]));
  const at = idx.current;
  let web = false;
  let any = false;
  void idx.wait('web', at, 60_000).then(() => (web = true));
  void idx.wait(ANY_SERVICE, at, 60_000).then(() => (any = true));
  idx.update(new Map([['web', 'a'], ['db', 'y']]));
  await settle();
  assert.equal(web, false, 'a change to db does not wake a web query');
  assert.equal(any, true, 'the service list changed');
  idx.update(new Map([['web', 'b'], ['db', 'y']]));
  await settle();
  assert.equal(web, true);
  assert.equal(idx.waiting, 0);

  let timedOut = false;
  void idx.wait('web', idx.current, 5_000).then(() => (timedOut = true));
  clock.advance(4_999);
  await settle();
  assert.equal(timedOut, false);
  clock.advance(1);
  await settle();
  assert.equal(timedOut, true);

  // An index already passed returns at once; an abort (client gone) releases the waiter.
  await idx.wait('web', at - 1, 60_000);
  const abort = new AbortController();
  const gone = idx.wait('web', idx.current, 60_000, abort.signal);
  assert.equal(idx.waiting, 1);
  abort.abort();
  await gone;
  assert.equal(idx.waiting, 0);
});

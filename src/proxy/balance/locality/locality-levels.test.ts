// Which level an endpoint is at, seen from a client: default region/zone order, failoverPriority,
// and when locality does not apply at all.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOCALITY, REGION_LABEL, ZONE_LABEL } from '../../../config/kinds/backend-policy-locality.ts';
import { createLevelAssigner } from './locality-levels.ts';

const at = (region?: string, zone?: string, extra: Record<string, string> = {}) => ({
  ...(region !== undefined && { [REGION_LABEL]: region }),
  ...(zone !== undefined && { [ZONE_LABEL]: zone }),
  ...extra,
});

test('default order: same zone, then same region, then the rest', () => {
  const a = createLevelAssigner(at('r1', 'a'), DEFAULT_LOCALITY);
  assert.ok(a);
  assert.equal(a.levelCount, 3);
  assert.equal(a.levelOf(at('r1', 'a')), 0);
  assert.equal(a.levelOf(at('r1', 'b')), 1);
  assert.equal(a.levelOf(at('r2', 'a')), 2, 'a zone of the same name in another region is not near');
  assert.equal(a.levelOf({}), 2, 'an endpoint without locality is the farthest');
});

test('a client that knows only its zone still prefers it', () => {
  const a = createLevelAssigner(at(undefined, 'a'), DEFAULT_LOCALITY);
  assert.ok(a);
  assert.deepEqual(a.keys, [ZONE_LABEL]);
  assert.equal(a.levelOf(at('r1', 'a')), 0);
  assert.equal(a.levelOf(at('r1', 'b')), 1);
});

test('no client locality, or locality disabled: no levels (plain balancing)', () => {
  assert.equal(createLevelAssigner({ app: 'client' }, DEFAULT_LOCALITY), undefined);
  assert.equal(createLevelAssigner(at('r1', 'a'), { ...DEFAULT_LOCALITY, enabled: false }), undefined);
  assert.equal(createLevelAssigner(at('r1', 'a'), { ...DEFAULT_LOCALITY, failoverPriority: ['version'] }), undefined);
});

test('failoverPriority orders the levels by the first N matching keys', () => {
  const config = { ...DEFAULT_LOCALITY, failoverPriority: ['version', REGION_LABEL, ZONE_LABEL] };
  const a = createLevelAssigner(at('r1', 'a', { version: 'v2' }), config);
  assert.ok(a);
  assert.equal(a.levelCount, 4);
  assert.equal(a.levelOf(at('r1', 'a', { version: 'v2' })), 0);
  assert.equal(a.levelOf(at('r1', 'b', { version: 'v2' })), 1);
  assert.equal(a.levelOf(at('r2', 'a', { version: 'v2' })), 2);
  // Same zone but another version: version comes first, so this is farther than any v2.
  assert.equal(a.levelOf(at('r1', 'a', { version: 'v1' })), 3);
});

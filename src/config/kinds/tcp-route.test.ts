// TCPRoute spec validation: defaults, the specification's bounds, exact error paths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidationResult } from '../resource.ts';
import { tcpRouteType, type TCPRouteSpec } from './tcp-route.ts';

function valid(spec: unknown): TCPRouteSpec {
  const r = tcpRouteType.validateSpec(spec, 'spec');
  if (!r.ok) assert.fail(`expected valid, got ${JSON.stringify(r.errors)}`);
  return r.value;
}

function errorPaths(r: ValidationResult<unknown>): string[] {
  assert.equal(r.ok, false, 'expected validation errors');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

test('a weighted split is normalized with defaults filled', () => {
  const spec = valid({
    parentRefs: [{ group: '', kind: 'Service', name: 'redis', port: 6379 }],
    rules: [{ name: 'split', backendRefs: [{ name: 'redis-a', port: 6379, weight: 50 }, { name: 'redis-b', port: 6379 }] }],
  });
  assert.deepEqual(spec, {
    parentRefs: [{ kind: 'Service', name: 'redis', port: 6379 }],
    rules: [{ name: 'split', backendRefs: [{ kind: 'Service', name: 'redis-a', port: 6379, weight: 50 }, { kind: 'Service', name: 'redis-b', port: 6379, weight: 1 }] }],
  });
});

test('rules and backendRefs are required, within the specification bounds', () => {
  assert.deepEqual(errorPaths(tcpRouteType.validateSpec({ parentRefs: [{ name: 'redis' }] }, 'spec')), ['spec.rules']);
  assert.deepEqual(errorPaths(tcpRouteType.validateSpec({ parentRefs: [{ name: 'redis' }], rules: [] }, 'spec')), ['spec.rules']);
  assert.deepEqual(errorPaths(tcpRouteType.validateSpec({ parentRefs: [{ name: 'redis' }], rules: [{}] }, 'spec')), ['spec.rules[0].backendRefs']);
  assert.deepEqual(errorPaths(tcpRouteType.validateSpec({ parentRefs: [{ name: 'redis' }], rules: [{ backendRefs: [] }] }, 'spec')), ['spec.rules[0].backendRefs']);
  const many = Array.from({ length: 17 }, (_, i) => ({ name: `b${i}` }));
  assert.deepEqual(errorPaths(tcpRouteType.validateSpec({ parentRefs: [{ name: 'redis' }], rules: [{ backendRefs: many }] }, 'spec')), ['spec.rules[0].backendRefs']);
});

test('unknown fields, HTTP-only fields, bad weights and repeated rule names are rejected with their paths', () => {
  const r = tcpRouteType.validateSpec(
    {
      parentRefs: [{ name: 'redis', sectionName: 'x' }],
      hostnames: ['redis.example.com'],
      rules: [
        { name: 'a', matches: [{}], backendRefs: [{ name: 'redis-a', weight: -1 }] },
        { name: 'a', backendRefs: [{ name: 'redis-b', weight: 1_000_001 }] },
      ],
    },
    'spec',
  );
  assert.deepEqual(errorPaths(r).sort(), ['spec.hostnames', 'spec.parentRefs[0].sectionName', 'spec.rules[0].matches', 'spec.rules[0].backendRefs[0].weight', 'spec.rules[1].backendRefs[0].weight', 'spec.rules[1].name'].sort());
});

test('parentRefs must name Services; backendRefs of another kind are kept for the status to report', () => {
  assert.deepEqual(errorPaths(tcpRouteType.validateSpec({ parentRefs: [{ kind: 'Gateway', name: 'gw' }], rules: [{ backendRefs: [{ name: 'a' }] }] }, 'spec')), ['spec.parentRefs[0].kind']);
  const spec = valid({ parentRefs: [{ name: 'redis' }], rules: [{ backendRefs: [{ group: 'example.com', kind: 'Backend', name: 'x' }] }] });
  assert.deepEqual(spec.rules[0]!.backendRefs[0], { group: 'example.com', kind: 'Backend', name: 'x', weight: 1 });
});

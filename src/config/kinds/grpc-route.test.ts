// GRPCRoute spec validation: defaults, method-match rules, filters allowed for gRPC, exact error paths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidationResult } from '../resource.ts';
import { grpcRouteType, type GRPCRouteSpec } from './grpc-route.ts';

function valid(spec: unknown): GRPCRouteSpec {
  const r = grpcRouteType.validateSpec(spec, 'spec');
  if (!r.ok) assert.fail(`expected valid, got ${JSON.stringify(r.errors)}`);
  return r.value;
}

function errorPaths(r: ValidationResult<unknown>): string[] {
  assert.equal(r.ok, false, 'expected validation errors');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

const parent = [{ name: 'greeter', port: 50051 }];
const withRule = (rule: unknown): unknown => ({ parentRefs: parent, rules: [rule] });
const R = 'spec.rules[0]';

test('a route without rules is valid and has none', () => {
  assert.deepEqual(valid({ parentRefs: parent }), { parentRefs: [{ kind: 'Service', name: 'greeter', port: 50051 }], hostnames: [], rules: [] });
});

test('a full route is normalized with defaults filled', () => {
  const spec = valid({
    parentRefs: parent,
    hostnames: ['greeter.example.com'],
    rules: [
      {
        name: 'v2-say-hello',
        matches: [
          { method: { service: 'helloworld.Greeter', method: 'SayHello' }, headers: [{ name: 'x-version', value: '2' }] },
          { method: { type: 'RegularExpression', service: 'helloworld\\..*' } },
          { method: { method: 'Check' } },
        ],
        filters: [
          { type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-route', value: 'v2' }] } },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['x-internal'] } },
          { type: 'RequestMirror', requestMirror: { backendRef: { name: 'greeter-shadow', port: 50051 } } },
        ],
        backendRefs: [{ name: 'greeter-v2', port: 50051, weight: 5 }, { name: 'greeter-v1', port: 50051 }],
      },
      { backendRefs: [{ name: 'greeter-v1' }] },
    ],
  });
  assert.deepEqual(spec.rules[0], {
    name: 'v2-say-hello',
    matches: [
      { method: { type: 'Exact', service: 'helloworld.Greeter', method: 'SayHello' }, headers: [{ type: 'Exact', name: 'x-version', value: '2' }] },
      { method: { type: 'RegularExpression', service: 'helloworld\\..*' }, headers: [] },
      { method: { type: 'Exact', method: 'Check' }, headers: [] },
    ],
    filters: [
      { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [], add: [{ name: 'x-route', value: 'v2' }], remove: [] } },
      { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [], add: [], remove: ['x-internal'] } },
      { type: 'RequestMirror', requestMirror: { backendRef: { kind: 'Service', name: 'greeter-shadow', port: 50051 } } },
    ],
    backendRefs: [
      { kind: 'Service', name: 'greeter-v2', port: 50051, weight: 5 },
      { kind: 'Service', name: 'greeter-v1', port: 50051, weight: 1 },
    ],
  });
  // No matches: every call matches, and the list stays empty as upstream writes it.
  assert.deepEqual(spec.rules[1], { matches: [], filters: [], backendRefs: [{ kind: 'Service', name: 'greeter-v1', weight: 1 }] });
});

test('mirror filters may repeat', () => {
  const m = { type: 'RequestMirror', requestMirror: { backendRef: { name: 'a' } } };
  assert.equal(valid(withRule({ filters: [m, m] })).rules[0].filters.length, 2);
});

const cases: [string, unknown, string[]][] = [
  ['unknown spec field', { parentRefs: parent, http: {} }, ['spec.http']],
  ['parentRefs missing', { rules: [] }, ['spec.parentRefs']],
  ['parentRef kind Gateway', { parentRefs: [{ kind: 'Gateway', name: 'gw' }] }, ['spec.parentRefs[0].kind']],
  ['hostname wildcard in the middle', { parentRefs: parent, hostnames: ['a.*'] }, ['spec.hostnames[0]']],
  ['too many rules', { parentRefs: parent, rules: Array.from({ length: 17 }, () => ({})) }, ['spec.rules']],
  ['duplicate rule names', { parentRefs: parent, rules: [{ name: 'x' }, { name: 'x' }] }, ['spec.rules[1].name']],
  ['unknown rule field', withRule({ timeouts: {} }), [`${R}.timeouts`]],
  ['too many matches in a rule', withRule({ matches: Array.from({ length: 9 }, () => ({})) }), [`${R}.matches`]],
  ['unknown match field', withRule({ matches: [{ path: {} }] }), [`${R}.matches[0].path`]],
  ['method match without service or method', withRule({ matches: [{ method: { type: 'Exact' } }] }), [`${R}.matches[0].method`]],
  ['method match with slash-style service', withRule({ matches: [{ method: { service: '/helloworld.Greeter/SayHello' } }] }), [`${R}.matches[0].method.service`]],
  ['method match with bad method name', withRule({ matches: [{ method: { service: 'a.B', method: 'Say-Hello' } }] }), [`${R}.matches[0].method.method`]],
  ['method match empty service', withRule({ matches: [{ method: { service: '' } }] }), [`${R}.matches[0].method.service`]],
  ['method regex does not compile', withRule({ matches: [{ method: { type: 'RegularExpression', method: '(' } }] }), [`${R}.matches[0].method.method`]],
  ['method match type unknown', withRule({ matches: [{ method: { type: 'Prefix', service: 'a' } }] }), [`${R}.matches[0].method.type`]],
  ['method match unknown field', withRule({ matches: [{ method: { service: 'a', version: 'v1' } }] }), [`${R}.matches[0].method.version`]],
  ['header name repeated ignoring case', withRule({ matches: [{ headers: [{ name: 'a', value: '1' }, { name: 'A', value: '1' }] }] }), [`${R}.matches[0].headers[1].name`]],
  ['header regex does not compile', withRule({ matches: [{ headers: [{ type: 'RegularExpression', name: 'a', value: '*' }] }] }), [`${R}.matches[0].headers[0].value`]],
  ['HTTP-only filter URLRewrite', withRule({ filters: [{ type: 'URLRewrite', urlRewrite: {} }] }), [`${R}.filters[0].urlRewrite`, `${R}.filters[0].type`]],
  ['HTTP-only filter field', withRule({ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'a' } }, requestRedirect: {} }] }), [`${R}.filters[0].requestRedirect`]],
  ['repeated ResponseHeaderModifier', withRule({ filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: {} }, { type: 'ResponseHeaderModifier', responseHeaderModifier: {} }] }), [`${R}.filters[1].type`]],
  ['header modifier header in set and add', withRule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'a', value: '1' }], add: [{ name: 'A', value: '2' }] } }] }), [`${R}.filters[0].requestHeaderModifier.add[0].name`]],
  ['backendRef port out of range', withRule({ backendRefs: [{ name: 'a', port: 0 }] }), [`${R}.backendRefs[0].port`]],
  ['backendRef weight not integer', withRule({ backendRefs: [{ name: 'a', weight: 0.5 }] }), [`${R}.backendRefs[0].weight`]],
];

for (const [name, spec, expected] of cases) {
  test(`rejects: ${name}`, () => {
    assert.deepEqual(errorPaths(grpcRouteType.validateSpec(spec, 'spec')), expected);
  });
}

test('collects every error in one pass', () => {
  const r = grpcRouteType.validateSpec(
    { parentRefs: [{}], rules: [{ matches: [{ method: {} }] }, { backendRefs: [{ name: 'a', weight: -1 }], filters: [{ type: 'Nope' }] }] },
    'spec',
  );
  assert.deepEqual(errorPaths(r).sort(), ['spec.parentRefs[0].name', 'spec.rules[0].matches[0].method', 'spec.rules[1].backendRefs[0].weight', 'spec.rules[1].filters[0].type']);
});

test('registry metadata', () => {
  assert.equal(grpcRouteType.kind, 'GRPCRoute');
  assert.equal(grpcRouteType.apiVersion, 'gateway.networking.k8s.io/v1');
  assert.equal(grpcRouteType.plural, 'grpcroutes');
});

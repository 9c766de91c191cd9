// HTTPRoute spec validation: upstream defaults, every kind of field error with its exact path, and
// the cross-field rules (filter combinations, ReplacePrefixMatch, timeouts, totals, uniqueness).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidationResult } from '../resource.ts';
import { httpRouteType, type HTTPRouteSpec } from './http-route.ts';

function valid(spec: unknown): HTTPRouteSpec {
  const r = httpRouteType.validateSpec(spec, 'spec');
  if (!r.ok) assert.fail(`expected valid, got ${JSON.stringify(r.errors)}`);
  return r.value;
}

function errorPaths(r: ValidationResult<unknown>): string[] {
  assert.equal(r.ok, false, 'expected validation errors');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

const parent = [{ name: 'reviews' }];
/** A spec with one rule built from `rule`. */
const withRule = (rule: unknown): unknown => ({ parentRefs: parent, rules: [rule] });
const rewrite = (path: unknown) => ({ type: 'URLRewrite', urlRewrite: { path } });

test('a minimal route gets the upstream default rule', () => {
  assert.deepEqual(valid({ parentRefs: parent }), {
    parentRefs: [{ kind: 'Service', name: 'reviews' }],
    hostnames: [],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }], filters: [], backendRefs: [] }],
  });
});

test('a full route is normalized with defaults filled', () => {
  const spec = valid({
    parentRefs: [{ group: '', kind: 'Service', name: 'reviews', namespace: 'shop', port: 9080 }, { group: 'core', name: 'reviews', namespace: 'shop', port: 9081 }],
    hostnames: ['reviews.example.com', '*.example.com'],
    rules: [
      {
        name: 'canary',
        matches: [
          {
            path: { type: 'Exact', value: '/api/v1/reviews' },
            headers: [{ name: 'x-canary', value: 'true' }, { type: 'RegularExpression', name: 'user-agent', value: '.*Firefox.*' }],
            queryParams: [{ name: 'debug', value: '1' }],
            method: 'GET',
          },
          { path: { value: '/v2' } },
          {},
        ],
        filters: [
          { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-env', value: 'canary' }], add: [{ name: 'x-via', value: 'weft' }], remove: ['x-debug'] } },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['server'] } },
          { type: 'URLRewrite', urlRewrite: { hostname: 'reviews.internal', path: { type: 'ReplaceFullPath', replaceFullPath: '/reviews' } } },
          { type: 'RequestMirror', requestMirror: { backendRef: { name: 'reviews-shadow', port: 9080 }, percent: 10 } },
          { type: 'RequestMirror', requestMirror: { backendRef: { kind: 'Service', name: 'audit' }, fraction: { numerator: 1 } } },
        ],
        backendRefs: [{ name: 'reviews-v2', port: 9080, weight: 10 }, { group: '', kind: 'Service', name: 'reviews-v1', port: 9080 }],
        timeouts: { request: '10s', backendRequest: '500ms' },
      },
      { matches: [{ path: { type: 'RegularExpression', value: '/items/[0-9]+' } }], backendRefs: [{ name: 'items' }] },
    ],
  });
  assert.deepEqual(spec.parentRefs, [
    { kind: 'Service', name: 'reviews', namespace: 'shop', port: 9080 },
    { kind: 'Service', name: 'reviews', namespace: 'shop', port: 9081 },
  ]);
  assert.deepEqual(spec.hostnames, ['reviews.example.com', '*.example.com']);
  const [r0, r1] = spec.rules;
  assert.equal(r0.name, 'canary');
  assert.deepEqual(r0.matches, [
    {
      path: { type: 'Exact', value: '/api/v1/reviews' },
      headers: [{ type: 'Exact', name: 'x-canary', value: 'true' }, { type: 'RegularExpression', name: 'user-agent', value: '.*Firefox.*' }],
      queryParams: [{ type: 'Exact', name: 'debug', value: '1' }],
      method: 'GET',
    },
    { path: { type: 'PathPrefix', value: '/v2' }, headers: [], queryParams: [] },
    { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] },
  ]);
  assert.deepEqual(r0.filters, [
    { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-env', value: 'canary' }], add: [{ name: 'x-via', value: 'weft' }], remove: ['x-debug'] } },
    { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [], add: [], remove: ['server'] } },
    { type: 'URLRewrite', urlRewrite: { hostname: 'reviews.internal', path: { type: 'ReplaceFullPath', replaceFullPath: '/reviews' } } },
    { type: 'RequestMirror', requestMirror: { backendRef: { kind: 'Service', name: 'reviews-shadow', port: 9080 }, percent: 10 } },
    { type: 'RequestMirror', requestMirror: { backendRef: { kind: 'Service', name: 'audit' }, fraction: { numerator: 1, denominator: 100 } } },
  ]);
  assert.deepEqual(r0.backendRefs, [
    { kind: 'Service', name: 'reviews-v2', port: 9080, weight: 10 },
    { kind: 'Service', name: 'reviews-v1', port: 9080, weight: 1 },
  ]);
  assert.deepEqual(r0.timeouts, { request: '10s', backendRequest: '500ms' });
  assert.deepEqual(r1, {
    matches: [{ path: { type: 'RegularExpression', value: '/items/[0-9]+' }, headers: [], queryParams: [] }],
    filters: [],
    backendRefs: [{ kind: 'Service', name: 'items', weight: 1 }],
  });
});

test('an explicit empty matches list means the default match', () => {
  assert.deepEqual(valid(withRule({ matches: [] })).rules[0].matches, [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }]);
});

test('redirect fills statusCode 302 and ReplacePrefixMatch accepts an empty prefix', () => {
  const spec = valid(
    withRule({
      matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
      filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'new.example.com', port: 8443, path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '' } } }],
    }),
  );
  assert.deepEqual(spec.rules[0].filters, [
    { type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'new.example.com', port: 8443, path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '' }, statusCode: 302 } },
  ]);
});

test('weight 0 and the weight upper bound are accepted', () => {
  const spec = valid(withRule({ backendRefs: [{ name: 'a', weight: 0 }, { name: 'b', weight: 1_000_000 }] }));
  assert.deepEqual(spec.rules[0].backendRefs.map((b) => b.weight), [0, 1_000_000]);
});

test('a backendRef in another namespace or of another kind is accepted: it is resolved (or given 500) when routes are built, as the specification says', () => {
  const spec = valid(withRule({ backendRefs: [{ name: 'a', namespace: 'other', port: 80 }, { group: 'multicluster.x-k8s.io', kind: 'ServiceImport', name: 'b' }, { group: 'core', kind: 'Service', name: 'c' }] }));
  assert.deepEqual(spec.rules[0].backendRefs, [
    { kind: 'Service', name: 'a', namespace: 'other', port: 80, weight: 1 },
    { group: 'multicluster.x-k8s.io', kind: 'ServiceImport', name: 'b', weight: 1 },
    { kind: 'Service', name: 'c', weight: 1 },
  ]);
});

test('retry: codes, attempts and backoff kept; codes default to none', () => {
  assert.deepEqual(valid(withRule({ retry: { codes: [500, 502, 503, 504], attempts: 2, backoff: '100ms' } })).rules[0].retry, { codes: [500, 502, 503, 504], attempts: 2, backoff: '100ms' });
  assert.deepEqual(valid(withRule({ retry: {} })).rules[0].retry, { codes: [] });
});

test('CORS: the filter with its defaults (maxAge 5 seconds, no credentials, empty lists)', () => {
  const f = valid(withRule({ filters: [{ type: 'CORS', cors: { allowOrigins: ['https://app.example', 'https://*.example.com:8443'], allowMethods: ['GET', 'POST'] } }] })).rules[0].filters[0];
  assert.deepEqual(f, {
    type: 'CORS',
    cors: { allowOrigins: ['https://app.example', 'https://*.example.com:8443'], allowMethods: ['GET', 'POST'], allowHeaders: [], exposeHeaders: [], allowCredentials: false, maxAge: 5 },
  });
  const wild = valid(withRule({ filters: [{ type: 'CORS', cors: { allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], exposeHeaders: ['*'], allowCredentials: true, maxAge: 600 } }] })).rules[0].filters[0];
  assert.deepEqual(wild, { type: 'CORS', cors: { allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], exposeHeaders: ['*'], allowCredentials: true, maxAge: 600 } });
});

test('a zero request timeout leaves backendRequest unbounded', () => {
  assert.deepEqual(valid(withRule({ timeouts: { request: '0s', backendRequest: '1h' } })).rules[0].timeouts, { request: '0s', backendRequest: '1h' });
});

const R = 'spec.rules[0]';
const cases: [string, unknown, string[]][] = [
  // spec level
  ['spec not an object', [], ['spec']],
  ['unknown spec field', { parentRefs: parent, gateways: [] }, ['spec.gateways']],
  ['parentRefs missing', {}, ['spec.parentRefs']],
  ['parentRefs empty', { parentRefs: [] }, ['spec.parentRefs']],
  ['parentRef kind Gateway', { parentRefs: [{ kind: 'Gateway', name: 'gw' }] }, ['spec.parentRefs[0].kind']],
  ['parentRef non-core group', { parentRefs: [{ group: 'gateway.networking.k8s.io', name: 'gw' }] }, ['spec.parentRefs[0].group']],
  ['parentRef name missing', { parentRefs: [{ port: 80 }] }, ['spec.parentRefs[0].name']],
  ['parentRef bad namespace', { parentRefs: [{ name: 'a', namespace: 'Bad_NS' }] }, ['spec.parentRefs[0].namespace']],
  ['parentRef bad port', { parentRefs: [{ name: 'a', port: 0 }] }, ['spec.parentRefs[0].port']],
  ['parentRef unknown field', { parentRefs: [{ name: 'a', sectionName: 'http' }] }, ['spec.parentRefs[0].sectionName']],
  ['two parentRefs to one Service without ports', { parentRefs: [{ name: 'a' }, { name: 'a' }] }, ['spec.parentRefs[1].port']],
  ['two parentRefs to one Service and port', { parentRefs: [{ name: 'a', port: 80 }, { name: 'a', port: 80 }] }, ['spec.parentRefs[1].port']],
  ['hostname with upper case', { parentRefs: parent, hostnames: ['Reviews.example.com'] }, ['spec.hostnames[0]']],
  ['hostname wildcard not first', { parentRefs: parent, hostnames: ['a.*.com'] }, ['spec.hostnames[0]']],
  ['hostname IP address', { parentRefs: parent, hostnames: ['10.0.0.1'] }, ['spec.hostnames[0]']],
  ['too many hostnames', { parentRefs: parent, hostnames: Array.from({ length: 17 }, (_, i) => `h${i}.example.com`) }, ['spec.hostnames']],
  ['rules empty', { parentRefs: parent, rules: [] }, ['spec.rules']],
  ['too many rules', { parentRefs: parent, rules: Array.from({ length: 17 }, () => ({})) }, ['spec.rules']],
  ['more than 128 matches in total', { parentRefs: parent, rules: Array.from({ length: 3 }, () => ({ matches: Array.from({ length: 43 }, () => ({})) })) }, ['spec.rules']],
  ['duplicate rule names', { parentRefs: parent, rules: [{ name: 'a' }, { name: 'b' }, { name: 'a' }] }, ['spec.rules[2].name']],
  // rule level
  ['rule not an object', withRule('x'), [R]],
  ['unknown rule field', withRule({ retries: {} }), [`${R}.retries`]],
  ['bad rule name', withRule({ name: 'Canary!' }), [`${R}.name`]],
  ['too many matches in a rule', withRule({ matches: Array.from({ length: 65 }, () => ({})) }), [`${R}.matches`]],
  // matches
  ['unknown match field', withRule({ matches: [{ host: 'x' }] }), [`${R}.matches[0].host`]],
  ['path type unknown', withRule({ matches: [{ path: { type: 'Prefix', value: '/' } }] }), [`${R}.matches[0].path.type`]],
  ['path value without leading slash', withRule({ matches: [{ path: { value: 'api' } }] }), [`${R}.matches[0].path.value`]],
  ['path value with //', withRule({ matches: [{ path: { type: 'Exact', value: '/a//b' } }] }), [`${R}.matches[0].path.value`]],
  ['path value with /../', withRule({ matches: [{ path: { value: '/a/../b' } }] }), [`${R}.matches[0].path.value`]],
  ['path value ending /.', withRule({ matches: [{ path: { value: '/a/.' } }] }), [`${R}.matches[0].path.value`]],
  ['path value with %2F', withRule({ matches: [{ path: { value: '/a%2Fb' } }] }), [`${R}.matches[0].path.value`]],
  ['path value with a space', withRule({ matches: [{ path: { value: '/a b' } }] }), [`${R}.matches[0].path.value`]],
  ['path value too long', withRule({ matches: [{ path: { value: '/' + 'a'.repeat(1024) } }] }), [`${R}.matches[0].path.value`]],
  ['path value empty', withRule({ matches: [{ path: { value: '' } }] }), [`${R}.matches[0].path.value`]],
  ['path regex that would escape its anchors', withRule({ matches: [{ path: { type: 'RegularExpression', value: '/a)|(.*' } }] }), [`${R}.matches[0].path.value`]],
  ['path regex does not compile', withRule({ matches: [{ path: { type: 'RegularExpression', value: '/a/(b' } }] }), [`${R}.matches[0].path.value`]],
  ['unknown path field', withRule({ matches: [{ path: { value: '/', caseSensitive: true } }] }), [`${R}.matches[0].path.caseSensitive`]],
  ['header name with colon', withRule({ matches: [{ headers: [{ name: ':authority', value: 'x' }] }] }), [`${R}.matches[0].headers[0].name`]],
  ['header value missing', withRule({ matches: [{ headers: [{ name: 'x-a' }] }] }), [`${R}.matches[0].headers[0].value`]],
  ['header type unknown', withRule({ matches: [{ headers: [{ type: 'Prefix', name: 'x-a', value: 'b' }] }] }), [`${R}.matches[0].headers[0].type`]],
  ['header regex does not compile', withRule({ matches: [{ headers: [{ type: 'RegularExpression', name: 'x-a', value: '[' }] }] }), [`${R}.matches[0].headers[0].value`]],
  ['header names repeat ignoring case', withRule({ matches: [{ headers: [{ name: 'X-A', value: '1' }, { name: 'x-a', value: '2' }] }] }), [`${R}.matches[0].headers[1].name`]],
  ['too many header matches', withRule({ matches: [{ headers: Array.from({ length: 17 }, (_, i) => ({ name: `h${i}`, value: 'v' })) }] }), [`${R}.matches[0].headers`]],
  ['query param names repeat exactly', withRule({ matches: [{ queryParams: [{ name: 'a', value: '1' }, { name: 'a', value: '2' }] }] }), [`${R}.matches[0].queryParams[1].name`]],
  ['query param value too long', withRule({ matches: [{ queryParams: [{ name: 'a', value: 'x'.repeat(1025) }] }] }), [`${R}.matches[0].queryParams[0].value`]],
  ['method lower case', withRule({ matches: [{ method: 'get' }] }), [`${R}.matches[0].method`]],
  // filters
  ['filter type unknown', withRule({ filters: [{ type: 'Cors' }] }), [`${R}.filters[0].type`]],
  ['CORS without its config', withRule({ filters: [{ type: 'CORS' }] }), [`${R}.filters[0].cors`]],
  ['CORS twice', withRule({ filters: [{ type: 'CORS', cors: {} }, { type: 'CORS', cors: {} }] }), [`${R}.filters[1].type`]],
  ['CORS unknown field', withRule({ filters: [{ type: 'CORS', cors: { allowOrigin: ['*'] } }] }), [`${R}.filters[0].cors.allowOrigin`]],
  ['CORS origin without scheme', withRule({ filters: [{ type: 'CORS', cors: { allowOrigins: ['app.example'] } }] }), [`${R}.filters[0].cors.allowOrigins[0]`]],
  ['CORS origin with a path', withRule({ filters: [{ type: 'CORS', cors: { allowOrigins: ['https://app.example/x'] } }] }), [`${R}.filters[0].cors.allowOrigins[0]`]],
  ['CORS wildcard not the first label', withRule({ filters: [{ type: 'CORS', cors: { allowOrigins: ['https://a.*.example'] } }] }), [`${R}.filters[0].cors.allowOrigins[0]`]],
  ['CORS `*` with other origins', withRule({ filters: [{ type: 'CORS', cors: { allowOrigins: ['*', 'https://a.example'] } }] }), [`${R}.filters[0].cors.allowOrigins`]],
  ['CORS repeated origin', withRule({ filters: [{ type: 'CORS', cors: { allowOrigins: ['https://a.example', 'https://A.example'] } }] }), [`${R}.filters[0].cors.allowOrigins[1]`]],
  ['CORS unknown method', withRule({ filters: [{ type: 'CORS', cors: { allowMethods: ['GET', 'FETCH'] } }] }), [`${R}.filters[0].cors.allowMethods[1]`]],
  ['CORS bad header name', withRule({ filters: [{ type: 'CORS', cors: { allowHeaders: ['x token'] } }] }), [`${R}.filters[0].cors.allowHeaders[0]`]],
  ['CORS bad expose header', withRule({ filters: [{ type: 'CORS', cors: { exposeHeaders: [''] } }] }), [`${R}.filters[0].cors.exposeHeaders[0]`]],
  ['CORS allowCredentials not a boolean', withRule({ filters: [{ type: 'CORS', cors: { allowCredentials: 'yes' } }] }), [`${R}.filters[0].cors.allowCredentials`]],
  ['CORS maxAge zero', withRule({ filters: [{ type: 'CORS', cors: { maxAge: 0 } }] }), [`${R}.filters[0].cors.maxAge`]],
  ['filter type missing', withRule({ filters: [{ requestHeaderModifier: {} }] }), [`${R}.filters[0].type`]],
  ['filter config missing', withRule({ filters: [{ type: 'RequestHeaderModifier' }] }), [`${R}.filters[0].requestHeaderModifier`]],
  ['filter with a second config', withRule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: {}, urlRewrite: {} }] }), [`${R}.filters[0].urlRewrite`]],
  ['header modifier unknown field', withRule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { append: [] } }] }), [`${R}.filters[0].requestHeaderModifier.append`]],
  ['header modifier bad name', withRule({ filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'a b', value: 'x' }] } }] }), [`${R}.filters[0].responseHeaderModifier.set[0].name`]],
  ['header modifier value with newline', withRule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x', value: 'a\r\nb' }] } }] }), [`${R}.filters[0].requestHeaderModifier.add[0].value`]],
  ['header modifier empty value', withRule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x', value: '' }] } }] }), [`${R}.filters[0].requestHeaderModifier.set[0].value`]],
  ['header modifier two actions on one header', withRule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-A', value: '1' }], remove: ['x-a'] } }] }), [`${R}.filters[0].requestHeaderModifier.remove[0]`]],
  ['header modifier too many removes', withRule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { remove: Array.from({ length: 17 }, (_, i) => `h${i}`) } }] }), [`${R}.filters[0].requestHeaderModifier.remove`]],
  ['repeated RequestHeaderModifier', withRule({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: {} }, { type: 'RequestHeaderModifier', requestHeaderModifier: {} }] }), [`${R}.filters[1].type`]],
  ['URLRewrite with RequestRedirect', withRule({ filters: [{ type: 'URLRewrite', urlRewrite: {} }, { type: 'RequestRedirect', requestRedirect: {} }] }), [`${R}.filters[1].type`]],
  ['RequestRedirect with backendRefs', withRule({ filters: [{ type: 'RequestRedirect', requestRedirect: {} }], backendRefs: [{ name: 'a' }] }), [`${R}.filters[0].type`]],
  ['redirect bad scheme', withRule({ filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'ftp' } }] }), [`${R}.filters[0].requestRedirect.scheme`]],
  ['redirect wildcard hostname', withRule({ filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: '*.example.com' } }] }), [`${R}.filters[0].requestRedirect.hostname`]],
  ['redirect bad status', withRule({ filters: [{ type: 'RequestRedirect', requestRedirect: { statusCode: 200 } }] }), [`${R}.filters[0].requestRedirect.statusCode`]],
  ['redirect bad port', withRule({ filters: [{ type: 'RequestRedirect', requestRedirect: { port: 70000 } }] }), [`${R}.filters[0].requestRedirect.port`]],
  ['path modifier type missing', withRule({ filters: [rewrite({ replaceFullPath: '/x' })] }), [`${R}.filters[0].urlRewrite.path.type`]],
  ['path modifier value missing', withRule({ filters: [rewrite({ type: 'ReplaceFullPath' })] }), [`${R}.filters[0].urlRewrite.path.replaceFullPath`]],
  ['path modifier other value set', withRule({ filters: [rewrite({ type: 'ReplaceFullPath', replaceFullPath: '/x', replacePrefixMatch: '/y' })] }), [`${R}.filters[0].urlRewrite.path.replacePrefixMatch`]],
  ['path modifier relative path', withRule({ filters: [rewrite({ type: 'ReplaceFullPath', replaceFullPath: 'x' })] }), [`${R}.filters[0].urlRewrite.path.replaceFullPath`]],
  ['ReplacePrefixMatch with an Exact match', withRule({ matches: [{ path: { type: 'Exact', value: '/a' } }], filters: [rewrite({ type: 'ReplacePrefixMatch', replacePrefixMatch: '/b' })] }), [`${R}.filters[0].urlRewrite.path.type`]],
  ['ReplacePrefixMatch with two matches', withRule({ matches: [{ path: { value: '/a' } }, { path: { value: '/b' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/c' } } }] }), [`${R}.filters[0].requestRedirect.path.type`]],
  ['mirror backendRef missing', withRule({ filters: [{ type: 'RequestMirror', requestMirror: { percent: 5 } }] }), [`${R}.filters[0].requestMirror.backendRef`]],
  ['mirror percent over 100', withRule({ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'a' }, percent: 101 } }] }), [`${R}.filters[0].requestMirror.percent`]],
  ['mirror percent and fraction', withRule({ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'a' }, percent: 5, fraction: { numerator: 1 } } }] }), [`${R}.filters[0].requestMirror.fraction`]],
  ['mirror fraction over one', withRule({ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'a' }, fraction: { numerator: 3, denominator: 2 } } }] }), [`${R}.filters[0].requestMirror.fraction.numerator`]],
  ['mirror backendRef weight', withRule({ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'a', weight: 1 } } }] }), [`${R}.filters[0].requestMirror.backendRef.weight`]],
  ['too many filters', withRule({ filters: Array.from({ length: 17 }, () => ({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'a' } } })) }), [`${R}.filters`]],
  // backendRefs
  ['backendRef name missing', withRule({ backendRefs: [{ port: 80 }] }), [`${R}.backendRefs[0].name`]],
  ['backendRef kind not a kind name', withRule({ backendRefs: [{ kind: 'Service Import', name: 'a' }] }), [`${R}.backendRefs[0].kind`]],
  ['backendRef Service name not a DNS label', withRule({ backendRefs: [{ name: 'A_b' }] }), [`${R}.backendRefs[0].name`]],
  ['backendRef weight negative', withRule({ backendRefs: [{ name: 'a', weight: -1 }] }), [`${R}.backendRefs[0].weight`]],
  ['backendRef weight too big', withRule({ backendRefs: [{ name: 'a', weight: 1_000_001 }] }), [`${R}.backendRefs[0].weight`]],
  ['backendRef namespace not a DNS label', withRule({ backendRefs: [{ name: 'a', namespace: 'Other_ns' }] }), [`${R}.backendRefs[0].namespace`]],
  ['too many backendRefs', withRule({ backendRefs: Array.from({ length: 17 }, (_, i) => ({ name: `b${i}` })) }), [`${R}.backendRefs`]],
  // timeouts
  ['timeout with fraction', withRule({ timeouts: { request: '1.5s' } }), [`${R}.timeouts.request`]],
  ['timeout without unit', withRule({ timeouts: { request: '10' } }), [`${R}.timeouts.request`]],
  ['timeout as number', withRule({ timeouts: { backendRequest: 10 } }), [`${R}.timeouts.backendRequest`]],
  ['timeout unknown field', withRule({ timeouts: { idle: '1s' } }), [`${R}.timeouts.idle`]],
  ['backendRequest longer than request', withRule({ timeouts: { request: '1s', backendRequest: '1001ms' } }), [`${R}.timeouts.backendRequest`]],
  // retry
  ['retry not an object', withRule({ retry: 3 }), [`${R}.retry`]],
  ['retry unknown field', withRule({ retry: { perTryTimeout: '1s' } }), [`${R}.retry.perTryTimeout`]],
  ['retry code below 400', withRule({ retry: { codes: [503, 399] } }), [`${R}.retry.codes[1]`]],
  ['retry code above 599', withRule({ retry: { codes: [600] } }), [`${R}.retry.codes[0]`]],
  ['retry code as string', withRule({ retry: { codes: ['503'] } }), [`${R}.retry.codes[0]`]],
  ['retry code repeated', withRule({ retry: { codes: [503, 503] } }), [`${R}.retry.codes[1]`]],
  ['retry attempts negative', withRule({ retry: { attempts: -1 } }), [`${R}.retry.attempts`]],
  ['retry attempts over the bound', withRule({ retry: { attempts: 11 } }), [`${R}.retry.attempts`]],
  ['retry backoff not a duration', withRule({ retry: { backoff: '0.1s' } }), [`${R}.retry.backoff`]],
];

for (const [name, spec, expected] of cases) {
  test(`rejects: ${name}`, () => {
    assert.deepEqual(errorPaths(httpRouteType.validateSpec(spec, 'spec')), expected);
  });
}

test('collects errors from several rules, matches and filters in one pass', () => {
  const r = httpRouteType.validateSpec(
    {
      parentRefs: [{ name: 'Reviews' }],
      rules: [
        { matches: [{ path: { value: 'no-slash' } }, { method: 'FETCH' }] },
        { filters: [{ type: 'RequestHeaderModifier' }], backendRefs: [{ name: 'a', weight: -5 }], timeouts: { request: 'soon' } },
      ],
    },
    'spec',
  );
  assert.deepEqual(errorPaths(r).sort(), [
    'spec.parentRefs[0].name',
    'spec.rules[0].matches[0].path.value',
    'spec.rules[0].matches[1].method',
    'spec.rules[1].backendRefs[0].weight',
    'spec.rules[1].filters[0].requestHeaderModifier',
    'spec.rules[1].timeouts.request',
  ]);
});

test('registry metadata', () => {
  assert.equal(httpRouteType.kind, 'HTTPRoute');
  assert.equal(httpRouteType.apiVersion, 'gateway.networking.k8s.io/v1');
  assert.equal(httpRouteType.plural, 'httproutes');
  assert.deepEqual(httpRouteType.aliases, ['httproute', 'route']);
});

// Route matching and precedence as the Gateway API states them: every match type, precedence across
// rules and routes, parentRef ports, GRPCRoute methods, and weighted backend choice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteRuleSnapshot, RouteSnapshot } from '../../config/snapshot-types.ts';
import type { HTTPRouteMatch } from '../../config/kinds/http-route.ts';
import { RouteTable, type RouteRequest } from './route-table.ts';

const req = (path: string, method = 'GET', headers: Record<string, string> = {}): RouteRequest => ({ method, path, header: (n) => headers[n] });
const m = (match: Partial<HTTPRouteMatch> & { prefix?: string; exact?: string; regex?: string }): HTTPRouteMatch => ({
  path: match.exact !== undefined ? { type: 'Exact', value: match.exact } : match.regex !== undefined ? { type: 'RegularExpression', value: match.regex } : { type: 'PathPrefix', value: match.prefix ?? '/' },
  headers: match.headers ?? [],
  queryParams: match.queryParams ?? [],
  ...(match.method ? { method: match.method } : {}),
});
const rule = (name: string, matches: HTTPRouteMatch[], backends: [string, number][] = [[name, 1]]): RouteRuleSnapshot => ({
  name, matches, filters: [], backends: backends.map(([svc, weight]) => ({ weight, ref: `Service/default/${svc}`, service: { name: svc, namespace: 'default' } })),
});
const route = (name: string, rules: RouteRuleSnapshot[], port?: number): RouteSnapshot => ({ name: `default/${name}`, kind: 'HTTPRoute', rules, ...(port ? { port } : {}) });
const ruleOf = (t: RouteTable, r: RouteRequest) => t.match(r)?.rule.name;

test('PathPrefix is segment-wise; Exact is exact; RegularExpression matches the whole path; the query is not part of the path', () => {
  const t = RouteTable.compile([route('r', [rule('prefix', [m({ prefix: '/abc' })]), rule('exact', [m({ exact: '/x/y' })]), rule('regex', [m({ regex: '/v[0-9]+/.*' })])])], 80);
  for (const p of ['/abc', '/abc/', '/abc/def', '/abc?q=1']) assert.equal(ruleOf(t, req(p)), 'prefix', p);
  for (const p of ['/abcd', '/ab', '/x/y/', '/x']) assert.equal(ruleOf(t, req(p)), undefined, p);
  assert.equal(ruleOf(t, req('/x/y?z=1')), 'exact');
  assert.equal(ruleOf(t, req('/v2/items')), 'regex');
  assert.equal(ruleOf(t, req('/prefix/v2/items')), undefined, 'a regex matches the whole path, not a part');
  // A trailing slash in a prefix is not significant: "/abc/" matches "/abc" too.
  const slash = RouteTable.compile([route('r', [rule('p', [m({ prefix: '/abc/' })])])], 80);
  assert.equal(ruleOf(slash, req('/abc')), 'p');
  assert.equal(slash.match(req('/abc/d'))?.prefix, '/abc');
});

test('headers (names case-insensitive, exact or regex), query parameters (names case-sensitive) and method must all match', () => {
  const t = RouteTable.compile([route('r', [rule('all', [m({ method: 'POST', headers: [{ type: 'Exact', name: 'X-Env', value: 'canary' }, { type: 'RegularExpression', name: 'user-agent', value: 'curl/.*' }], queryParams: [{ type: 'Exact', name: 'Debug', value: '1' }] })])])], 80);
  const ok = { 'x-env': 'canary', 'user-agent': 'curl/8.0' };
  assert.equal(ruleOf(t, req('/?Debug=1', 'POST', ok)), 'all');
  assert.equal(ruleOf(t, req('/?Debug=1', 'GET', ok)), undefined, 'method');
  assert.equal(ruleOf(t, req('/?debug=1', 'POST', ok)), undefined, 'query names are case-sensitive');
  assert.equal(ruleOf(t, req('/?Debug=1', 'POST', { ...ok, 'x-env': 'Canary' })), undefined, 'header values are case-sensitive');
  assert.equal(ruleOf(t, req('/?Debug=1', 'POST', { ...ok, 'user-agent': 'wget curl/8' })), undefined, 'a header regex matches the whole value');
  assert.equal(ruleOf(t, req('/?Debug=1&Debug=2', 'POST', ok)), 'all', 'the first of repeated parameters counts');
});

test('precedence across rules: exact path, then longest prefix, then method, then most headers, then most query parameters, then rule order', () => {
  const t = RouteTable.compile([route('r', [
    rule('catch-all', [m({})]),
    rule('first-tie', [m({ prefix: '/a' })]),
    rule('second-tie', [m({ prefix: '/a' })]),
    rule('query', [m({ prefix: '/a', queryParams: [{ type: 'Exact', name: 'q', value: '1' }] })]),
    rule('header', [m({ prefix: '/a', headers: [{ type: 'Exact', name: 'h', value: '1' }] })]),
    rule('method', [m({ prefix: '/a', method: 'GET' })]),
    rule('longer', [m({ prefix: '/a/b' })]),
    rule('exact', [m({ exact: '/a/b' })]),
  ])], 80);
  assert.equal(ruleOf(t, req('/a/b', 'GET', { h: '1' })), 'exact');
  assert.equal(ruleOf(t, req('/a/b/c', 'GET', { h: '1' })), 'longer');
  assert.equal(ruleOf(t, req('/a?q=1', 'GET', { h: '1' })), 'method');
  assert.equal(ruleOf(t, req('/a?q=1', 'PUT', { h: '1' })), 'header');
  assert.equal(ruleOf(t, req('/a?q=1', 'PUT')), 'query');
  assert.equal(ruleOf(t, req('/a', 'PUT')), 'first-tie');
  assert.equal(ruleOf(t, req('/z')), 'catch-all');
});

test('precedence across routes: the earlier route (oldest, then namespace/name: the builder orders them) wins a tie, before rule order', () => {
  const older = route('older', [rule('o-catch', [m({})]), rule('o-a', [m({ prefix: '/a' })])]);
  const newer = route('newer', [rule('n-a', [m({ prefix: '/a' })]), rule('n-ab', [m({ prefix: '/a/b' })])]);
  const t = RouteTable.compile([older, newer], 80);
  assert.equal(ruleOf(t, req('/a')), 'o-a', 'tie: the older route');
  assert.equal(ruleOf(t, req('/a/b')), 'n-ab', 'a more specific match wins whatever the route order');
});

test('a route with a parentRef port governs only that port', () => {
  const routes = [route('p8080', [rule('only-8080', [m({})])], 8080)];
  assert.equal(RouteTable.compile(routes, 80).size, 0);
  assert.equal(ruleOf(RouteTable.compile(routes, 8080), req('/')), 'only-8080');
});

test('GRPCRoute: exact service and method, service only, method only, regular expressions, headers; by characters of service then method', () => {
  const g = (name: string, method?: object, headers: object[] = []): RouteRuleSnapshot => ({ ...rule(name, []), matches: undefined, grpcMatches: [{ ...(method ? { method } : {}), headers } as never] });
  const t = RouteTable.compile([{ name: 'default/g', kind: 'GRPCRoute', rules: [
    g('any'),
    g('service', { type: 'Exact', service: 'shop.Reviews' }),
    g('method', { type: 'Exact', method: 'Get' }),
    g('both', { type: 'Exact', service: 'shop.Reviews', method: 'Get' }),
    g('regex', { type: 'RegularExpression', service: 'shop\\..*', method: 'List.*' }),
  ] }], 80);
  assert.equal(ruleOf(t, req('/shop.Reviews/Get', 'POST')), 'both');
  assert.equal(ruleOf(t, req('/shop.Reviews/Put', 'POST')), 'service');
  assert.equal(ruleOf(t, req('/shop.Ratings/Get', 'POST')), 'method');
  assert.equal(ruleOf(t, req('/shop.Ratings/ListAll', 'POST')), 'regex');
  assert.equal(ruleOf(t, req('/other.Svc/Put', 'POST')), 'any');
});

test('backends are picked by weight; weight 0 is never picked; all-zero picks nothing (a 500)', () => {
  const t = RouteTable.compile([route('r', [rule('split', [m({})], [['v1', 90], ['v2', 10], ['never', 0]]), rule('zero', [m({ prefix: '/zero' })], [['v1', 0]])])], 80);
  const counts: Record<string, number> = {};
  const match = t.match(req('/'))!;
  for (let i = 0; i < 10_000; i++) {
    const b = match.pickBackend()!.service!.name;
    counts[b] = (counts[b] ?? 0) + 1;
  }
  assert.equal(counts.never, undefined);
  assert.ok(counts.v2 > 800 && counts.v2 < 1200, JSON.stringify(counts));
  assert.equal(t.match(req('/zero'))!.pickBackend(), undefined);
});

test('a regular expression that does not compile throws at compile time, not per request', () => {
  assert.throws(() => RouteTable.compile([route('r', [rule('bad', [m({ regex: '(' })])])], 80), SyntaxError);
});

test('the first-segment index keeps precedence: rules that match any path interleave with those of the segment', () => {
  const routes = [route('r', [
    rule('prefix-a', [m({ prefix: '/a' })]),
    rule('regex', [m({ regex: '/(a|b)/x' })]),
    rule('exact-b', [m({ exact: '/b/y' })]),
    rule('catch-all', [m({})]),
    ...Array.from({ length: 200 }, (_, i) => rule(`noise-${i}`, [m({ prefix: `/noise-${i}/deep` })])),
  ])];
  const t = RouteTable.compile(routes, 80);
  assert.equal(ruleOf(t, req('/a/x')), 'regex', 'a regex outranks a prefix of the same segment');
  assert.equal(ruleOf(t, req('/a/z')), 'prefix-a');
  assert.equal(ruleOf(t, req('/b/y')), 'exact-b');
  assert.equal(ruleOf(t, req('/b/x')), 'regex');
  assert.equal(ruleOf(t, req('/b')), 'catch-all');
  assert.equal(ruleOf(t, req('/noise-7/deep/er')), 'noise-7');
  assert.equal(ruleOf(t, req('/noise-7/shallow')), 'catch-all');
  assert.equal(ruleOf(t, req('/')), 'catch-all');
});

test('rules that need a header the request lacks are skipped as a block, in order with the rest', () => {
  const h = (value: string) => [{ type: 'Exact' as const, name: 'X-Group', value }];
  const t = RouteTable.compile([route('r', [
    ...Array.from({ length: 100 }, (_, i) => rule(`group-${i}`, [m({ headers: h(`g${i}`) })])),
    rule('method-only', [m({ method: 'POST' })]),
    rule('catch-all', [m({})]),
  ])], 80);
  assert.equal(ruleOf(t, req('/x', 'GET', { 'x-group': 'g42' })), 'group-42');
  assert.equal(ruleOf(t, req('/x', 'POST', { 'x-group': 'g42' })), 'method-only', 'a method match outranks a header match');
  assert.equal(ruleOf(t, req('/x', 'GET', { 'x-group': 'none' })), 'catch-all');
  assert.equal(ruleOf(t, req('/x', 'GET')), 'catch-all');
});

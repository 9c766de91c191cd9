// routeRequest with a rule's timeouts, retry and CORS filter: the plan carries the compiled policy
// to the forwarder, a CORS preflight is answered here, and an actual request's response gains the
// CORS fields after the ResponseHeaderModifier's edits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKEND_POLICY } from '../../config/kinds/backend-policy.ts';
import type { RouteRuleSnapshot, ServiceSnapshot } from '../../config/snapshot-types.ts';
import { ServiceTable } from '../balance/service-table.ts';
import { routeRequest } from './route-request.ts';

const backend = { weight: 1, ref: 'Service/default/reviews-v1', service: { name: 'reviews-v1', namespace: 'default', port: 80 } };
const svc = (name: string, rules?: RouteRuleSnapshot[]): ServiceSnapshot => ({
  name,
  namespace: 'default',
  ports: [{ name: 'http', port: 80, protocol: 'http', endpoints: [] }],
  policy: DEFAULT_BACKEND_POLICY,
  ...(rules ? { routes: [{ name: 'default/r', kind: 'HTTPRoute', rules }] } : {}),
});

function tableWith(rule: RouteRuleSnapshot): ServiceTable {
  const t = new ServiceTable();
  t.update({ version: '1', hash: 'h', outboundTrafficPolicy: 'ALLOW_ANY', services: [svc('reviews', [rule]), svc('reviews-v1')] });
  return t;
}
const route = (t: ServiceTable, method: string, headers: Record<string, string> = {}) =>
  routeRequest(t, t.lookup('reviews', 'default')!.ports.get(80)!, { method, path: '/items', authority: 'reviews', headers });

const base: RouteRuleSnapshot = { name: 'r0', matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }], filters: [], backends: [backend] };

test('a rule without timeouts or retry forwards with no route policy', () => {
  const d = route(tableWith(base), 'GET');
  assert.equal(d.kind, 'forward');
  assert.equal(d.kind === 'forward' && d.policy, undefined);
});

test('a rule\'s timeouts and retry reach the decision compiled, the same object for every request', () => {
  const t = tableWith({ ...base, timeouts: { request: '2s', backendRequest: '500ms' }, retry: { codes: [503], attempts: 2, backoff: '50ms' } });
  const a = route(t, 'GET');
  const b = route(t, 'POST');
  assert.ok(a.kind === 'forward' && b.kind === 'forward');
  assert.equal(a.policy?.requestMs, 2000);
  assert.equal(a.policy?.backendRequestMs, 500);
  assert.equal(a.policy!.retry!.statuses[503], 1);
  assert.equal(a.policy!.retry!.statuses[502], 0);
  assert.equal(a.policy!.retry!.attempts, 2);
  assert.equal(a.policy!.retry!.baseIntervalMs, 50);
  assert.equal(a.policy, b.policy, 'compiled once per rule');
});

const cors: RouteRuleSnapshot = {
  ...base,
  filters: [
    { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'access-control-allow-origin', value: 'https://spoof.example' }], add: [], remove: [] } },
    { type: 'CORS', cors: { allowOrigins: ['https://app.example'], allowMethods: ['GET'], allowHeaders: [], exposeHeaders: [], allowCredentials: false, maxAge: 5 } },
  ],
};

test('CORS: a preflight is a bodyless 204 local reply; a disallowed origin\'s has no CORS fields', () => {
  const t = tableWith(cors);
  const d = route(t, 'OPTIONS', { origin: 'https://app.example', 'access-control-request-method': 'GET' });
  assert.ok(d.kind === 'reply');
  assert.equal(d.status, 204);
  assert.equal(d.reason, 'cors-preflight');
  assert.equal(d.bodyless, true);
  assert.equal(d.headers?.['access-control-allow-origin'], 'https://app.example');
  const no = route(t, 'OPTIONS', { origin: 'https://evil.example', 'access-control-request-method': 'GET' });
  assert.ok(no.kind === 'reply');
  assert.deepEqual(no.headers, {});
  // An OPTIONS without Access-Control-Request-Method is an ordinary request.
  assert.equal(route(t, 'OPTIONS', { origin: 'https://app.example' }).kind, 'forward');
});

test('CORS: the actual response\'s Access-Control-Allow-Origin is the filter\'s, after the ResponseHeaderModifier', () => {
  const t = tableWith(cors);
  const d = route(t, 'GET', { origin: 'https://app.example' });
  assert.ok(d.kind === 'forward' && d.response);
  const out = d.response(['content-type', 'text/plain']);
  assert.deepEqual(out.filter((_, i) => i % 2 === 0 && out[i] === 'access-control-allow-origin').length, 1);
  assert.equal(out[out.indexOf('access-control-allow-origin') + 1], 'https://app.example');
  // Without an Origin, only the modifier edits.
  const plain = route(t, 'GET');
  assert.ok(plain.kind === 'forward' && plain.response);
  const p = plain.response(['content-type', 'text/plain']);
  assert.equal(p[p.indexOf('access-control-allow-origin') + 1], 'https://spoof.example');
});

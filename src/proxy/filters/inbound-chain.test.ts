// The inbound chain per snapshot: nothing when no policy applies, jwt-authn before authz, default
// deny alone is enough for an authz filter, and the JWKS cache keeps only the URIs in use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../lib/clock.ts';
import type { ServiceSnapshot } from '../../config/snapshot-types.ts';
import { DEFAULT_BACKEND_POLICY } from '../../config/kinds/backend-policy.ts';
import { createInboundChain } from './inbound-chain.ts';
import { createInboundRequest, runInboundFilters } from './inbound-filter.ts';
import { JwksCache } from './jwt-authn/jwks-cache.ts';

const service = (extra: Partial<ServiceSnapshot> = {}): ServiceSnapshot => ({ name: 'orders', namespace: 'default', ports: [], policy: DEFAULT_BACKEND_POLICY, ...extra });
const jwtRule = { issuer: 'i', audiences: [], jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] }, fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }], fromParams: [], outputClaimToHeaders: [], forwardOriginalToken: false };

test('no policy and default allow: no chain; otherwise jwt-authn runs before authz', () => {
  const jwks = new JwksCache({ clock: new ManualClock() });
  assert.equal(createInboundChain({ own: undefined, defaultDeny: false, jwks }), undefined);
  assert.equal(createInboundChain({ own: service(), defaultDeny: false, jwks }), undefined);
  const both = createInboundChain({ own: service({ requestAuthentication: [{ name: 'default/jwt', jwtRules: [jwtRule] }], authorization: [{ name: 'default/p', action: 'ALLOW', rules: [{}] }] }), defaultDeny: false, jwks });
  assert.deepEqual(both?.map((f) => f.name), ['jwt-authn', 'authz']);
});

test('default deny holds before the sidecar\'s own service is in the snapshot', () => {
  const chain = createInboundChain({ own: undefined, defaultDeny: true, jwks: new JwksCache({ clock: new ManualClock() }) })!;
  const reply = runInboundFilters(chain, createInboundRequest('GET', '/', '/', {}, 'spiffe://weft.local/ns/default/svc/web', 8080));
  assert.ok(reply && !(reply instanceof Promise));
  assert.equal(reply.reason, 'authz-denied');
  assert.match(reply.message, /default deny/);
});

test('a malformed token is refused without waiting; a request without one runs the whole chain synchronously', () => {
  const chain = createInboundChain({ own: service({ requestAuthentication: [{ name: 'default/jwt', jwtRules: [jwtRule] }], authorization: [{ name: 'default/need-jwt', action: 'ALLOW', rules: [{ from: [{ requestPrincipals: ['*'] }] }] }] }), defaultDeny: false, jwks: new JwksCache({ clock: new ManualClock() }) })!;
  const bad = runInboundFilters(chain, createInboundRequest('GET', '/', '/', { authorization: 'Bearer x.y' }, undefined, 8080));
  assert.ok(bad && !(bad instanceof Promise));
  assert.equal(bad.reason, 'jwt-invalid');
  const missing = runInboundFilters(chain, createInboundRequest('GET', '/', '/', {}, undefined, 8080));
  assert.ok(missing && !(missing instanceof Promise));
  assert.equal(missing.reason, 'authz-denied', 'no token: no request principal, so the ALLOW rule does not match');
});

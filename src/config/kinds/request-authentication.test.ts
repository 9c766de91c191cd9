// RequestAuthentication validation: defaults (Authorization: Bearer, no params, token stripped),
// inline JWKS checked as public keys node:crypto can load, and every wrong field named by its path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { requestAuthenticationType } from './request-authentication.ts';

const target = [{ kind: 'Service', name: 'orders' }];
const ecPublic = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
const edPair = generateKeyPairSync('ed25519');

function errorPaths(raw: unknown): string[] {
  const r = requestAuthenticationType.validateSpec(raw, 'spec');
  return r.ok ? [] : r.errors.map((e) => e.path);
}

test('a rule with a jwksUri gets the defaults: Authorization Bearer, no params, no claim headers, token not forwarded', () => {
  const r = requestAuthenticationType.validateSpec({ targetRefs: target, jwtRules: [{ issuer: 'https://issuer.example', jwksUri: 'https://issuer.example/.well-known/jwks.json' }] }, 'spec');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.value.jwtRules[0], {
    issuer: 'https://issuer.example',
    audiences: [],
    jwksUri: 'https://issuer.example/.well-known/jwks.json',
    fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }],
    fromParams: [],
    outputClaimToHeaders: [],
    forwardOriginalToken: false,
  });
});

test('inline jwks as a JSON string (as Istio writes it) or an object; every field kept, header names lower-cased', () => {
  const spec = {
    targetRefs: target,
    jwtRules: [{
      issuer: 'issuer-a',
      audiences: ['orders', 'shop'],
      jwks: JSON.stringify({ keys: [{ ...ecPublic, kid: 'k1', alg: 'ES256' }] }),
      fromHeaders: [{ name: 'X-Jwt-Assertion' }, { name: 'Authorization', prefix: 'Bearer ' }],
      fromParams: ['access_token'],
      outputClaimToHeaders: [{ header: 'X-User', claim: 'sub' }, { header: 'x-org', claim: 'org.name' }],
      forwardOriginalToken: true,
    }, {
      issuer: 'issuer-b',
      jwks: { keys: [edPair.publicKey.export({ format: 'jwk' })] },
    }],
  };
  const r = requestAuthenticationType.validateSpec(spec, 'spec');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const [a, b] = r.value.jwtRules;
  assert.deepEqual(a!.jwks, { keys: [{ ...ecPublic, kid: 'k1', alg: 'ES256' }] });
  assert.deepEqual(a!.fromHeaders, [{ name: 'x-jwt-assertion' }, { name: 'authorization', prefix: 'Bearer ' }]);
  assert.deepEqual(a!.outputClaimToHeaders, [{ header: 'x-user', claim: 'sub' }, { header: 'x-org', claim: 'org.name' }]);
  assert.equal(a!.forwardOriginalToken, true);
  assert.equal(b!.jwks?.keys[0]?.kty, 'OKP');
  const again = requestAuthenticationType.validateSpec(r.value, 'spec');
  assert.ok(again.ok, 'the proxy re-reads what the API stored');
  assert.deepEqual(again.value, r.value);
});

const rule = (extra: Record<string, unknown>) => ({ targetRefs: target, jwtRules: [{ issuer: 'i', jwksUri: 'https://i.example/jwks', ...extra }] });
const privateJwk = edPair.privateKey.export({ format: 'jwk' });

for (const [why, spec, paths] of [
  ['no targetRefs', { jwtRules: [{ issuer: 'i', jwksUri: 'https://i.example/k' }] }, ['spec.targetRefs']],
  ['no jwtRules', { targetRefs: target }, ['spec.jwtRules']],
  ['unknown spec field (Istio selector)', { targetRefs: target, selector: {}, jwtRules: [{ issuer: 'i', jwksUri: 'https://i.example/k' }] }, ['spec.selector']],
  ['no issuer', { targetRefs: target, jwtRules: [{ jwksUri: 'https://i.example/k' }] }, ['spec.jwtRules[0].issuer']],
  ['neither jwksUri nor jwks', { targetRefs: target, jwtRules: [{ issuer: 'i' }] }, ['spec.jwtRules[0]']],
  ['both jwksUri and jwks', rule({ jwks: { keys: [ecPublic] } }), ['spec.jwtRules[0].jwks']],
  ['relative jwksUri', rule({ jwksUri: '/jwks.json' }), ['spec.jwtRules[0].jwksUri']],
  ['ftp jwksUri', rule({ jwksUri: 'ftp://i.example/jwks' }), ['spec.jwtRules[0].jwksUri']],
  ['credentials in jwksUri', rule({ jwksUri: 'https://user:secret@i.example/jwks' }), ['spec.jwtRules[0].jwksUri']],
  ['jwks not JSON', { targetRefs: target, jwtRules: [{ issuer: 'i', jwks: '{keys:' }] }, ['spec.jwtRules[0].jwks']],
  ['jwks without keys', { targetRefs: target, jwtRules: [{ issuer: 'i', jwks: { keys: [] } }] }, ['spec.jwtRules[0].jwks.keys']],
  ['jwks with a private key', { targetRefs: target, jwtRules: [{ issuer: 'i', jwks: { keys: [privateJwk] } }] }, ['spec.jwtRules[0].jwks.keys[0].d']],
  ['jwks with a symmetric key', { targetRefs: target, jwtRules: [{ issuer: 'i', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }] }, ['spec.jwtRules[0].jwks.keys[0].k']],
  ['jwks key that cannot load', { targetRefs: target, jwtRules: [{ issuer: 'i', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }] } }] }, ['spec.jwtRules[0].jwks.keys[0]']],
  ['jwks key of unknown type', { targetRefs: target, jwtRules: [{ issuer: 'i', jwks: { keys: [{ kty: 'XYZ' }] } }] }, ['spec.jwtRules[0].jwks.keys[0].kty']],
  ['duplicate issuer', { targetRefs: target, jwtRules: [{ issuer: 'i', jwksUri: 'https://i.example/k' }, { issuer: 'i', jwksUri: 'https://i.example/k2' }] }, ['spec.jwtRules[1].issuer']],
  ['bad header name', rule({ fromHeaders: [{ name: 'x y' }] }), ['spec.jwtRules[0].fromHeaders[0].name']],
  ['reserved header as a token location', rule({ fromHeaders: [{ name: 'Host' }] }), ['spec.jwtRules[0].fromHeaders[0].name']],
  ['empty fromHeaders', rule({ fromHeaders: [] }), ['spec.jwtRules[0].fromHeaders']],
  ['bad param name', rule({ fromParams: ['a&b'] }), ['spec.jwtRules[0].fromParams[0]']],
  ['claim header that forges the caller identity', rule({ outputClaimToHeaders: [{ header: 'x-forwarded-client-cert', claim: 'sub' }] }), ['spec.jwtRules[0].outputClaimToHeaders[0].header']],
  ['claim header that is the token header', rule({ outputClaimToHeaders: [{ header: 'Authorization', claim: 'sub' }] }), ['spec.jwtRules[0].outputClaimToHeaders[0].header']],
  ['claim header without a claim', rule({ outputClaimToHeaders: [{ header: 'x-user' }] }), ['spec.jwtRules[0].outputClaimToHeaders[0].claim']],
  ['forwardOriginalToken not a boolean', rule({ forwardOriginalToken: 'yes' }), ['spec.jwtRules[0].forwardOriginalToken']],
  ['unknown rule field', rule({ jwks_uri: 'x' }), ['spec.jwtRules[0].jwks_uri']],
  ['audiences not a list', rule({ audiences: 'orders' }), ['spec.jwtRules[0].audiences']],
] as const) {
  test(`rejects: ${why}`, () => assert.deepEqual(errorPaths(spec), paths));
}

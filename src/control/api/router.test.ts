import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from './router.ts';
import { isWeftError } from '../../lib/errors.ts';

const noop = (): void => {};

test('router: params are percent-decoded; a wrong method is told apart from no route', () => {
  const r = new Router().add('GET', '/v1/requests/:id', noop).add('GET', '/v1/health', noop);
  const m = r.match('GET', '/v1/requests/a%2Fb%20c');
  assert.ok(m && m !== 'method');
  assert.deepEqual(m.params, { id: 'a/b c' });
  assert.equal(r.match('POST', '/v1/requests/x'), 'method');
  assert.equal(r.match('GET', '/v1/nothing/x'), undefined);
});

test('router: a parameter that is not valid percent-encoding is 400 naming it, not "no route"', () => {
  const r = new Router().add('GET', '/v1/requests/:id', noop);
  for (const raw of ['%ZZ', '%FF', 'abc%', '%E2%82']) {
    assert.throws(
      () => r.match('GET', `/v1/requests/${raw}`),
      (err) => isWeftError(err) && err.status === 400 && err.code === 'WEFT_ERR_API_BAD_REQUEST' && err.details[0]?.path === 'id' && err.message.includes(raw),
      raw,
    );
  }
  // Only for the method the route serves (another finds no route), and a literal route still wins.
  assert.equal(r.match('DELETE', '/v1/requests/%ZZ'), undefined);
  const r2 = new Router().add('GET', '/v1/things/:name', noop).add('GET', '/v1/things/%ZZ', noop);
  const m = r2.match('GET', '/v1/things/%ZZ');
  assert.ok(m && m !== 'method');
});

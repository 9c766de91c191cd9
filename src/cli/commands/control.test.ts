// Unit tests for `weft control`'s own flag parsing: --cert-ttl in seconds or as a duration.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWeftError } from '../../lib/errors.ts';
import type { Parsed } from '../command.ts';
import { certTtlSeconds, kubernetesOptions } from './control.ts';

const parsed = (v?: string): Parsed => ({ values: { 'cert-ttl': v }, positionals: [], rest: [] });

test('--cert-ttl takes plain seconds or a duration in whole seconds', () => {
  assert.equal(certTtlSeconds(parsed()), undefined);
  assert.equal(certTtlSeconds(parsed('3600')), 3600);
  assert.equal(certTtlSeconds(parsed('90s')), 90);
  assert.equal(certTtlSeconds(parsed('30m')), 1800);
  assert.equal(certTtlSeconds(parsed('24h')), 86_400);
  assert.equal(certTtlSeconds(parsed('1h30m')), 5400);
  assert.equal(certTtlSeconds(parsed('2000ms')), 2);
  for (const bad of ['1.5h', '1500ms', '1d', '', '-5', 'soon']) {
    assert.throws(() => certTtlSeconds(parsed(bad)), (err) => isWeftError(err) && err.code === 'WEFT_ERR_CLI_USAGE' && err.status === 2, bad);
  }
});

test('--kubernetes takes --kubeconfig and a namespace list; the companions alone are a usage error', () => {
  const p = (values: Record<string, unknown>): Parsed => ({ values, positionals: [], rest: [] }) as Parsed;
  assert.equal(kubernetesOptions(p({})), undefined);
  assert.deepEqual(kubernetesOptions(p({ kubernetes: true })), {});
  assert.deepEqual(kubernetesOptions(p({ kubernetes: true, kubeconfig: '/k', 'kubernetes-namespaces': 'shop, default' })), { kubeconfig: '/k', namespaces: ['shop', 'default'] });
  for (const bad of [{ kubeconfig: '/k' }, { 'kubernetes-namespaces': 'a' }, { kubernetes: true, 'kubernetes-namespaces': 'Shop' }, { kubernetes: true, 'kubernetes-namespaces': ',' }]) {
    assert.throws(() => kubernetesOptions(p(bad)), (err) => isWeftError(err) && err.code === 'WEFT_ERR_CLI_USAGE' && err.status === 2, JSON.stringify(bad));
  }
});

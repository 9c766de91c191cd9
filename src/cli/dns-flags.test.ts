// Unit tests for `weft control --dns-listen/--dns-ttl` parsing: usage errors (exit 2) name the flag.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWeftError } from '../lib/errors.ts';
import type { Parsed } from './command.ts';
import { dnsFlags } from './dns-flags.ts';

const parsed = (listen?: string, ttl?: string): Parsed => ({ values: { 'dns-listen': listen, 'dns-ttl': ttl }, positionals: [], rest: [] });
const usage = (flag: string) => (err: unknown) => isWeftError(err) && err.code === 'WEFT_ERR_CLI_USAGE' && err.status === 2 && err.message.includes(flag);

test('--dns-listen takes IP:PORT (IPv6 in brackets); --dns-ttl seconds or a duration, 0 allowed', () => {
  assert.deepEqual(dnsFlags(parsed()), {});
  assert.deepEqual(dnsFlags(parsed('127.0.0.1:8600')), { dnsListen: { host: '127.0.0.1', port: 8600 }, dnsTtlSeconds: undefined });
  assert.deepEqual(dnsFlags(parsed('[::1]:53', '30s')), { dnsListen: { host: '::1', port: 53 }, dnsTtlSeconds: 30 });
  assert.deepEqual(dnsFlags(parsed('0.0.0.0:0', '0')), { dnsListen: { host: '0.0.0.0', port: 0 }, dnsTtlSeconds: 0 });
  for (const bad of ['localhost:53', '127.0.0.1', ':53', '127.0.0.1:70000', '::1:53']) assert.throws(() => dnsFlags(parsed(bad)), usage('--dns-listen'), bad);
  for (const bad of ['2h', '-1', 'soon', '1.5s']) assert.throws(() => dnsFlags(parsed('127.0.0.1:53', bad)), usage('--dns-ttl'), bad);
  assert.throws(() => dnsFlags(parsed(undefined, '5')), usage('--dns-ttl'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AnyRequest } from './forward.ts';
import { requestedUpgrade, upgradeAccepted } from './upgrade.ts';
import { H1ServerResponse } from '../transport/h1-server-message.ts';

// A response of the lean server (the only kind an upgrade can switch), on a socket never connected.
const leanResponse = (): H1ServerResponse =>
  new H1ServerResponse({ socket: new net.Socket(), requestDone: () => {}, responseDone: () => {}, closeAfterResponse: false, switchProtocols: () => Buffer.alloc(0) }, 'GET');

const request = (headers: Record<string, string>, minor = 1, major = 1): AnyRequest => ({ httpVersionMajor: major, httpVersionMinor: minor, headers, method: 'GET' }) as unknown as AnyRequest;

test('requestedUpgrade: Upgrade counts only when Connection names it; h2c is stripped; HTTP/1.0 and malformed lists are refused', () => {
  const res = leanResponse();
  assert.equal(requestedUpgrade(request({}), res), undefined);
  assert.equal(requestedUpgrade(request({ upgrade: 'websocket' }), res), undefined, 'not named by Connection: an ordinary request');
  assert.equal(requestedUpgrade(request({ connection: 'keep-alive, Upgrade', upgrade: 'websocket' }), res), 'websocket');
  assert.equal(requestedUpgrade(request({ connection: 'upgrade', upgrade: 'h2c' }), res), undefined, 'h2c alone: stripped');
  assert.equal(requestedUpgrade(request({ connection: 'upgrade', upgrade: 'H2C, websocket, foo/2' }), res), 'websocket, foo/2');
  assert.deepEqual(requestedUpgrade(request({ connection: 'upgrade', upgrade: 'websocket' }, 0), res), { refuse: 'Upgrade is not accepted on HTTP/1.0' });
  assert.equal(typeof requestedUpgrade(request({ connection: 'upgrade', upgrade: 'web socket' }), res), 'object');
  assert.equal(typeof requestedUpgrade(request({ connection: 'upgrade', upgrade: 'a/b/c' }), res), 'object');
  assert.equal(requestedUpgrade(request({ connection: 'upgrade', upgrade: 'websocket' }, 0, 2), res), undefined, 'HTTP/2 has no Upgrade');
});

test('upgradeAccepted: the 101 names only protocols the request offered', () => {
  assert.equal(upgradeAccepted('websocket', 'WebSocket'), true);
  assert.equal(upgradeAccepted('websocket, foo/2', 'foo/2'), true);
  assert.equal(upgradeAccepted('websocket', undefined), false);
  assert.equal(upgradeAccepted('websocket', ''), false);
  assert.equal(upgradeAccepted('websocket', 'h2c'), false);
  assert.equal(upgradeAccepted('websocket', 'websocket, h2c'), false);
});

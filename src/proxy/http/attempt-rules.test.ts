// Which peer-sidecar local replies prove that the peer's app never saw the request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptFailureOf, peerFailureKind } from './attempt-rules.ts';

test('a peer sidecar that could not reach its app, or shed the request, is told apart from the app\'s own answers', () => {
  assert.equal(peerFailureKind(503, 'upstream-connect-failure'), 'peer-app-unreachable');
  assert.equal(peerFailureKind(502, 'upstream-reset'), 'peer-app-reset');
  assert.equal(peerFailureKind(503, 'concurrency-limit-exceeded'), 'peer-shed');
  // The app's own 503 (no reason), and a reason on another status, are answers.
  assert.equal(peerFailureKind(503, undefined), undefined);
  assert.equal(peerFailureKind(429, 'concurrency-limit-exceeded'), undefined);
});

test('the balancer sees a shed request as an answer (a load signal), never as a gateway error', () => {
  assert.equal(attemptFailureOf('peer-shed'), undefined);
  assert.equal(attemptFailureOf('peer-app-unreachable'), 'connect');
  assert.equal(attemptFailureOf('per-try-timeout'), 'timeout');
  assert.equal(attemptFailureOf('reset-before-response'), 'reset');
});

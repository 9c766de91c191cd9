// A compiled policy: the global key's parts, and what happens when Redis cannot answer (a port
// nothing listens on: ioredis refuses at once, no offline queue) under each failureMode.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ManualClock } from '../../../lib/clock.ts';
import { Registry } from '../../../lib/metrics.ts';
import type { RateLimitSnapshot } from '../../../config/snapshot-types.ts';
import { createPolicyLimiter, globalKey, type PolicyLimiter } from './policy-limiter.ts';

test('the global key: one per policy, or one per descriptor values; a missing header counts nothing', () => {
  assert.equal(globalKey('default/rl', undefined)('spiffe://x', {}), 'weft:ratelimit:{default/rl}');
  const k = globalKey('default/rl', [{ source: 'identity' }, { source: 'header', header: 'x-tenant' }]);
  assert.equal(k('spiffe://weft.local/ns/default/svc/web', { 'x-tenant': 'a:b' }), 'weft:ratelimit:{default/rl}:spiffe%3A%2F%2Fweft.local%2Fns%2Fdefault%2Fsvc%2Fweb:a%3Ab');
  assert.equal(k(undefined, { 'x-tenant': 'acme' }), 'weft:ratelimit:{default/rl}:unauthenticated:acme');
  assert.equal(k('spiffe://x', {}), undefined);
});

/** A port that refuses connections: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function metrics() {
  const r = new Registry();
  return {
    limited: r.counter('l', 'l', ['policy', 'direction', 'scope']),
    redisErrors: r.counter('e', 'e', ['policy']),
    checkSeconds: r.histogram('h', 'h', []),
    render: () => r.render(),
  };
}

async function run(l: PolicyLimiter, n: number): Promise<{ admitted: number; statuses: number[] }> {
  let admitted = 0;
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = await l.check(undefined, {});
    if (d === undefined) admitted++;
    else statuses.push(d.status);
  }
  return { admitted, statuses };
}

test('Redis unreachable: open admits, closed refuses with 503; with a fallback, its bucket decides', async (t) => {
  const address = `127.0.0.1:${await deadPort()}`;
  const clock = new ManualClock();
  const m = metrics();
  const policy = (extra: object): RateLimitSnapshot => ({ name: 'default/rl', direction: 'inbound', global: { redis: { address }, requestsPerSecond: 1, burst: 1, algorithm: 'gcra', failureMode: 'open', ...extra } });
  const open = createPolicyLimiter(policy({}), clock, m);
  const closed = createPolicyLimiter(policy({ failureMode: 'closed' }), clock, m);
  const fallback = createPolicyLimiter(policy({ failureMode: 'closed', fallbackLocalRequestsPerSecond: 2 }), clock, m);
  t.after(() => [open, closed, fallback].forEach((l) => l.close()));

  assert.deepEqual(await run(open, 5), { admitted: 5, statuses: [] });
  const c = await run(closed, 3);
  assert.deepEqual(c, { admitted: 0, statuses: [503, 503, 503] });
  const d = await closed.check(undefined, {});
  assert.equal(d?.headers['retry-after'], '1');
  assert.match(d!.message, /failureMode is closed/);
  // The fallback bucket: 2 per second, burst 2.
  assert.deepEqual(await run(fallback, 4), { admitted: 2, statuses: [429, 429] });
  clock.advance(500);
  assert.deepEqual(await run(fallback, 2), { admitted: 1, statuses: [429] });
  const text = m.render();
  assert.match(text, /e\{policy="default\/rl"\} 15/);
  assert.match(text, /l\{policy="default\/rl",direction="inbound",scope="global"\} 7/);
});

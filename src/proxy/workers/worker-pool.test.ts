import { test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { WorkerPool } from './worker-pool.ts';
import { createLogger } from '../../lib/log.ts';
import { WEFT_VERSION } from '../../config/version.ts';

const node = { id: 'pool-test', service: 'pool-test', namespace: 'default', labels: {}, upstreams: [], weftVersion: WEFT_VERSION };
const options = (outboundPort: number, reusePort: boolean) => ({ node, proxyId: 'pool-test', bindHost: '127.0.0.1', outboundPort, appHost: '127.0.0.1', reusePort });
const log = createLogger('test');

test('workers start, answer for their metrics and close', async () => {
  const pool = await WorkerPool.start(2, options(0, true), log);
  try {
    assert.equal(pool.size, 2);
    pool.apply({ version: '1', hash: 'h', outboundTrafficPolicy: 'ALLOW_ANY', services: [] });
    const dumps = await pool.metrics();
    assert.equal(dumps.length, 2);
    for (const d of dumps) assert.ok('weft_proxy_requests_total' in d, 'a dump carries the proxy metrics by name');
    await pool.close();
  } finally {
    pool.destroy();
  }
});

test('a worker that cannot listen fails the start with the reason', async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  try {
    const port = (taken.address() as AddressInfo).port;
    await assert.rejects(WorkerPool.start(1, options(port, false), log), /data-plane worker 1 failed to start: .*EADDRINUSE/);
  } finally {
    taken.close();
  }
});

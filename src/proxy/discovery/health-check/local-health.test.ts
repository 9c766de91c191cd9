import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import { createLogger } from '../../../lib/log.ts';
import { Registry } from '../../../lib/metrics.ts';
import type { ProbeResult } from '../../../lib/health-probe/probe.ts';
import type { ReportedCheck } from '../../../config/health-check.ts';
import type { HealthCheckSpec } from '../../../config/catalog-types.ts';
import { startLocalHealth } from './local-health.ts';

const quiet = createLogger('test', () => {});
const settle = () => new Promise((r) => setImmediate(r));
const OK: ProbeResult = { ok: true, outcome: 'success', reason: 'passing' };
const check = (type: HealthCheckSpec['type']): HealthCheckSpec => ({ type, intervalMs: 1_000, timeoutMs: 500, unhealthyThreshold: 2, healthyThreshold: 1, checkedBy: 'sidecar' });

test('reports go up on transitions only, with every check; metrics count probes and show the state', async () => {
  const clock = new ManualClock();
  const registry = new Registry();
  const metrics = { results: registry.counter('weft_proxy_health_checks_total', 'h', ['result']), state: registry.gauge('weft_proxy_app_health_state', 'h', ['state']) };
  const answers: Record<string, ProbeResult> = { http: OK, grpc: OK };
  const sent: (readonly ReportedCheck[])[] = [];
  let streamUp = false;
  const health = startLocalHealth({
    checks: [check('http'), check('grpc')],
    send: (checks) => (streamUp ? (sent.push(checks), true) : false),
    log: quiet,
    metrics,
    clock,
    random: () => 0,
    createProbe: (c) => ({ run: async () => answers[c.type], close() {} }),
  });
  await settle();
  assert.equal(health.status(), 'passing');
  assert.equal(metrics.state.get({ state: 'passing' }), 1);
  assert.equal(sent.length, 0, 'the stream was down: nothing sent, nothing queued');
  streamUp = true;
  health.resend(); // what the stream's onConnect does
  assert.deepEqual(sent.at(-1), [{ status: 'passing', output: 'passing' }, { status: 'passing', output: 'passing' }]);

  answers.grpc = { ok: false, outcome: 'timeout', reason: 'grpc check timed out' };
  for (let i = 0; i < 3; i++) {
    clock.advance(1_000);
    await settle();
  }
  assert.equal(sent.length, 2, 'one report for the one transition, not one per probe');
  assert.deepEqual(sent.at(-1), [{ status: 'passing', output: 'passing' }, { status: 'critical', output: 'grpc check timed out' }]);
  assert.equal(health.status(), 'critical');
  assert.equal(metrics.state.get({ state: 'critical' }), 1);
  assert.equal(metrics.state.get({ state: 'passing' }), 0);
  assert.equal(metrics.results.get({ result: 'timeout' }), 3);
  assert.equal(metrics.results.get({ result: 'success' }), 5);
  health.stop();
  clock.advance(5_000);
  await settle();
  assert.equal(metrics.results.get({ result: 'success' }), 5, 'no probes after stop');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../lib/clock.ts';
import type { Probe, ProbeResult } from '../../../lib/health-probe/probe.ts';
import { seededRandom } from '../../balance/fixtures.ts';
import { nextDelayMs, nextState, PENDING, startChecker, type CheckState } from './checker.ts';
import type { HealthCheckSpec } from '../../../config/catalog-types.ts';

const OK: ProbeResult = { ok: true, outcome: 'success', reason: 'passing' };
const BAD: ProbeResult = { ok: false, outcome: 'failure', reason: 'http check /healthz answered 503' };
const settle = () => new Promise((r) => setImmediate(r));

function spec(over: Partial<HealthCheckSpec> = {}): HealthCheckSpec {
  return { type: 'http', path: '/healthz', intervalMs: 1_000, timeoutMs: 500, unhealthyThreshold: 3, healthyThreshold: 2, checkedBy: 'sidecar', ...over };
}

test('the first probe decides at once; later flips need the threshold in a row', () => {
  const check = spec();
  let s: CheckState = nextState(PENDING, BAD, check);
  assert.equal(s.status, 'critical', 'a first failure marks it critical without waiting for the threshold');
  s = nextState(PENDING, OK, check);
  assert.equal(s.status, 'passing');
  // Two failures, a success (resets the count), then three failures.
  for (const [r, want] of [[BAD, 'passing'], [BAD, 'passing'], [OK, 'passing'], [BAD, 'passing'], [BAD, 'passing'], [BAD, 'critical']] as const) {
    s = nextState(s, r, check);
    assert.equal(s.status, want);
  }
  assert.equal(s.output, BAD.reason);
  // Back to passing after healthyThreshold (2) successes in a row.
  s = nextState(s, OK, check);
  assert.equal(s.status, 'critical');
  s = nextState(s, BAD, check);
  s = nextState(s, OK, check);
  assert.equal(s.status, 'critical', 'a failure in between restarts the count');
  s = nextState(s, OK, check);
  assert.equal(s.status, 'passing');
  assert.equal(s.output, 'passing');
});

test('the interval jitter stays within its bounds and spreads the waits', () => {
  const random = seededRandom(7);
  const both = spec({ intervalMs: 1_000, intervalJitterMs: 200, intervalJitterPercent: 10 });
  const seen = Array.from({ length: 2_000 }, () => nextDelayMs(both, random));
  assert.ok(Math.min(...seen) >= 1_000 && Math.max(...seen) <= 1_300, `within [1000, 1300]: ${Math.min(...seen)}..${Math.max(...seen)}`);
  assert.ok(Math.max(...seen) - Math.min(...seen) > 250, 'the jitter is used, not a constant');
  const percentOnly = Array.from({ length: 2_000 }, () => nextDelayMs(spec({ intervalMs: 2_000, intervalJitterPercent: 50 }), random));
  assert.ok(Math.min(...percentOnly) >= 2_000 && Math.max(...percentOnly) <= 3_000);
  assert.ok(percentOnly.some((d) => d > 2_800) && percentOnly.some((d) => d < 2_200), 'spread over the whole range');
  assert.equal(nextDelayMs(spec({ intervalMs: 1_500 }), random), 1_500, 'no jitter: exactly the interval');
});

/** A probe answering from a script of results, counting runs. */
function scripted(results: ProbeResult[]): Probe & { runs: number; closed: boolean } {
  const p = {
    runs: 0,
    closed: false,
    async run() {
      return results[Math.min(p.runs++, results.length - 1)];
    },
    close() {
      p.closed = true;
    },
  };
  return p;
}

test('a checker probes every interval plus jitter and reports transitions only', async () => {
  const clock = new ManualClock();
  // pass, pass, fail×3 (critical on the 3rd), fail, pass×2 (passing on the 2nd)
  const probe = scripted([OK, OK, BAD, BAD, BAD, BAD, OK, OK]);
  const transitions: string[] = [];
  let probes = 0;
  const checker = startChecker({ check: spec({ intervalJitterMs: 100 }), probe, clock, random: seededRandom(3), onProbe: () => probes++, onTransition: (s) => transitions.push(s.status) });
  await settle();
  assert.equal(probe.runs, 1, 'the first probe runs at once');
  assert.equal(checker.state().status, 'passing');
  // The next probe is due within [1000, 1100] ms of the last one's end.
  clock.advance(999);
  await settle();
  assert.equal(probe.runs, 1, 'not before the interval');
  for (let i = 0; i < 7; i++) {
    clock.advance(1_100 - (i === 0 ? 999 : 0));
    await settle();
  }
  assert.equal(probe.runs, 8);
  assert.equal(probes, 8);
  assert.deepEqual(transitions, ['passing', 'critical', 'passing'], 'one report per transition, not per probe');
  checker.stop();
  assert.ok(probe.closed);
  clock.advance(10_000);
  await settle();
  assert.equal(probe.runs, 8, 'no probe after stop');
});

test('a probe that throws counts as a failure', async () => {
  const clock = new ManualClock();
  const probe: Probe = { run: () => Promise.reject(new Error('boom')), close() {} };
  const seen: CheckState[] = [];
  const checker = startChecker({ check: spec(), probe, clock, onTransition: (s) => seen.push(s) });
  await settle();
  assert.equal(seen[0]?.status, 'critical');
  assert.match(seen[0].output, /boom/);
  checker.stop();
});

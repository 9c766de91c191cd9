// The sidecar's checks of its own app (issue 13 item 6): one checker per registered check, their
// transitions reported up the config stream as a `health` message (every check's state, never per
// probe), and the results counted in the proxy's metrics. The control plane does not probe them.

import type { HealthCheckSpec } from '../../../config/catalog-types.ts';
import { SIDECAR_CHECK_USER_AGENT, type ReportedCheck } from '../../../config/health-check.ts';
import { systemClock, type Clock } from '../../../lib/clock.ts';
import type { Logger } from '../../../lib/log.ts';
import type { Counter, Gauge } from '../../../lib/metrics.ts';
import { createProbe, type Probe } from '../../../lib/health-probe/probe.ts';
import { startChecker, type Checker, type CheckState, type CheckStatus } from './checker.ts';

export interface LocalHealthOptions {
  /** The checks to run, each with its `host` and `port` filled (the app's). */
  readonly checks: readonly HealthCheckSpec[];
  /** Sends a report up the stream; false when the stream is down (the next connect resends). */
  readonly send: (checks: readonly ReportedCheck[]) => boolean;
  readonly log: Logger;
  /** `weft_proxy_health_checks_total{result}` and `weft_proxy_app_health_state{state}`. */
  readonly metrics: { readonly results: Counter; readonly state: Gauge };
  readonly clock?: Clock;
  readonly random?: () => number;
  /** For tests: the probe of each check (default: by its type, lib/health-probe). */
  readonly createProbe?: (check: HealthCheckSpec) => Probe;
}

export interface LocalHealth {
  /** Every check's state as the control plane is told it. */
  report(): ReportedCheck[];
  /** The app's overall state: critical if any check is, pending until every check has a result. */
  status(): CheckStatus;
  /** Sends the full report again: after the stream (re)connects and after each registration. */
  resend(): void;
  stop(): void;
}

const STATES: readonly CheckStatus[] = ['pending', 'passing', 'critical'];

export function startLocalHealth(options: LocalHealthOptions): LocalHealth {
  const { log, metrics } = options;
  const clock = options.clock ?? systemClock;
  const checkers: Checker[] = [];
  let stopped = false;

  const report = (): ReportedCheck[] =>
    checkers.map((c) => {
      const s = c.state();
      // A pending check counts as passing in the catalog too: the instance registered only once its app accepted connections.
      return { status: s.status === 'critical' ? 'critical' : 'passing', output: s.output };
    });
  const status = (): CheckStatus => {
    const states = checkers.map((c) => c.state().status);
    return states.includes('critical') ? 'critical' : states.includes('pending') ? 'pending' : 'passing';
  };
  const publishState = (): void => {
    const now = status();
    for (const s of STATES) metrics.state.set({ state: s }, s === now ? 1 : 0);
  };
  const resend = (): void => {
    if (!stopped && checkers.length > 0) options.send(report());
  };

  publishState();
  options.checks.forEach((check, i) => {
    const probe = options.createProbe ? options.createProbe(check) : createProbe(check, { host: check.host ?? '127.0.0.1', port: check.port ?? 0, userAgent: SIDECAR_CHECK_USER_AGENT });
    const checker = startChecker({
      check,
      probe,
      clock,
      random: options.random,
      onProbe: (result) => metrics.results.inc({ result: result.outcome }),
      onTransition: (state: CheckState) => {
        const level = state.status === 'critical' ? 'warn' : 'info';
        log[level]('app health check changed', { check: i, type: check.type, status: state.status, output: state.output });
        publishState();
        resend();
      },
    });
    checkers.push(checker);
  });

  return {
    report,
    status,
    resend,
    stop() {
      stopped = true;
      for (const c of checkers) c.stop();
    },
  };
}

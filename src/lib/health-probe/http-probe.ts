// HTTP health probe (Envoy's http_health_check): GET `path` with an optional Host header; healthy
// when the status is in `expectedStatuses` (default 200–399). Keeps one connection alive between
// probes, as Envoy does (reuse_connection), so a check costs no handshake each interval.

import type { Agent } from 'node:http';
import { http } from '../node-http.ts';
import type { HealthCheckSpec } from '../../config/catalog-types.ts';
import { statusExpected } from '../../config/health-check.ts';
import { PASSING, type Probe, type ProbeResult, type ProbeTarget } from './probe.ts';

/** A probe that GETs `check.path` once per run; the body is read and dropped. */
export function createHttpProbe(check: HealthCheckSpec, target: ProbeTarget): Probe {
  const agent: Agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const path = check.path ?? '/';
  const headers: Record<string, string> = { 'user-agent': target.userAgent };
  if (check.hostHeader) headers.host = check.hostHeader;
  return {
    run: () =>
      new Promise<ProbeResult>((resolve) => {
        let settled = false;
        const done = (r: ProbeResult): void => {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            resolve(r);
          }
        };
        const req = http.get({ host: target.host, port: target.port, path, agent, headers }, (res) => {
          const status = res.statusCode ?? 0;
          // Healthy or not, the answer is read to its end so the kept connection can serve the next probe.
          res.resume();
          res.on('end', () => done(statusExpected(check.expectedStatuses, status) ? PASSING : { ok: false, outcome: 'failure', reason: `http check ${path} answered ${status}` }));
          res.on('error', (err) => done({ ok: false, outcome: 'network_failure', reason: `http check ${path} failed: ${err.message}` }));
        });
        // The whole exchange, not just idle time, must fit in the timeout.
        const timer = setTimeout(() => {
          done({ ok: false, outcome: 'timeout', reason: `http check ${path} timed out after ${check.timeoutMs}ms` });
          req.destroy();
        }, check.timeoutMs);
        req.on('error', (err) => done({ ok: false, outcome: 'network_failure', reason: `http check ${path} failed: ${err.message}` }));
      }),
    close() {
      agent.destroy();
    },
  };
}

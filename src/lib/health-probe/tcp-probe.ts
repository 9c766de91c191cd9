// TCP health probe: healthy when a connection to the target opens within the timeout (Envoy's
// tcp_health_check with no payload). The connection is closed at once.

import net from 'node:net';
import type { HealthCheckSpec } from '../../config/catalog-types.ts';
import { PASSING, type Probe, type ProbeResult, type ProbeTarget } from './probe.ts';

/** A probe that opens (and closes) one TCP connection per run; `check.timeoutMs` bounds the connect. */
export function createTcpProbe(check: HealthCheckSpec, target: ProbeTarget): Probe {
  return {
    run: () =>
      new Promise<ProbeResult>((resolve) => {
        const socket = net.connect({ host: target.host, port: target.port });
        socket.setTimeout(check.timeoutMs, () => {
          socket.destroy();
          resolve({ ok: false, outcome: 'timeout', reason: `tcp check ${target.host}:${target.port} timed out after ${check.timeoutMs}ms` });
        });
        socket.once('connect', () => {
          socket.destroy();
          resolve(PASSING);
        });
        socket.once('error', (err) => resolve({ ok: false, outcome: 'network_failure', reason: `tcp check ${target.host}:${target.port} failed: ${err.message}` }));
      }),
    close() {},
  };
}

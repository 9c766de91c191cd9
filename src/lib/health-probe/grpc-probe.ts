// gRPC health probe: the gRPC Health Checking Protocol (grpc/grpc doc/health-checking.md), one
// unary grpc.health.v1.Health/Check over h2c to the app, healthy when it answers SERVING. Uses
// @grpc/grpc-js with the Health service definition grpc-health-check ships (the gRPC project's own
// packages; no hand-rolled protobuf or HTTP/2 framing), loaded only when a gRPC check exists: a
// sidecar without one does not pay for http2 and protobufjs.

import type { HealthCheckSpec } from '../../config/catalog-types.ts';
import { PASSING, type Probe, type ProbeResult, type ProbeTarget } from './probe.ts';

interface CheckResponse {
  readonly status?: string;
}
type CheckCallback = (err: (Error & { code?: number; details?: string }) | null, res?: CheckResponse) => void;
interface HealthClient {
  Check(req: { service: string }, options: { deadline: Date }, cb: CheckCallback): unknown;
  close(): void;
}

// gRPC status codes (grpc/grpc doc/statuscodes.md) that say "no answer" rather than "an unhealthy answer".
const DEADLINE_EXCEEDED = 4;
const UNAVAILABLE = 14;

/**
 * A probe holding one gRPC channel to the target (reconnecting on its own, with backoff capped at
 * the check's interval so a recovered app is seen at the next probe). Each run sends
 * HealthCheckRequest{service: check.serviceName} with a deadline of timeoutMs.
 */
export function createGrpcProbe(check: HealthCheckSpec, target: ProbeTarget): Probe {
  const serviceName = check.serviceName ?? '';
  const what = `grpc check${serviceName ? ` of ${serviceName}` : ''}`;
  let client: Promise<HealthClient> | undefined;
  let closed = false;
  const connect = async (): Promise<HealthClient> => {
    const grpc = await import('@grpc/grpc-js');
    const { service } = await import('grpc-health-check');
    const Client = grpc.makeGenericClientConstructor(service as unknown as Parameters<typeof grpc.makeGenericClientConstructor>[0], 'Health');
    const c = new Client(`${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`, grpc.credentials.createInsecure(), {
      'grpc.primary_user_agent': target.userAgent,
      'grpc.initial_reconnect_backoff_ms': Math.min(200, check.intervalMs),
      'grpc.max_reconnect_backoff_ms': Math.max(200, Math.min(check.intervalMs, 5_000)),
    }) as unknown as HealthClient;
    if (closed) c.close();
    return c;
  };
  return {
    async run(): Promise<ProbeResult> {
      let c: HealthClient;
      try {
        c = await (client ??= connect());
      } catch (err) {
        client = undefined;
        return { ok: false, outcome: 'network_failure', reason: `${what} could not start a gRPC client: ${(err as Error).message}` };
      }
      return new Promise<ProbeResult>((resolve) => {
        c.Check({ service: serviceName }, { deadline: new Date(Date.now() + check.timeoutMs) }, (err, res) => {
          if (err) {
            const outcome = err.code === DEADLINE_EXCEEDED ? 'timeout' : err.code === UNAVAILABLE ? 'network_failure' : 'failure';
            resolve({ ok: false, outcome, reason: `${what} failed: ${err.message}` });
          } else if (res?.status === 'SERVING') resolve(PASSING);
          else resolve({ ok: false, outcome: 'failure', reason: `${what} answered ${res?.status ?? 'nothing'}` });
        });
      });
    },
    close() {
      closed = true;
      void client?.then((c) => c.close(), () => {});
    },
  };
}

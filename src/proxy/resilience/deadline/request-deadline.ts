// A request's deadline as one hop keeps it: read once where the request arrives (deadline.ts parses
// the fields), enforced by the request's own timer (http/request-timer.ts), and written, decremented,
// on each attempt it sends on. The fields live on the request (forward.ts Forwarding): no object per request.

import type { OutgoingHttpHeaders } from 'node:http';
import { DEADLINE_HEADER, GRPC_TIMEOUT_HEADER, deadlineTimes, formatDeadline, formatGrpcTimeout, isGrpcRequest, readDeadline, timeLeft } from './deadline.ts';

/** The fields a request keeps (performance.now() times). */
export interface DeadlineFields {
  /** When the deadline the request carried passes; Infinity: none. */
  deadlineAt: number;
  /** What the upstream request is told (the deadline, or sooner when this hop's request timeout ends first); Infinity: nothing is sent. */
  sendDeadlineAt: number;
  /** A malformed x-weft-deadline, answered 400 before the pick. */
  deadlineError: string | undefined;
  /** A gRPC call: its deadline goes on in grpc-timeout too, and expires as grpc-status 4. */
  grpc: boolean;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Reads the request's deadline fields (x-weft-deadline, grpc-timeout), once, at arrival: two
 * property reads for a request without a deadline, parsing only when one is there. This hop's own
 * request timeout (`requestMs`, 0: none) shortens what the next hop is told; it does not start a
 * deadline of its own (docs/concepts/overload.md, "Deadlines").
 */
export function readRequestDeadline(d: DeadlineFields, headers: Headers, arrivedAt: number, requestMs: number): void {
  const weft = headers[DEADLINE_HEADER];
  const grpcTimeout = headers[GRPC_TIMEOUT_HEADER];
  if (weft === undefined && grpcTimeout === undefined) return;
  const grpc = (d.grpc = isGrpcRequest(headers['content-type']));
  const r = readDeadline(weft, grpcTimeout, grpc);
  if (r.kind === 'invalid') d.deadlineError = r.message;
  if (r.kind !== 'deadline') return;
  const times = deadlineTimes(arrivedAt, r.ms, requestMs);
  d.deadlineAt = times.at;
  d.sendDeadlineAt = times.sendAt;
}

/**
 * This hop's extra request fields for an attempt sent now: `add` as is without a deadline, else a
 * copy with the time left (x-weft-deadline, and grpc-timeout for a gRPC call).
 */
export function withDeadline(d: DeadlineFields, add: OutgoingHttpHeaders | undefined): OutgoingHttpHeaders | undefined {
  if (d.sendDeadlineAt === Infinity) return add;
  const left = timeLeft(d.sendDeadlineAt, performance.now());
  const extra: OutgoingHttpHeaders = { ...add, [DEADLINE_HEADER]: formatDeadline(left) };
  if (d.grpc) extra[GRPC_TIMEOUT_HEADER] = formatGrpcTimeout(left);
  return extra;
}

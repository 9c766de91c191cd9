// A request's deadline as it travels: read from `x-weft-deadline` (remaining milliseconds) and gRPC's
// `grpc-timeout` where a request arrives at a sidecar, and written, decremented, on the request it
// sends on (request-deadline.ts keeps it per request). Parsing here; the timer is the request's own (http/request-timer.ts).

/** weft's deadline field: the time the request has left, in whole milliseconds, as decimal digits. */
export const DEADLINE_HEADER = 'x-weft-deadline';
/** gRPC's (PROTOCOL-HTTP2.md): TimeoutValue (1–8 digits) then TimeoutUnit (H M S m u n). */
export const GRPC_TIMEOUT_HEADER = 'grpc-timeout';
/** The largest value either field may carry: 8 digits, as grpc-timeout allows (about 27.8 hours in ms). */
export const MAX_DEADLINE_VALUE = 99_999_999;

const DIGITS = /^[0-9]{1,8}$/;

/** Milliseconds per grpc-timeout unit (PROTOCOL-HTTP2.md: Hour, Minute, Second, Millisecond, Microsecond, Nanosecond). */
const GRPC_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };

/**
 * `x-weft-deadline`: remaining milliseconds, 1–8 decimal digits (0: already expired). Remaining
 * time rather than an absolute instant, so the clocks of two hosts never need to agree.
 * Returns the milliseconds, or undefined when the value is malformed (several values, a sign,
 * a fraction, more than 8 digits, anything else).
 */
export function parseDeadline(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  return DIGITS.test(v) ? Number(v) : undefined;
}

/**
 * `grpc-timeout` → milliseconds (fractional for u and n). Undefined when malformed: gRPC's grammar
 * only, no spaces inside, no sign (Envoy ignores such a value, and so does weft).
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (v.length < 2) return undefined;
  const perUnit = GRPC_UNIT_MS[v[v.length - 1]];
  const digits = v.slice(0, -1);
  if (perUnit === undefined || !DIGITS.test(digits)) return undefined;
  return Number(digits) * perUnit;
}

/** Remaining milliseconds as `x-weft-deadline` carries them: rounded down (never promise more time than is left), within range. */
export function formatDeadline(remainingMs: number): string {
  return String(Math.min(MAX_DEADLINE_VALUE, Math.max(0, Math.floor(remainingMs))));
}

/**
 * Remaining milliseconds as a `grpc-timeout`: whole milliseconds (`m`) rounded down while they fit 8
 * digits, else whole seconds (`S`), hours beyond that; below 1 ms, microseconds (`u`).
 */
export function formatGrpcTimeout(remainingMs: number): string {
  const ms = Math.max(0, remainingMs);
  if (ms < 1) return `${Math.floor(ms * 1000)}u`;
  if (ms <= MAX_DEADLINE_VALUE) return `${Math.floor(ms)}m`;
  const s = Math.floor(ms / 1000);
  if (s <= MAX_DEADLINE_VALUE) return `${s}S`;
  return `${Math.min(MAX_DEADLINE_VALUE, Math.floor(ms / 3_600_000))}H`;
}

/** A gRPC call: content-type application/grpc, optionally +proto, +json … (PROTOCOL-HTTP2.md). */
export function isGrpcRequest(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

/** What a request's headers say about its deadline. */
export type DeadlineRead =
  | { readonly kind: 'none' }
  /** `ms`: the smaller of the two fields that parsed; `from`: which one it was. */
  | { readonly kind: 'deadline'; readonly ms: number; readonly from: typeof DEADLINE_HEADER | typeof GRPC_TIMEOUT_HEADER }
  /** `x-weft-deadline` is present and malformed: weft's own field, so the request is refused (400) rather than run without the caller's bound. */
  | { readonly kind: 'invalid'; readonly message: string };

const NONE: DeadlineRead = { kind: 'none' };

/**
 * Reads a request's deadline: `x-weft-deadline`, and `grpc-timeout` for a gRPC call (`grpc`);
 * the smaller wins. A malformed grpc-timeout is ignored, as Envoy does; a malformed
 * x-weft-deadline is `invalid`.
 */
export function readDeadline(weft: string | string[] | undefined, grpcTimeout: string | string[] | undefined, grpc: boolean): DeadlineRead {
  let ms = Infinity;
  let from: typeof DEADLINE_HEADER | typeof GRPC_TIMEOUT_HEADER = DEADLINE_HEADER;
  if (weft !== undefined) {
    const d = parseDeadline(weft);
    if (d === undefined) return { kind: 'invalid', message: `${DEADLINE_HEADER} must be the remaining time in whole milliseconds (1 to 8 digits), got ${JSON.stringify(weft)}` };
    ms = d;
  }
  if (grpc && grpcTimeout !== undefined) {
    const g = parseGrpcTimeout(grpcTimeout);
    if (g !== undefined && g < ms) {
      ms = g;
      from = GRPC_TIMEOUT_HEADER;
    }
  }
  return ms === Infinity ? NONE : { kind: 'deadline', ms, from };
}

/**
 * A request's deadline on this hop's clock (performance.now() milliseconds): `at` when it expires,
 * counted from the request's arrival here (`arrivedAt`) plus the `ms` it carried; `sendAt` what the
 * next hop is told, the same or sooner when this hop's own total timeout (`ownRequestMs`, 0: none)
 * ends first. The own timeout shortens a carried deadline but never starts one.
 */
export function deadlineTimes(arrivedAt: number, ms: number, ownRequestMs: number): { readonly at: number; readonly sendAt: number } {
  const at = arrivedAt + ms;
  return { at, sendAt: ownRequestMs > 0 ? Math.min(at, arrivedAt + ownRequestMs) : at };
}

/** Milliseconds left before `sendAt` at `now` (never negative): what goes in the upstream request's fields. */
export function timeLeft(sendAt: number, now: number): number {
  return sendAt > now ? sendAt - now : 0;
}

// Trace context on the request path: what a request arrived with (W3C `traceparent`, else B3
// single or multi header) and what this hop sends on. Read once per request, only when a header is
// there; a malformed header is ignored (the request starts a new trace), never an error.

import { randomBytes } from 'node:crypto';

/** A trace context read from a request: 32 and 16 lower-case hex digits, and the sampled flag. */
export interface TraceContext {
  readonly traceId: string;
  /** The caller's span (this hop's span's parent). */
  readonly spanId: string;
  readonly sampled: boolean;
}

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';
/** B3 single header (openzipkin/b3-propagation): `{TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}`. */
export const B3 = 'b3';

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZERO32 = '00000000000000000000000000000000';
const ZERO16 = '0000000000000000';
const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * W3C Trace Context §3.2 (traceparent): `version-traceid-parentid-flags`. Version ff is invalid;
 * an all-zero trace or parent id is invalid; version 00 has exactly four fields, a later version
 * may append more (read as 00). Undefined when malformed.
 */
export function parseTraceparent(value: string | string[] | undefined): TraceContext | undefined {
  // Two traceparent fields cannot be told apart: the spec says to treat them as none.
  if (typeof value !== 'string' || value.length < 55 || value.length > 512) return undefined;
  const m = TRACEPARENT_RE.exec(value.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO32 || spanId === ZERO16) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** A 64-bit B3 trace id is left-padded to 128 bits, as the B3 spec says for interop with W3C. */
function b3TraceId(id: string): string | undefined {
  const lower = id.toLowerCase();
  if (HEX32.test(lower)) return lower === ZERO32 ? undefined : lower;
  if (HEX16.test(lower)) return lower === ZERO16 ? undefined : ZERO16 + lower;
  return undefined;
}

/** B3 sampling state: `1` or `d` (debug) sampled, `0` not; absent: undecided (sampled false here, the head decides). */
function b3Sampled(s: string | undefined): boolean | undefined {
  if (s === undefined) return undefined;
  if (s === '1' || s === 'd' || s === 'true') return true;
  if (s === '0' || s === 'false') return false;
  return undefined;
}

/**
 * B3 single header (`b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`). A lone sampling
 * state (`b3: 0`) carries no context: undefined. Undefined when malformed.
 */
export function parseB3Single(value: string | string[] | undefined): (TraceContext & { readonly decided: boolean }) | undefined {
  if (typeof value !== 'string' || value.length > 200) return undefined;
  const parts = value.trim().split('-');
  if (parts.length < 2 || parts.length > 4) return undefined;
  const traceId = b3TraceId(parts[0]);
  const spanId = parts[1].toLowerCase();
  if (traceId === undefined || !HEX16.test(spanId) || spanId === ZERO16) return undefined;
  const sampled = b3Sampled(parts[2]);
  if (parts[2] !== undefined && sampled === undefined) return undefined;
  return { traceId, spanId, sampled: sampled ?? false, decided: sampled !== undefined };
}

/** B3 multiple headers (`x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags: 1` debug). */
export function parseB3Multi(headers: Readonly<Record<string, string | string[] | undefined>>): (TraceContext & { readonly decided: boolean }) | undefined {
  const t = headers['x-b3-traceid'];
  const s = headers['x-b3-spanid'];
  if (typeof t !== 'string' || typeof s !== 'string') return undefined;
  const traceId = b3TraceId(t.trim());
  const spanId = s.trim().toLowerCase();
  if (traceId === undefined || !HEX16.test(spanId) || spanId === ZERO16) return undefined;
  const flags = headers['x-b3-flags'];
  const sampledHeader = headers['x-b3-sampled'];
  const sampled = flags === '1' ? true : b3Sampled(typeof sampledHeader === 'string' ? sampledHeader.trim() : undefined);
  return { traceId, spanId, sampled: sampled ?? false, decided: sampled !== undefined };
}

/**
 * The incoming context, W3C first (it is what weft writes), then B3 single, then B3 multi.
 * `decided`: the caller made the sampling decision (always so for traceparent, whose flag is it).
 */
export function readTraceContext(headers: Readonly<Record<string, string | string[] | undefined>>): (TraceContext & { readonly decided: boolean }) | undefined {
  const tp = headers[TRACEPARENT];
  if (tp !== undefined) {
    const c = parseTraceparent(tp);
    if (c !== undefined) return { ...c, decided: true };
  }
  const b3 = headers[B3];
  if (b3 !== undefined) {
    const c = parseB3Single(b3);
    if (c !== undefined) return c;
  }
  if (headers['x-b3-traceid'] !== undefined) return parseB3Multi(headers);
  return undefined;
}

/** The traceparent this hop sends: version 00, its own span as the parent, the sampled flag. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

// Ids come from a pool of random bytes, refilled 4 KiB at a time: one syscall per 170 spans.
let pool = Buffer.alloc(0);
let offset = 0;
function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** A new 128-bit trace id (W3C: random, not all zero). */
export function newTraceId(): string {
  const id = randomHex(16);
  return id === ZERO32 ? newTraceId() : id;
}

/** A new 64-bit span id (not all zero). */
export function newSpanId(): string {
  const id = randomHex(8);
  return id === ZERO16 ? newSpanId() : id;
}

// Request identity: every request gets an `x-request-id` at its first sidecar (kept when the app
// set a sane one) and carries it through every hop; fates, access logs and spans are keyed by it.

import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';
/** Longer ids are replaced: the id is stored in every fate record and log line. */
export const MAX_REQUEST_ID_LENGTH = 128;
/** Visible ASCII but no separators that would break a log line or a query parameter. */
const SANE = /^[A-Za-z0-9._:\-+=/@]+$/;

/**
 * The id the request arrived with, if it is one weft keeps: a single field of 1–128 visible
 * characters from [A-Za-z0-9._:-+=/@] (a UUID, a ULID, a hex or base64 id). Undefined otherwise
 * (absent, repeated, empty, oversized, or with spaces, quotes or control characters).
 */
export function acceptedRequestId(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_REQUEST_ID_LENGTH) return undefined;
  return SANE.test(value) ? value : undefined;
}

/**
 * The random part of every id this thread makes: the first 20 hex digits of a random UUID v4
 * (RFC 9562), version and variant digits in place (74 random bits), then the separator.
 */
const PREFIX = randomUUID().slice(0, 24);
/** The ids made so far by this thread (48 bits are written; 2^48 ids outlast any process). */
let counter = 0;

/**
 * A new request id, shaped as a UUID v4 (8-4-4-4-12 hex digits): a random prefix drawn once per
 * thread and a 48-bit counter in the last group. x-request-id is opaque, so what matters is that
 * it is unique: the prefix makes two threads or processes collide with odds of 2^-74, and the
 * counter never repeats within one. Envoy draws a random UUID per request; a formatted counter
 * costs a fraction of that on the request path, which is where every id is made.
 */
export function newRequestId(): string {
  counter++;
  return PREFIX + counter.toString(16).padStart(12, '0');
}

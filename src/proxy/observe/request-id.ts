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

/** A new request id: a random UUID (RFC 9562 v4), as Envoy generates. */
export function newRequestId(): string {
  return randomUUID();
}

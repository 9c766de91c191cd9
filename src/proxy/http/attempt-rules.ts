// What every attempt transport of forward.ts shares (the lean HTTP/1.1 client, node:http's client,
// HTTP/2): why an attempt failed and which failures prove the request never left, and the helpers
// that turn an upstream response head into the one the client gets.

import type { OutgoingHttpHeaders } from 'node:http';
import type { AttemptFailure } from '../balance/picker.ts';
import { parsedContentLength } from './headers.ts';

/** Set on a response (forwarded or local) that took more than one attempt: how many. */
export const ATTEMPTS_HEADER = 'x-weft-attempts';
/** Set (`true`) on a response (forwarded or local) whose failure was not retried because the Service's retry budget was spent. */
export const BUDGET_EXHAUSTED_HEADER = 'x-weft-retry-budget-exhausted';

/** node:http2's header object as a flat list, edited, and back: the HTTP/2 path's use of editResponse. */
export function editObject(edit: (fields: readonly string[]) => string[], headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const flat: string[] = [];
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) flat.push(name, x);
    else flat.push(name, String(v));
  }
  const edited = edit(flat);
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < edited.length; i += 2) {
    const seen = out[edited[i]];
    out[edited[i]] = seen === undefined ? edited[i + 1] : [...(Array.isArray(seen) ? seen : [String(seen)]), edited[i + 1]];
  }
  return out;
}

/** Why an attempt failed, which decides whether another attempt is safe. */
export type FailureKind =
  | 'connect'
  | 'reset-before-response'
  | 'peer-app-unreachable'
  | 'peer-app-reset'
  | 'timeout'
  | 'reset-after-response'
  /** The app answered a status the route's `retry.codes` names (Envoy: retriable-status-codes). */
  | 'retriable-status-code'
  /** The app's answer carried a `grpc-status` the policy's retryOn names (Envoy: retry_on cancelled, unavailable, …). */
  | 'retriable-grpc-status'
  /** The attempt outlasted the route's `timeouts.backendRequest` (Envoy: per_try_timeout). */
  | 'per-try-timeout'
  /** The peer sidecar shed the request before its app saw it (its adaptive concurrency limit): overload, not a fault. */
  | 'peer-shed';
/** The balancer's view of a failure: which gateway error it is, if any (an answered status is not one). */
export function attemptFailureOf(kind: FailureKind): AttemptFailure | undefined {
  switch (kind) {
    case 'connect':
    case 'peer-app-unreachable':
      return 'connect';
    case 'timeout':
    case 'per-try-timeout':
      return 'timeout';
    case 'retriable-status-code':
    case 'retriable-grpc-status':
    case 'peer-shed':
      return undefined;
    default:
      return 'reset';
  }
}

/** Why a request went again (the retries metric's `reason`). */
export type RetryReason = FailureKind | 'stale-connection';
export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
export const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'WEFT_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN']);
/** Errors of a TLS handshake that failed (bad chain, wrong identity): the request never left. */
export const TLS_HANDSHAKE_ERROR = /^(ERR_TLS_|ERR_SSL_|WEFT_TLS_|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_)/;
/** The END_STREAM flag of an HTTP/2 HEADERS frame (RFC 9113 §6.2), as node:http2 reports it with 'response'. */
export const H2_FLAG_END_STREAM = 0x1;
/** HTTP/2 streams the server refused unprocessed (RFC 9113 §8.7): safe to send again, whatever the method. */
export const REFUSED_STREAM = 7;

/** The value of a field in a flat [name, value, …] list with lower-case names. */
export function flatHeader(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/**
 * The Content-Length a response goes on with (RFC 9110 §8.6): none on 1xx and 204, none when the
 * upstream body is chunked or close-delimited (the writer frames it); else the checked length.
 */
export function responseContentLength(status: number, headers: { readonly [name: string]: string | string[] | undefined }): number | undefined {
  if (status < 200 || status === 204 || headers['transfer-encoding'] !== undefined) return undefined;
  return parsedContentLength(headers['content-length']);
}

/** A flat [name, value, …] response head without Content-Length, for 1xx and 204 (RFC 9110 §8.6). */
export function withoutContentLength(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== 'content-length') out.push(headers[i], headers[i + 1]);
  return out;
}

/** A peer sidecar's local reply that says its own app failed the request (not the app's own answer). */
export function peerFailureKind(status: number, reason: unknown): FailureKind | undefined {
  if (status === 503 && reason === 'upstream-connect-failure') return 'peer-app-unreachable';
  if (status === 502 && reason === 'upstream-reset') return 'peer-app-reset';
  if (status === 503 && reason === 'concurrency-limit-exceeded') return 'peer-shed';
  return undefined;
}


// Replies the proxy makes itself: a status, `x-weft-reason` naming why in a stable word, and a small
// JSON body for people. Never a bare 503: whoever reads it must learn which hop failed and why.

import type { ServerResponse } from 'node:http';
import { http } from '../../lib/node-http.ts';
import type { Http2ServerResponse } from 'node:http2';
import type { H1ServerResponse } from '../transport/h1-server-message.ts';

export const REASON_HEADER = 'x-weft-reason';

/** Stable reasons; clients and tests match on these. */
export type LocalReplyReason =
  | 'no-snapshot'
  | 'unknown-service'
  | 'unknown-port'
  | 'no-endpoints'
  | 'no-healthy-endpoints'
  | 'all-endpoints-tried'
  | 'upstream-connect-failure'
  | 'upstream-reset'
  | 'request-timeout'
  | 'response-header-timeout'
  | 'stream-idle-timeout'
  | 'bad-request'
  | 'header-too-large'
  | 'mtls-required'
  | 'authz-denied'
  | 'jwt-invalid'
  | 'filter-error'
  | 'no-certificate'
  /** A Service with routes attached, and no rule matched (GAMMA: 404). */
  | 'no-route'
  /** A RequestRedirect filter answered (3xx with Location). */
  | 'route-redirect'
  /** The matched rule has no backend with weight above 0 (500). */
  | 'no-backend'
  /** The chosen backendRef names no usable Service (Gateway API ResolvedRefs false; 500). */
  | 'backend-unresolved'
  /** A FaultInjection abort (the configured status or gRPC code). */
  | 'fault-abort'
  /** A rule's ExtensionRef filter names no existing resource (500, the Gateway API's rule). */
  | 'filter-unresolved'
  /** An attempt outlasted the route rule's `timeouts.backendRequest` and no retry was left (504). */
  | 'backend-request-timeout'
  /** A CORS preflight answered by the route's CORS filter (204). */
  | 'cors-preflight'
  /** Inbound: the adaptive concurrency limit is reached; shed at once, never queued (503, as Envoy's filter). */
  | 'concurrency-limit-exceeded'
  // Overload protection (docs/concepts/overload.md).
  /** A BackendPolicy circuitBreaker limit was reached (503 at once; `x-weft-circuit-limit` names it). */
  | 'circuit-open'
  /** The request's deadline (x-weft-deadline, grpc-timeout) passed: 504, or gRPC DEADLINE_EXCEEDED. */
  | 'deadline-exceeded'
  /** A RateLimitPolicy's limit refused the request (429 with Retry-After and RateLimit fields). */
  | 'rate-limited'
  /** A global rate limit could not be checked (Redis down) and its failureMode is closed (503). */
  | 'rate-limit-unavailable';

export type AnyResponse = ServerResponse | Http2ServerResponse | H1ServerResponse;

/** `extraHeaders`: fields a reply needs besides weft's own (e.g. `www-authenticate` on a 401, RFC 9110 §11.6.1). */
export function sendLocalReply(res: AnyResponse, status: number, reason: LocalReplyReason, message: string, proxyId: string, extraHeaders?: Readonly<Record<string, string>>): void {
  if (res.headersSent) {
    // Too late for a reply: the only honest signal left is to cut the stream.
    res.destroy?.();
    return;
  }
  const body = JSON.stringify({ error: { reason, message, proxy: proxyId } }) + '\n';
  (res as ServerResponse).writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    [REASON_HEADER]: reason,
    'x-weft-proxy': proxyId,
    ...extraHeaders,
  });
  (res as ServerResponse).end(body);
}

/** A redirect answered by this proxy (RequestRedirect): status, Location, no body, and why. */
export function sendRedirect(res: AnyResponse, status: number, location: string, proxyId: string): void {
  if (res.headersSent) {
    res.destroy?.();
    return;
  }
  (res as ServerResponse).writeHead(status, { location, 'content-length': 0, [REASON_HEADER]: 'route-redirect', 'x-weft-proxy': proxyId });
  (res as ServerResponse).end();
}

/** A reply without a body (a CORS preflight's 204): the given fields, and why. */
export function sendBodylessReply(res: AnyResponse, status: number, reason: LocalReplyReason, headers: Readonly<Record<string, string>>, proxyId: string): void {
  if (res.headersSent) {
    res.destroy?.();
    return;
  }
  // RFC 9110 §8.6: a 204 carries no Content-Length; other statuses say 0.
  const length = status === 204 ? {} : { 'content-length': 0 };
  (res as ServerResponse).writeHead(status, { ...headers, ...length, [REASON_HEADER]: reason, 'x-weft-proxy': proxyId });
  (res as ServerResponse).end();
}

/**
 * A gRPC local reply: HTTP 200 with `grpc-status`/`grpc-message` in a trailers-only response (one
 * HEADERS frame that ends the stream, as gRPC's HTTP/2 protocol defines errors), plus the reason.
 */
export function sendGrpcReply(res: AnyResponse, grpcStatus: number, reason: LocalReplyReason, message: string, proxyId: string): void {
  if (res.headersSent) {
    res.destroy?.();
    return;
  }
  const headers = { 'content-type': 'application/grpc', 'grpc-status': String(grpcStatus), 'grpc-message': encodeURIComponent(message), [REASON_HEADER]: reason, 'x-weft-proxy': proxyId };
  const h2 = res as Http2ServerResponse;
  if (h2.stream !== undefined && typeof h2.stream.respond === 'function') h2.stream.respond({ ':status': 200, ...headers }, { endStream: true });
  else {
    (res as ServerResponse).writeHead(200, { ...headers, 'content-length': 0 });
    (res as ServerResponse).end();
  }
}

/**
 * The same reply for a raw socket (upgrades and CONNECT, where no ServerResponse exists): status,
 * reason header and JSON body, then the connection closes.
 */
export function rawLocalReply(status: number, reason: LocalReplyReason, message: string, proxyId: string): string {
  const body = JSON.stringify({ error: { reason, message, proxy: proxyId } }) + '\n';
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Local Reply'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${REASON_HEADER}: ${reason}\r\nx-weft-proxy: ${proxyId}\r\nconnection: close\r\n\r\n${body}`;
}

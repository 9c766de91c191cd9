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
  | 'no-certificate';

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

/**
 * The same reply for a raw socket (upgrades and CONNECT, where no ServerResponse exists): status,
 * reason header and JSON body, then the connection closes.
 */
export function rawLocalReply(status: number, reason: LocalReplyReason, message: string, proxyId: string): string {
  const body = JSON.stringify({ error: { reason, message, proxy: proxyId } }) + '\n';
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Local Reply'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${REASON_HEADER}: ${reason}\r\nx-weft-proxy: ${proxyId}\r\nconnection: close\r\n\r\n${body}`;
}

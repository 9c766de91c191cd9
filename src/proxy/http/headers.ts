// Header hygiene when forwarding: hop-by-hop headers (RFC 9110 §7.6.1) and HTTP/2 pseudo and
// connection-specific headers stay on their own hop; everything else passes through unchanged.
// Framing (Content-Length, Transfer-Encoding) is never copied: each writer emits it from what the
// parser decided about the body (RFC 9112 §6.3), so no header list or Connection option can alter it.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate', 'http2-settings', 'host', 'content-length']);

/**
 * The first field a `Connection` value names that no hop may remove (RFC 9110 §7.6.1 lets
 * Connection name only hop-by-hop fields): `content-length` and `transfer-encoding` frame the
 * message, and `host` names its target. Undefined when it names none. Requests that do get 400:
 * honouring them would let a body travel unframed, which is how requests are smuggled.
 */
export function forbiddenConnectionOption(connection: string): string | undefined {
  // The usual values, without splitting.
  if (connection.length <= 10 && (connection === 'keep-alive' || connection === 'close' || connection === 'Keep-Alive' || connection === 'Close' || connection === 'upgrade' || connection === 'Upgrade')) return undefined;
  for (let t of connection.toLowerCase().split(',')) {
    t = t.trim();
    if (t === 'content-length' || t === 'transfer-encoding' || t === 'host') return t;
  }
  return undefined;
}

/**
 * Copies end-to-end headers, dropping hop-by-hop ones and those named by `Connection`, and the
 * framing fields; `contentLength` (bytes), when given, is written from the caller's framing
 * decision. Transfer-Encoding is never written here: a writer without a length chunks by itself.
 */
export function forwardableHeaders(headers: IncomingHttpHeaders, contentLength?: number): OutgoingHttpHeaders {
  const named = headers.connection;
  const extra = named ? String(named).toLowerCase().split(',').map((s) => s.trim()) : [];
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    if (HOP_BY_HOP.has(name) || extra.includes(name)) continue;
    out[name] = headers[name];
  }
  if (contentLength !== undefined) out['content-length'] = contentLength;
  return out;
}

/**
 * The body length a parsed Content-Length value gives (node:http and HTTP/2 checked it already:
 * llhttp refuses bad and conflicting lengths, nghttp2 checks it against the DATA received), or
 * undefined when there is none or it is not a plain decimal number.
 */
export function parsedContentLength(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Response statuses that carry no content (RFC 9110 §15.2 1xx, §15.3.5 204, §15.4.5 304): what
 * framing fields they may keep. 1xx and 204 keep none (§8.6, §6.4.1); a 304 may keep Content-Length
 * (the length the 200 would have had) but never Transfer-Encoding.
 */
export function bodylessStatus(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** `te: trailers` is the one TE value gRPC needs across hops. */
export function wantsTrailers(headers: IncomingHttpHeaders): boolean {
  const te = headers.te;
  return typeof te === 'string' && te.toLowerCase().includes('trailers');
}

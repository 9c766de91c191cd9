// Header hygiene when forwarding: hop-by-hop headers (RFC 9110 §7.6.1) and HTTP/2 pseudo and
// connection-specific headers stay on their own hop; everything else passes through unchanged.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate', 'http2-settings', 'host']);

/** Copies end-to-end headers, dropping hop-by-hop ones and those named by `Connection`. */
export function forwardableHeaders(headers: IncomingHttpHeaders, keep: readonly string[] = []): OutgoingHttpHeaders {
  const named = headers.connection;
  const extra = named ? String(named).toLowerCase().split(',').map((s) => s.trim()) : [];
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    if ((HOP_BY_HOP.has(name) || extra.includes(name)) && !keep.includes(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/** `te: trailers` is the one TE value gRPC needs across hops. */
export function wantsTrailers(headers: IncomingHttpHeaders): boolean {
  const te = headers.te;
  return typeof te === 'string' && te.toLowerCase().includes('trailers');
}

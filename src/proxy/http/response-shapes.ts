// The response shapes besides head, body, end that forward.ts passes on to the client, whichever
// server (lean HTTP/1.1, node:http, HTTP/2) holds the response: interim 1xx heads, trailer fields,
// and a head that ends the stream (an HTTP/2 trailers-only response, as gRPC sends errors).

import type { ServerResponse, OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerResponse, OutgoingHttpHeaders as H2OutgoingHeaders } from 'node:http2';
import { H1ServerResponse } from '../transport/h1-server-message.ts';
import type { AnyRequest, AnyResponse } from './forward.ts';
import { wantsTrailers } from './headers.ts';

/** A flat [name, value, …] list (names lower case) as an object; repeated names become arrays. */
function flatToObject(fields: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const seen = out[name];
    out[name] = seen === undefined ? fields[i + 1] : Array.isArray(seen) ? [...seen, fields[i + 1]] : [seen, fields[i + 1]];
  }
  return out;
}

/**
 * Passes an interim 1xx head (100, 102, 103; never 101) on to the client, as RFC 9110 §15.2 asks of
 * a proxy, except to an HTTP/1.0 client, which may not be sent one. `headers`: a flat list (the
 * HTTP/1.1 client's) or node:http2's object, hop-by-hop fields already dropped. Returns false when
 * it was not sent (HTTP/1.0, the final head already went out, or node:http cannot write that code).
 */
export function forwardInterim(req: AnyRequest, res: AnyResponse, status: number, headers: readonly string[] | Record<string, string | string[] | undefined>): boolean {
  if (status === 101 || res.headersSent || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) return false;
  try {
    if (res instanceof H1ServerResponse) {
      res.writeInterim(status, headers as readonly string[] | OutgoingHttpHeaders);
      return true;
    }
    const object = Array.isArray(headers) ? flatToObject(headers) : (headers as Record<string, string | string[]>);
    if (req.httpVersionMajor === 2) {
      // An HTTP/2 interim head is a HEADERS frame before the response's (RFC 9113 §8.1).
      (res as Http2ServerResponse).stream.additionalHeaders({ ...(object as H2OutgoingHeaders), ':status': status });
      return true;
    }
    // node:http's server (HTTP/1.1 requests with Expect) writes 1xx through these three only.
    const node = res as ServerResponse;
    if (status === 100) node.writeContinue();
    else if (status === 102) node.writeProcessing();
    else if (status === 103 && object.link !== undefined) node.writeEarlyHints(object as Record<string, string | string[]>);
    else return false;
    return true;
  } catch {
    // A head this server refuses to write (e.g. a value node:http2 rejects): interim, so skippable.
    return false;
  }
}

/**
 * Sends trailer fields (already reduced to those that may travel, trailer-fields.ts) at the end of
 * the response: always to an HTTP/2 client; to an HTTP/1.1 client only when it sent `TE: trailers`
 * (RFC 9110 §10.1.4), as chunked trailers, which need a chunked body (the lean server keeps one;
 * node:http sends them only if it chose chunked). Call before end().
 */
export function forwardTrailers(req: AnyRequest, res: AnyResponse, trailers: readonly string[] | Record<string, string | string[]>): void {
  if (req.httpVersionMajor === 2) {
    (res as Http2ServerResponse).addTrailers((Array.isArray(trailers) ? flatToObject(trailers) : trailers) as OutgoingHttpHeaders);
    return;
  }
  if (req.httpVersionMinor === 0 || !wantsTrailers(req.headers)) return;
  if (res instanceof H1ServerResponse) {
    res.addTrailers(trailers as readonly string[] | OutgoingHttpHeaders);
    return;
  }
  const node = res as ServerResponse;
  if (!Array.isArray(trailers)) {
    node.addTrailers(trailers as OutgoingHttpHeaders);
    return;
  }
  const pairs: [string, string][] = [];
  for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i], trailers[i + 1]]);
  node.addTrailers(pairs);
}

/**
 * A final head that ends the response, with no content: to an HTTP/2 client one HEADERS frame
 * with END_STREAM (a gRPC trailers-only response keeps its meaning only so; RFC 9113 §8.1, gRPC's
 * PROTOCOL-HTTP2 "Trailers-Only"), to an HTTP/1.1 client a complete response without a body.
 * Throws what the server's writeHead throws for a head it cannot write.
 */
export function respondEnded(req: AnyRequest, res: AnyResponse, status: number, headers: OutgoingHttpHeaders): void {
  if (req.httpVersionMajor === 2) {
    // node:http2's compatibility response would send HEADERS, then an empty DATA frame to end.
    (res as Http2ServerResponse).stream.respond({ ...(headers as H2OutgoingHeaders), ':status': status }, { endStream: true });
    return;
  }
  (res as ServerResponse).writeHead(status, headers);
  (res as ServerResponse).end();
}

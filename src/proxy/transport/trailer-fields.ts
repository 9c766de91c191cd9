// Which trailer fields travel on: the HTTP/1.1 response parser (h1-parser.ts) and the HTTP/2 path
// (forward.ts) both drop the ones that only make sense in a header section, or only on one hop.

/**
 * Fields never forwarded in a trailer section (RFC 9110 §6.5.1-6.5.2): hop-by-hop ones (§7.6.1),
 * message framing (Content-Length, Transfer-Encoding), routing (Host), authentication, request
 * modifiers, response controls and content format, which a recipient must have before the content.
 * Names lower case. gRPC's own trailers (grpc-status, grpc-message, grpc-status-details-bin) pass.
 */
export const FORBIDDEN_TRAILERS: ReadonlySet<string> = new Set([
  // hop-by-hop
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'http2-settings',
  // framing and routing
  'content-length', 'transfer-encoding', 'host',
  // authentication
  'authorization', 'proxy-authorization', 'www-authenticate', 'proxy-authenticate',
  // request modifiers and response controls
  'expect', 'max-forwards', 'range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range',
  'cache-control', 'pragma', 'age', 'expires', 'date', 'location', 'retry-after', 'vary', 'set-cookie', 'cookie',
  // content format
  'content-type', 'content-encoding', 'content-range',
]);

/**
 * An HTTP/2 trailer block (node:http2's object) reduced to the fields that may travel on: pseudo
 * fields and FORBIDDEN_TRAILERS dropped. Returns undefined when nothing is left.
 */
export function forwardableTrailers(trailers: Record<string, string | string[] | undefined>): Record<string, string | string[]> | undefined {
  let out: Record<string, string | string[]> | undefined;
  for (const name in trailers) {
    const value = trailers[name];
    if (value === undefined || name.charCodeAt(0) === 58 /* ':' */ || FORBIDDEN_TRAILERS.has(name)) continue;
    (out ??= {})[name] = value;
  }
  return out;
}

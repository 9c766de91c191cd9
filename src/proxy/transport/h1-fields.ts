// The field vocabulary of the HTTP/1.1 parser (h1-parser.ts): which bytes a token and a field value
// may hold, the Content-Length rule, the field names it knows without making a string, and what a
// Keep-Alive or Proxy-Connection value says.

/** 1 for the characters of a token (RFC 9110 §5.6.2), by byte. */
export const TOKEN_CHAR = new Uint8Array(256);
for (const ch of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_CHAR[ch.charCodeAt(0)] = 1;
/** 1 for the bytes allowed in a field value or reason phrase: HTAB, visible ASCII, obs-text. */
export const FIELD_CHAR = new Uint8Array(256);
FIELD_CHAR[9] = 1;
for (let c = 0x20; c <= 0xff; c++) if (c !== 0x7f) FIELD_CHAR[c] = 1;
const DIGITS = /^\d{1,15}$/;
const CL_BAD = -2;
export const CL_CONFLICT = -3;

/**
 * One Content-Length field on top of what earlier ones said (-1: none yet): the length, or CL_BAD /
 * CL_CONFLICT. Equal repeats are allowed (RFC 9110 §8.6); requests and responses share this rule.
 */
export function addContentLength(current: number, value: string): number {
  if (!DIGITS.test(value)) return CL_BAD;
  const n = Number(value);
  return current !== -1 && current !== n ? CL_CONFLICT : n;
}

export const clError = (code: number): string => (code === CL_BAD ? 'bad content-length' : 'conflicting content-length');

/**
 * Whether a Proxy-Connection value says close. The field is obsolete, but llhttp (every node:http
 * hop) reads it like Connection; a connection either side would close is not read on here.
 */
export const proxyConnectionClose = (value: string): boolean => /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i.test(value);

// What a known field name means to the parser.
const F_PLAIN = 0;
/** Hop-by-hop (RFC 9110 §7.6.1), or one that stays on this hop; the same list as http/headers.ts. */
export const F_HOP = 1;
export const F_CONTENT_LENGTH = 2;
export const F_TRANSFER_ENCODING = 3;
export const F_CONNECTION = 4;
/** Hop-by-hop in a response; the request parser looks at them. */
export const F_HOST = 5;
export const F_UPGRADE = 6;
export const F_EXPECT = 7;

export interface KnownName {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly kind: number;
}

/**
 * Field names matched from the bytes, case-insensitively, without making a string: every
 * hop-by-hop name is here (so a name not found is end-to-end), plus common response fields.
 */
const KNOWN: KnownName[][] = [];
function known(name: string, kind: number): void {
  (KNOWN[name.length] ??= []).push({ name, bytes: Buffer.from(name, 'latin1'), kind });
}
for (const n of ['keep-alive', 'proxy-connection', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate', 'http2-settings']) known(n, F_HOP);
known('host', F_HOST);
known('upgrade', F_UPGRADE);
known('expect', F_EXPECT);
known('content-length', F_CONTENT_LENGTH);
known('transfer-encoding', F_TRANSFER_ENCODING);
known('connection', F_CONNECTION);
for (const n of ['content-type', 'date', 'server', 'cache-control', 'etag', 'last-modified', 'vary', 'location', 'set-cookie', 'expires', 'accept-ranges', 'content-encoding', 'x-weft-reason', 'x-weft-proxy', 'access-control-allow-origin', 'x-content-type-options', 'strict-transport-security', 'age', 'x-request-id', 'grpc-status', 'grpc-message']) known(n, F_PLAIN);
// Common request fields: their lower-case names come without a string of their own.
for (const n of ['user-agent', 'accept', 'accept-encoding', 'accept-language', 'authorization', 'cookie', 'x-weft-source', 'origin', 'referer', 'content-type', 'if-none-match', 'if-modified-since', 'x-forwarded-for', 'traceparent', 'tracestate', 'pragma']) {
  if (!KNOWN[n.length]?.some((k) => k.name === n)) known(n, F_PLAIN);
}

/** The known name at buf[start, end), or undefined. Bytes were checked to be token characters. */
export function knownName(buf: Buffer, start: number, end: number): KnownName | undefined {
  const candidates = KNOWN[end - start];
  if (candidates === undefined) return undefined;
  next: for (let k = 0; k < candidates.length; k++) {
    const bytes = candidates[k].bytes;
    for (let i = 0; i < bytes.length; i++) {
      // Token characters OR 0x20: upper-case letters fold onto lower case, '-' and digits stay;
      // no other token character folds onto a character of a known name.
      if ((buf[start + i] | 0x20) !== bytes[i]) continue next;
    }
    return candidates[k];
  }
  return undefined;
}

/** `timeout=N` (seconds) of a Keep-Alive field value such as `timeout=5, max=1000`, in ms; -1 if absent or malformed. */
export function keepAliveTimeout(value: string): number {
  const m = /(?:^|[\s,])timeout\s*=\s*"?(\d{1,9})"?/i.exec(value);
  return m === null ? -1 : Number(m[1]) * 1000;
}


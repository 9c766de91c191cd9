// The request target (RFC 9112 §3.2), parsed once per request: the lean HTTP/1.1 parser does it as
// the request line ends, node:http and HTTP/2 requests when a handler asks. Routing (outbound),
// authorization (inbound), metrics and the app all see the one origin-form path it yields.

import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { forbiddenConnectionOption } from './headers.ts';

/** A request target reduced to what every later step uses. */
export interface RequestTarget {
  /**
   * The authority named by an absolute-form target (`http://echo:8080/x` → `echo:8080`) or an
   * authority-form one (CONNECT); undefined for origin-form and `*`, where Host / `:authority` names it.
   */
  readonly authority: string | undefined;
  /** Origin-form: the absolute path and query (`/x?y`, `/` when the absolute form had none); `*` for OPTIONS *; for CONNECT, the authority. */
  readonly path: string;
}

/** A request as the handlers receive it; the lean server's requests carry their target already parsed. */
interface AnyHttpRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly httpVersionMajor: number;
  readonly headers: IncomingMessage['headers'] | Http2ServerRequest['headers'];
  readonly target?: RequestTarget;
}

/** 1 for the characters of an authority (RFC 3986 §3.2: reg-name, IP-literal, port), by char code. */
const AUTHORITY_CHAR = new Uint8Array(128);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:[]") AUTHORITY_CHAR[ch.charCodeAt(0)] = 1;

/** Undefined if `authority` is a valid `host[:port]` (port required for CONNECT), else why not. */
function authorityError(authority: string, portRequired: boolean): string | undefined {
  if (authority.length === 0) return 'empty authority';
  for (let i = 0; i < authority.length; i++) {
    const c = authority.charCodeAt(i);
    // userinfo (`user@host`) is deprecated and a recipient treats it as an error (RFC 9110 §4.2.4).
    if (c === 64 /* @ */) return 'userinfo in the authority';
    if (c >= 128 || AUTHORITY_CHAR[c] !== 1) return 'bad character in the authority';
  }
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  const hasPort = colon > close;
  const host = hasPort ? authority.slice(0, colon) : authority;
  if (host.length === 0) return 'empty host';
  if (host.charCodeAt(0) === 91 /* [ */ ? close !== host.length - 1 : host.includes('[') || host.includes(']') || host.includes(':')) return 'bad host';
  if (hasPort) {
    const port = authority.slice(colon + 1);
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return 'bad port';
  } else if (portRequired) {
    return 'CONNECT needs host:port';
  }
  return undefined;
}

/** `http://` or `https://` at the start, in any case (schemes are case-insensitive, RFC 3986 §3.1): the length of that prefix, or 0. */
function schemePrefix(target: string): number {
  const n = target.length;
  if (n < 8 || (target.charCodeAt(0) | 0x20) !== 104 || (target.charCodeAt(1) | 0x20) !== 116 || (target.charCodeAt(2) | 0x20) !== 116 || (target.charCodeAt(3) | 0x20) !== 112) return 0;
  let i = 4;
  if ((target.charCodeAt(4) | 0x20) === 115 /* s */) i = 5;
  return target.startsWith('://', i) ? i + 3 : 0;
}

/**
 * Parses a request target (RFC 9112 §3.2): origin-form (`/path?query`), absolute-form (scheme
 * `http` or `https`, any case, reduced to its origin-form path), authority-form for CONNECT only
 * (`host:port`) and asterisk-form for OPTIONS only (`*`). Returns the target, or why it is
 * invalid (the caller answers 400 `bad-request`). A fragment (`#…`) is refused rather than
 * stripped: the grammar has none, and apps disagree on what one means (llhttp hands it to
 * Node apps as part of `req.url`), so the one that judged a request and the one that serves it
 * could read different paths. Envoy refuses it too by default.
 */
export function parseRequestTarget(method: string, target: string): RequestTarget | string {
  const first = target.charCodeAt(0);
  if (method === 'CONNECT') {
    const why = authorityError(target, true);
    return why === undefined ? { authority: target, path: target } : `CONNECT target: ${why}`;
  }
  if (first === 47 /* / */) {
    // The common case: one scan for a fragment.
    return target.includes('#') ? 'a fragment (#) in the request target' : { authority: undefined, path: target };
  }
  if (first === 42 /* * */ && target.length === 1) return method === 'OPTIONS' ? { authority: undefined, path: '*' } : 'the asterisk-form (*) is for OPTIONS only';
  const start = schemePrefix(target);
  if (start === 0) return 'the request target is neither origin-form (/path) nor absolute-form (http://host/path)';
  if (target.includes('#', start)) return 'a fragment (#) in the request target';
  let end = start;
  while (end < target.length) {
    const c = target.charCodeAt(end);
    if (c === 47 /* / */ || c === 63 /* ? */) break;
    end++;
  }
  const authority = target.slice(start, end);
  const why = authorityError(authority, false);
  if (why !== undefined) return `absolute-form target: ${why}`;
  const rest = target.slice(end);
  return { authority, path: rest.length === 0 ? '/' : rest.charCodeAt(0) === 63 ? `/${rest}` : rest };
}

/**
 * Why a Host field (or `:authority`) is not a valid `host[:port]` (RFC 9110 §7.2, RFC 3986 §3.2:
 * no userinfo, no path, no spaces), or undefined when it is. A Host that names a path or a user
 * must not pick a route or reach an app (`Host: echo/admin`, `Host: x@echo`).
 */
export function hostError(value: string): string | undefined {
  const why = authorityError(value, false);
  return why === undefined ? undefined : `bad Host ${JSON.stringify(value.slice(0, 100))}: ${why}`;
}

/**
 * The request's target, as parsed by the lean server, or parsed here for node:http's and HTTP/2's
 * requests (`:path`). For node:http's requests (HTTP/1.0, Expect, tunnelled CONNECT traffic)
 * this also refuses a `Connection` naming a framing field or Host, which the lean parser refuses
 * for its own (RFC 9110 §7.6.1 does not let Connection remove those; see h1-parser.ts).
 * Returns the target or why the request is invalid (400 `bad-request`).
 */
export function requestTarget(req: AnyHttpRequest): RequestTarget | string {
  if (req.target !== undefined) return req.target;
  if (req.httpVersionMajor === 1) {
    const connection = req.headers.connection;
    if (connection !== undefined) {
      const named = forbiddenConnectionOption(String(connection));
      if (named !== undefined) return `Connection names ${named}, which must not be removed on the way`;
    }
  }
  const url = req.url;
  if (url === undefined || url.length === 0) return 'no request target';
  return parseRequestTarget(req.method ?? 'GET', url);
}

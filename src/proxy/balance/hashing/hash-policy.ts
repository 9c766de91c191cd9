// The request hash of ring-hash and maglev: a BackendPolicy's hashPolicy, compiled once per
// snapshot, computes a 32-bit key per request in the outbound path (outbound-handler.ts), which
// reaches the picker as PickContext.hashKey. Envoy's RouteAction.HashPolicy semantics.

import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { HashPolicyEntry } from '../../../config/kinds/backend-policy-balancing.ts';
import { murmur3 } from './murmur3.ts';

/** What the policy reads of a request. */
export interface HashableRequest {
  readonly headers: IncomingHttpHeaders;
  readonly socket?: { readonly remoteAddress?: string } | null;
}

/** The key of one request, and the `Set-Cookie` value to add to its response when the proxy generated the cookie. */
export interface RequestHash {
  readonly key: number;
  readonly setCookie: string | undefined;
}

/** Where an entry's value comes from (numbers: a switch on them is a jump table). */
const Source = { Header: 0, Cookie: 1, Query: 2, SourceIp: 3 } as const;
type Source = (typeof Source)[keyof typeof Source];

interface CompiledEntry {
  readonly source: Source;
  readonly name: string;
  readonly terminal: boolean;
  /** Cookie: generate when absent (ttlMs set); the attributes that follow the value in Set-Cookie. */
  readonly generate: boolean;
  readonly attributes: string;
}

/**
 * A compiled hashPolicy. `hash` evaluates the entries in order; each that finds its value hashes it
 * (MurmurHash3 x86_32) and is folded in as Envoy does: key = rotl(key, 1) XOR h; a `terminal` entry
 * that found a value ends the evaluation. No value at all → undefined (the picker picks at random).
 * A cookie entry with ttlMs whose cookie is absent generates a random value (a UUID), hashes it, and
 * asks for `Set-Cookie: <name>=<value>; Max-Age=<ttl s>; Path=<path>; HttpOnly` (no Max-Age for ttlMs
 * 0: a session cookie), so the client's next requests carry it and stick to the same endpoint.
 */
export class HashPolicy {
  readonly #entries: readonly CompiledEntry[];

  constructor(entries: readonly HashPolicyEntry[]) {
    this.#entries = entries.map(compileEntry);
  }

  /** `path`: the request's origin-form path (for query parameters). Allocates only for a generated cookie. */
  hash(req: HashableRequest, path: string): number | RequestHash | undefined {
    let key = 0;
    let found = false;
    let setCookie: string | undefined;
    for (const e of this.#entries) {
      let value: string | undefined;
      switch (e.source) {
        case Source.Header: {
          const v = req.headers[e.name];
          value = Array.isArray(v) ? v.join(',') : v;
          break;
        }
        case Source.Cookie:
          value = cookieValue(req.headers.cookie, e.name);
          if (value === undefined && e.generate) {
            value = randomUUID();
            setCookie = `${e.name}=${value}${e.attributes}`;
          }
          break;
        case Source.Query:
          value = queryValue(path, e.name);
          break;
        default:
          value = req.socket?.remoteAddress ?? undefined;
      }
      if (value === undefined) continue;
      const h = murmur3(value);
      key = found ? (((key << 1) | (key >>> 31)) ^ h) >>> 0 : h;
      found = true;
      if (e.terminal) break;
    }
    if (!found) return undefined;
    return setCookie === undefined ? key : { key, setCookie };
  }
}

function compileEntry(e: HashPolicyEntry): CompiledEntry {
  const terminal = e.terminal === true;
  if ('header' in e) return { source: Source.Header, name: e.header.name.toLowerCase(), terminal, generate: false, attributes: '' };
  if ('queryParameter' in e) return { source: Source.Query, name: e.queryParameter.name, terminal, generate: false, attributes: '' };
  if ('cookie' in e) {
    const { name, ttlMs, path } = e.cookie;
    let attributes = '';
    if (ttlMs !== undefined && ttlMs > 0) attributes += `; Max-Age=${Math.max(1, Math.round(ttlMs / 1000))}`;
    attributes += `; Path=${path ?? '/'}; HttpOnly`;
    return { source: Source.Cookie, name, terminal, generate: ttlMs !== undefined, attributes };
  }
  return { source: Source.SourceIp, name: '', terminal, generate: false, attributes: '' };
}

/** The value of cookie `name` in a Cookie field (RFC 6265 §4.2: `a=1; b=2`); undefined if absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let at = 0;
  while (at < header.length) {
    while (header.charCodeAt(at) === 32) at++;
    const end = header.indexOf(';', at);
    const stop = end < 0 ? header.length : end;
    if (header.startsWith(name, at) && header.charCodeAt(at + name.length) === 61 /* = */) {
      let value = header.slice(at + name.length + 1, stop).trim();
      if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1);
      return value;
    }
    at = stop + 1;
  }
  return undefined;
}

/** The raw (undecoded) value of query parameter `name` in an origin-form path; undefined if absent. */
export function queryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  const hashAt = path.indexOf('#', q);
  const end = hashAt < 0 ? path.length : hashAt;
  let at = q + 1;
  while (at < end) {
    let amp = path.indexOf('&', at);
    if (amp < 0 || amp > end) amp = end;
    if (path.startsWith(name, at)) {
      const after = at + name.length;
      if (after === amp) return '';
      if (path.charCodeAt(after) === 61 /* = */) return path.slice(after + 1, amp);
    }
    at = amp + 1;
  }
  return undefined;
}

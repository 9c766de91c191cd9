// TLS session resumption on the client side of mutual TLS: the last session (TLS 1.3 ticket) each
// endpoint's sidecar issued, so the next connection to it resumes (RFC 8446 §2.2) instead of paying a
// full handshake. mesh-tls.ts dialEndpoint reads and fills it; upstream-pool.ts owns one per data plane.

import type { SecureContext } from 'node:tls';
import { systemClock, type Clock } from '../../lib/clock.ts';

export interface TlsSessionCacheOptions {
  /** Endpoints remembered at most; the least recently stored goes first. Default 1024. */
  readonly maxEntries?: number;
  /**
   * A session older than this is not offered (ms). Default 300 000: Node's server issues tickets
   * for 300 s (tls.createServer sessionTimeout), and an expired ticket only costs a full handshake.
   */
  readonly maxAgeMs?: number;
  readonly clock?: Clock;
}

interface Entry {
  readonly session: Buffer;
  /** The client context (this sidecar's certificate) the session was made with. */
  readonly context: SecureContext;
  readonly storedAt: number;
}

/**
 * Sessions by endpoint key (`address:port|identity`: a session proves nothing about another
 * identity, so an address that changed workload never resumes the old one's session). A session is
 * offered only with the client context it was made under: a renewed certificate starts afresh, so
 * the server never sees this sidecar under an old certificate.
 */
export class TlsSessionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #clock: Clock;

  constructor(options: TlsSessionCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 1024;
    this.#maxAgeMs = options.maxAgeMs ?? 300_000;
    this.#clock = options.clock ?? systemClock;
  }

  static key(address: string, port: number, identity: string): string {
    return `${address}:${port}|${identity}`;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The session to offer when dialling `key` with `context`; undefined: a full handshake. */
  get(key: string, context: SecureContext): Buffer | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.context !== context || this.#clock.now() - e.storedAt >= this.#maxAgeMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.session;
  }

  /** The server issued a session (Node's 'session' event; TLS 1.3 sends tickets after the handshake): the latest wins. */
  set(key: string, context: SecureContext, session: Buffer): void {
    this.#entries.delete(key);
    this.#entries.set(key, { session, context, storedAt: this.#clock.now() });
    if (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** A resumed connection failed its identity check, or the endpoint left: never offer its session again. */
  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}

// Kept-alive HTTP/1.1 connections to one endpoint (h1-client.ts): an exchange takes the most
// recently used idle connection or opens one, and gives it back when both its request and its
// response are over. Idle connections close after the policy's idleMs (sooner when the endpoint's
// `Keep-Alive: timeout=` says so), or when the peer closes them; a request that meets a stale one
// goes again on a new connection (h1-client.ts, #fail).

import { H1Connection, H1Exchange, type H1Handler, type H1Owner } from './h1-client.ts';
import type { EndpointTls, TlsResumption } from './mesh-tls.ts';
import { DEFAULT_BACKEND_POLICY } from '../../config/kinds/backend-policy.ts';

export interface H1PoolOptions {
  /** Idle connections kept beyond this are closed. */
  readonly maxIdle?: number;
  /** TLS session resumption for the endpoint (mutual TLS only). */
  readonly resumption?: TlsResumption;
}

/**
 * How long (ms) a connection to a peer sidecar (mutual TLS, the endpoint has an identity) idles when
 * the policy keeps the default `idleMs`: that default (4 s) is about apps' keep-alive timeouts (often
 * 5 s), while this peer is a weft inbound listener that keeps idle connections at least 55 s
 * (listener.ts INBOUND_IDLE_CLOSE_MIN_MS). Letting them go after 4 s cost a new mutual-TLS handshake
 * (ms of CPU on both sidecars, every request behind it waiting) whenever load rose again. Envoy's
 * default is 1 h.
 */
export const PEER_SIDECAR_IDLE_MS = 50_000;

/**
 * The idle time (ms) of a pooled connection. To an app or a plaintext endpoint: the policy's
 * `idleMs`. To a peer sidecar: PEER_SIDECAR_IDLE_MS while the policy keeps the default, else the
 * policy's value but never more (the peer would close first).
 */
export function pooledIdleMs(policyIdleMs: number, identity: string | undefined): number {
  if (identity === undefined) return policyIdleMs;
  return policyIdleMs === DEFAULT_BACKEND_POLICY.timeouts.idleMs ? PEER_SIDECAR_IDLE_MS : Math.min(policyIdleMs, PEER_SIDECAR_IDLE_MS);
}

/** How long a pre-connect waits for the first connection's TLS 1.3 ticket before opening the next anyway (ms). */
const TICKET_WAIT_MS = 200;

export interface H1RequestOptions {
  readonly connectMs: number;
  readonly idleMs: number;
  /** The response has no body whatever its head says (a HEAD request). */
  readonly noResponseBody: boolean;
  /** Mutual TLS for new connections (the pool's endpoint has an identity); the latest certificate wins. */
  readonly tls?: EndpointTls;
  /**
   * The request may be sent again on a new connection if a reused one turns out stale (closed
   * before any response byte): the caller says so for idempotent requests (RFC 9110 §9.2.2); the
   * connection checks that no body was sent.
   */
  readonly retryStale?: boolean;
  /**
   * The request asks to upgrade (RFC 9110 §7.8): it goes on a new connection of its own, which a
   * 101 turns into a tunnel (H1Handler.onUpgrade) and any other answer closes.
   */
  readonly upgrade?: boolean;
}

export class H1Pool implements H1Owner {
  readonly host: string;
  readonly port: number;
  /** The SPIFFE ID the endpoint's sidecar must prove; undefined for plaintext. */
  readonly identity: string | undefined;
  readonly resumption: TlsResumption | undefined;
  readonly #maxIdle: number;
  /** LIFO: the hottest connections stay busy, the rest idle out. */
  readonly #idle: H1Connection[] = [];
  /** Every open connection, for close(). */
  readonly #all = new Set<H1Connection>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #closed = false;

  constructor(host: string, port: number, options: H1PoolOptions = {}, identity?: string) {
    this.host = host;
    this.port = port;
    this.identity = identity;
    this.#maxIdle = options.maxIdle ?? 256;
    this.resumption = options.resumption;
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  get openCount(): number {
    return this.#all.size;
  }

  /** Starts an exchange on an idle connection or a new one. */
  request(handler: H1Handler, options: H1RequestOptions): H1Exchange {
    const upgrade = options.upgrade === true;
    let conn = upgrade ? undefined : this.#idle.pop();
    while (conn !== undefined && conn.dead) conn = this.#idle.pop();
    const reused = conn !== undefined;
    if (conn === undefined) {
      conn = new H1Connection(this, this.host, this.port, options.connectMs, options.tls, upgrade);
      // A drained pool still serves its caller once, then keeps nothing (release kills it).
      if (!this.#closed) this.#all.add(conn);
    } else {
      conn.socket.ref();
    }
    conn.idleMs = options.idleMs;
    const ex = new H1Exchange(conn, handler, reused, options);
    conn.begin(ex, options.noResponseBody);
    return ex;
  }

  /**
   * A stale reused connection failed `ex` before any response byte: it goes again, once, on a new
   * connection (not an idle one, which may be as stale), as if it had just started.
   */
  retryStale(ex: H1Exchange, handler: H1Handler): boolean {
    const options = ex.options;
    const conn = new H1Connection(this, this.host, this.port, options.connectMs, options.tls);
    if (!this.#closed) this.#all.add(conn);
    conn.idleMs = options.idleMs;
    ex.conn = conn;
    ex.handler = handler;
    ex.reused = false;
    handler.onStaleRetry?.();
    // The handler may have cancelled the exchange in its callback.
    if (ex.handler !== undefined) conn.begin(ex, options.noResponseBody);
    else conn.kill();
    return true;
  }

  /**
   * Opens connections ahead of requests (Envoy's preconnect) until the pool holds `count`: one after
   * the other, so that with mutual TLS each one after the first resumes the session the first was
   * issued. They wait idle like released ones (and close after `options.idleMs` unused). Resolves
   * with how many it opened, stopping at the first that fails; never rejects.
   */
  async preconnect(count: number, options: Pick<H1RequestOptions, 'connectMs' | 'idleMs' | 'tls'>): Promise<number> {
    let opened = 0;
    while (!this.#closed && this.#all.size < count) {
      if (!(await this.#openIdle(options))) break;
      opened++;
    }
    return opened;
  }

  #openIdle(options: Pick<H1RequestOptions, 'connectMs' | 'idleMs' | 'tls'>): Promise<boolean> {
    return new Promise((resolve) => {
      const conn = new H1Connection(this, this.host, this.port, options.connectMs, options.tls);
      this.#all.add(conn);
      conn.idleMs = options.idleMs;
      const socket = conn.socket;
      const failed = (): void => resolve(false);
      socket.once('close', failed);
      socket.once(options.tls === undefined ? 'connect' : 'secureConnect', () => {
        if (conn.dead || socket.destroyed) return; // 'close' answers
        socket.off('close', failed);
        this.release(conn);
        const r = this.resumption;
        if (options.tls === undefined || r === undefined || r.sessions.get(r.key, options.tls.context) !== undefined) return resolve(true);
        // TLS 1.3 tickets come after the handshake; the cache (dialEndpoint's listener, first) has it once this fires.
        const timer = setTimeout(() => {
          socket.off('session', got);
          resolve(true);
        }, TICKET_WAIT_MS);
        timer.unref();
        const got = (): void => {
          clearTimeout(timer);
          resolve(true);
        };
        socket.once('session', got);
      });
    });
  }

  release(conn: H1Connection): void {
    if (this.#closed || this.#idle.length >= this.#maxIdle) {
      conn.kill();
      return;
    }
    const deadline = performance.now() + conn.idleMs;
    conn.idleDeadline = deadline;
    // An idle connection does not keep the process alive (as http.Agent does).
    conn.socket.unref();
    this.#idle.push(conn);
    if (deadline < this.#timerAt) this.#arm(deadline);
  }

  forget(conn: H1Connection): void {
    this.#all.delete(conn);
    const i = this.#idle.lastIndexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
  }

  /** Closes idle connections now and every other one when its exchange ends. */
  drain(): void {
    this.#closed = true;
    this.#disarm();
    for (const conn of this.#idle.splice(0)) conn.kill();
  }

  /** Closes every connection now, busy ones included. */
  close(): void {
    this.drain();
    for (const conn of [...this.#all]) conn.kill();
    this.#all.clear();
  }

  #arm(at: number): void {
    this.#disarm();
    this.#timerAt = at;
    // A little slack so one sweep closes several connections that expire close together.
    this.#timer = setTimeout(this.#sweep, Math.max(1, at - performance.now()) + 5);
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  readonly #sweep = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const idle = this.#idle;
    for (let i = idle.length - 1; i >= 0; i--) {
      const conn = idle[i];
      if (conn.idleDeadline <= now) {
        idle.splice(i, 1);
        conn.kill();
      } else if (conn.idleDeadline < next) {
        next = conn.idleDeadline;
      }
    }
    if (next !== Infinity) this.#arm(next);
  };
}

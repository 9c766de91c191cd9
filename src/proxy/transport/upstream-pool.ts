// Connections to endpoints, reused across requests: one pool of kept-alive connections per endpoint
// for HTTP/1.1 (h1-pool.ts; or a keep-alive Agent when WEFT_H1_CLIENT=node) and one HTTP/2
// session per endpoint for h2c/gRPC, reopened when it closes. Endpoints with an identity (a
// sidecar) are dialled in mutual TLS with this sidecar's certificate.

import type { Agent } from 'node:http';
import { http } from '../../lib/node-http.ts';
import type http2 from 'node:http2';
import { H1Pool } from './h1-pool.ts';
import { expectIdentity, type MeshTls } from './mesh-tls.ts';
import { TlsSessionCache } from './tls-session-cache.ts';

export interface PoolSettings {
  /** An idle kept-alive connection is closed after this. */
  readonly idleMs: number;
}

export class UpstreamPool {
  readonly #agents = new Map<string, Agent>();
  /** By address, then port: no key string is built per request. */
  readonly #h1 = new Map<string, Map<number, H1Pool>>();
  readonly #sessions = new Map<string, { session: http2.ClientHttp2Session; identity: string | undefined }>();
  #closed = false;
  /** This sidecar's certificate for mutual TLS; undefined until the CA issued one. */
  tls: MeshTls | undefined;
  /** The last TLS session each endpoint's sidecar issued: new HTTP/1.1 mutual-TLS connections resume it. */
  readonly tlsSessions = new TlsSessionCache();
  /** Each client mutual-TLS handshake of an HTTP/1.1 connection (weft_proxy_tls_handshakes_total). */
  onTlsHandshake: ((resumed: boolean) => void) | undefined;
  readonly #onHandshake = (resumed: boolean): void => this.onTlsHandshake?.(resumed);

  agent(address: string, port: number, settings: PoolSettings): Agent {
    const key = `${address}:${port}`;
    let agent = this.#agents.get(key);
    if (!agent) {
      // LIFO reuse keeps the hottest connections busy and lets the rest idle out.
      agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, scheduling: 'lifo', timeout: settings.idleMs, maxFreeSockets: 256 });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /** The raw HTTP/1.1 connection pool of one endpoint (its `identity` decides plaintext or mutual TLS). */
  h1(address: string, port: number, identity?: string): H1Pool {
    let byPort = this.#h1.get(address);
    let pool = byPort?.get(port);
    if (pool !== undefined && pool.identity !== identity) {
      // The address now belongs to another workload (or turned mTLS on or off): start afresh.
      pool.drain();
      byPort!.delete(port);
      pool = undefined;
    }
    if (pool === undefined) {
      const resumption = identity === undefined ? undefined : { sessions: this.tlsSessions, key: TlsSessionCache.key(address, port, identity), onHandshake: this.#onHandshake };
      pool = new H1Pool(address, port, { resumption }, identity);
      if (this.#closed) pool.drain();
      else {
        if (byPort === undefined) this.#h1.set(address, (byPort = new Map()));
        byPort.set(port, pool);
      }
    }
    return pool;
  }

  /** Open HTTP/1.1 connections to these endpoints (circuit breaking's maxConnections); creates no pool. */
  h1OpenCount(endpoints: readonly { readonly address: string; readonly port: number }[]): number {
    let open = 0;
    for (const ep of endpoints) open += this.#h1.get(ep.address)?.get(ep.port)?.openCount ?? 0;
    return open;
  }

  /** The HTTP/2 session to one endpoint: h2c, or h2 over mutual TLS when the endpoint has an identity (this.tls must be set then). */
  session(address: string, port: number, identity?: string): http2.ClientHttp2Session {
    const key = `${address}:${port}`;
    const existing = this.#sessions.get(key);
    if (existing && !existing.session.closed && !existing.session.destroyed) {
      if (existing.identity === identity) return existing.session;
      existing.session.close();
    }
    const host = address.includes(':') ? `[${address}]` : address;
    // Loaded on first use: node:http2 (and the TLS code it pulls in) costs ~13 MB of RSS.
    const http2Module = process.getBuiltinModule('node:http2');
    const session = identity === undefined
      ? http2Module.connect(`http://${host}:${port}`)
      : http2Module.connect(`https://${host}:${port}`, { secureContext: this.tls?.context, ALPNProtocols: ['h2'], checkServerIdentity: expectIdentity(identity) });
    session.unref();
    const forget = (): void => {
      if (this.#sessions.get(key)?.session === session) this.#sessions.delete(key);
    };
    session.on('close', forget);
    session.on('goaway', forget);
    // Errors reach the streams that were using the session; the pool only forgets it.
    session.on('error', forget);
    this.#sessions.set(key, { session, identity });
    return session;
  }

  /** Drops pooled connections of endpoints that left the snapshot. */
  retain(liveKeys: ReadonlySet<string>): void {
    for (const [key, agent] of this.#agents) {
      if (!liveKeys.has(key)) {
        agent.destroy();
        this.#agents.delete(key);
      }
    }
    for (const [address, byPort] of this.#h1) {
      for (const [port, pool] of byPort) {
        if (!liveKeys.has(`${address}:${port}`)) {
          // Requests in flight finish; their connections close instead of idling.
          pool.drain();
          byPort.delete(port);
        }
      }
      if (byPort.size === 0) this.#h1.delete(address);
    }
    for (const [key, { session }] of this.#sessions) {
      if (!liveKeys.has(key)) {
        session.close();
        this.#sessions.delete(key);
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const agent of this.#agents.values()) agent.destroy();
    for (const { session } of this.#sessions.values()) session.destroy();
    for (const byPort of this.#h1.values()) for (const pool of byPort.values()) pool.close();
    this.#h1.clear();
    this.#agents.clear();
    this.tlsSessions.clear();
    this.#sessions.clear();
  }
}

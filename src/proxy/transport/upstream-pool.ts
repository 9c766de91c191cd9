// Connections to endpoints, reused across requests: one keep-alive http.Agent per endpoint for
// HTTP/1.1 and one HTTP/2 session per endpoint for h2c/gRPC, reopened when it closes.

import http from 'node:http';
import http2 from 'node:http2';

export interface PoolSettings {
  /** An idle kept-alive connection is closed after this. */
  readonly idleMs: number;
}

export class UpstreamPool {
  readonly #agents = new Map<string, http.Agent>();
  readonly #sessions = new Map<string, http2.ClientHttp2Session>();
  #closed = false;

  agent(address: string, port: number, settings: PoolSettings): http.Agent {
    const key = `${address}:${port}`;
    let agent = this.#agents.get(key);
    if (!agent) {
      // LIFO reuse keeps the hottest connections busy and lets the rest idle out.
      agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, scheduling: 'lifo', timeout: settings.idleMs, maxFreeSockets: 256 });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  session(address: string, port: number): http2.ClientHttp2Session {
    const key = `${address}:${port}`;
    const existing = this.#sessions.get(key);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const session = http2.connect(`http://${address.includes(':') ? `[${address}]` : address}:${port}`);
    session.unref();
    const forget = (): void => {
      if (this.#sessions.get(key) === session) this.#sessions.delete(key);
    };
    session.on('close', forget);
    session.on('goaway', forget);
    // Errors reach the streams that were using the session; the pool only forgets it.
    session.on('error', forget);
    this.#sessions.set(key, session);
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
    for (const [key, session] of this.#sessions) {
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
    for (const session of this.#sessions.values()) session.destroy();
    this.#agents.clear();
    this.#sessions.clear();
  }
}

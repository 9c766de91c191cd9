// What the control plane knows of each proxy's stream: connected or not, the version last sent and
// the version it acknowledged (or refused, with why). `weft status` and GET /v1/proxies read it.

import type { FieldError } from '../../lib/errors.ts';
import type { NodeInfo } from '../../config/snapshot-types.ts';

export interface ProxyStatus {
  readonly node: NodeInfo;
  readonly remote: string;
  connected: boolean;
  connectedAt: number;
  disconnectedAt?: number;
  sentVersion?: string;
  ackedVersion?: string;
  ackedAt?: number;
  nackedVersion?: string;
  nackErrors?: readonly FieldError[];
}

export class ProxyRegistry {
  readonly #proxies = new Map<string, ProxyStatus>();
  /** Disconnected proxies stay listed this long, so a flapping proxy is visible. */
  readonly #keepDisconnectedMs: number;

  constructor(keepDisconnectedMs = 5 * 60_000) {
    this.#keepDisconnectedMs = keepDisconnectedMs;
  }

  connected(node: NodeInfo, remote: string, now: number): ProxyStatus {
    const status: ProxyStatus = { node, remote, connected: true, connectedAt: now };
    this.#proxies.set(node.id, status);
    return status;
  }

  disconnected(status: ProxyStatus, now: number): void {
    // A newer stream from the same proxy may have replaced this one already.
    if (this.#proxies.get(status.node.id) !== status) return;
    status.connected = false;
    status.disconnectedAt = now;
  }

  list(now: number): ProxyStatus[] {
    for (const [id, s] of this.#proxies) {
      if (!s.connected && s.disconnectedAt !== undefined && now - s.disconnectedAt > this.#keepDisconnectedMs) this.#proxies.delete(id);
    }
    return [...this.#proxies.values()].sort((a, b) => a.node.service.localeCompare(b.node.service) || a.node.id.localeCompare(b.node.id));
  }

  connectedCount(): number {
    let n = 0;
    for (const s of this.#proxies.values()) if (s.connected) n++;
    return n;
  }
}

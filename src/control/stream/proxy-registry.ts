// What the control plane knows of each proxy's stream: connected or not, the version last sent and
// the version it acknowledged (or refused, with why), and the certificate the CA last issued it.
// `weft status` and GET /v1/proxies read it.

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

/** The latest certificate the CA issued a proxy (by the proxy id it sent). */
export interface IssuedRecord {
  readonly identity: string;
  readonly serial: string;
  readonly notAfter: number;
}

export class ProxyRegistry {
  readonly #proxies = new Map<string, ProxyStatus>();
  readonly #certificates = new Map<string, IssuedRecord>();
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

  certificateIssued(proxyId: string, record: IssuedRecord): void {
    this.#certificates.set(proxyId, record);
  }

  /** The proxy's latest certificate (an expired one is forgotten once its proxy has gone). */
  certificate(proxyId: string): IssuedRecord | undefined {
    return this.#certificates.get(proxyId);
  }

  list(now: number): ProxyStatus[] {
    for (const [id, s] of this.#proxies) {
      if (!s.connected && s.disconnectedAt !== undefined && now - s.disconnectedAt > this.#keepDisconnectedMs) this.#proxies.delete(id);
    }
    // Bounded by the certificates still valid: an expired one says nothing a missing one does not.
    for (const [id, c] of this.#certificates) if (c.notAfter <= now && !this.#proxies.has(id)) this.#certificates.delete(id);
    return [...this.#proxies.values()].sort((a, b) => a.node.service.localeCompare(b.node.service) || a.node.id.localeCompare(b.node.id));
  }

  connectedCount(): number {
    let n = 0;
    for (const s of this.#proxies.values()) if (s.connected) n++;
    return n;
  }
}

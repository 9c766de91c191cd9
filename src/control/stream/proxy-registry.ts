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

/** Which workload and keys a proxy id belongs to: set when the CA issues it a certificate. */
export interface ProxyBinding {
  readonly identity: string;
  /** Hex SHA-256 of the SubjectPublicKeyInfo of its latest certificates, newest first. */
  keys: string[];
}

/** Keys remembered per proxy id: the current one and those of certificates it may still be using. */
const KEYS_KEPT = 3;

export class ProxyRegistry {
  readonly #proxies = new Map<string, ProxyStatus>();
  readonly #bindings = new Map<string, ProxyBinding>();
  readonly #certificates = new Map<string, IssuedRecord>();
  /** Disconnected proxies stay listed this long, so a flapping proxy is visible. */
  readonly #keepDisconnectedMs: number;

  /** Each new or changed binding (replicas on etcd share them through the store). */
  readonly #onBind?: (proxyId: string, binding: Readonly<ProxyBinding>) => void;

  constructor(keepDisconnectedMs = 5 * 60_000, onBind?: (proxyId: string, binding: Readonly<ProxyBinding>) => void) {
    this.#keepDisconnectedMs = keepDisconnectedMs;
    this.#onBind = onBind;
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

  /**
   * Why a caller proving `identity` (with the key `keyId`, if it has a certificate yet) may not act
   * as proxy `proxyId`, or undefined when it may: an id belongs to the workload that first got a
   * certificate for it, and while its stream is up, only to the keys certified for it.
   */
  refuseProxyId(proxyId: string, identity: string, keyId: string | undefined): string | undefined {
    const b = this.#bindings.get(proxyId);
    if (!b) return undefined;
    if (b.identity !== identity) return `proxy id ${proxyId} belongs to ${b.identity}`;
    if (keyId !== undefined && b.keys.includes(keyId)) return undefined;
    if (this.#proxies.get(proxyId)?.connected) return `proxy id ${proxyId} is connected with another key`;
    return undefined;
  }

  /** Records that `proxyId` is `identity` holding the key `keyId` (after issuance or a proven stream). */
  bindProxyId(proxyId: string, identity: string, keyId: string): void {
    const b = this.#bindings.get(proxyId);
    if (!b || b.identity !== identity) {
      const fresh = { identity, keys: [keyId] };
      this.#bindings.set(proxyId, fresh);
      this.#onBind?.(proxyId, fresh);
      return;
    }
    if (b.keys[0] !== keyId) {
      b.keys = [keyId, ...b.keys.filter((k) => k !== keyId)].slice(0, KEYS_KEPT);
      this.#onBind?.(proxyId, b);
    }
  }

  /** A binding another replica made (or this one, echoed by the store): taken as it is. */
  adoptBinding(proxyId: string, binding: Readonly<ProxyBinding>): void {
    this.#bindings.set(proxyId, { identity: binding.identity, keys: binding.keys.slice(0, KEYS_KEPT) });
  }

  /** The store forgot a binding (its lease ended with the last certificate's life). */
  forgetBinding(proxyId: string): void {
    if (!this.#proxies.get(proxyId)?.connected) this.#bindings.delete(proxyId);
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
    for (const [id, c] of this.#certificates) {
      if (c.notAfter <= now && !this.#proxies.has(id)) {
        this.#certificates.delete(id);
        this.#bindings.delete(id);
      }
    }
    return [...this.#proxies.values()].sort((a, b) => a.node.service.localeCompare(b.node.service) || a.node.id.localeCompare(b.node.id));
  }

  connectedCount(): number {
    let n = 0;
    for (const s of this.#proxies.values()) if (s.connected) n++;
    return n;
  }
}

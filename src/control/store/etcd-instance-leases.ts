// Catalog instances on etcd leases. The Catalog (memory) stays the judge of health: TTL expiry
// makes an instance critical, and it is removed after deregisterAfterSeconds. The lease is etcd's
// copy of that removal deadline, so an instance disappears from etcd even when no control plane is
// alive to sweep it, and any control plane that receives a heartbeat can extend it (no leader).

import type { Etcd3 } from 'etcd3';
import type { InstanceState } from '../../config/catalog-types.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';

/**
 * The lease TTL (seconds) for an instance, or undefined for an instance without a heartbeat TTL
 * (`ttlSeconds` 0: checks only), which is stored without a lease and lives until deleted.
 *
 * `2 × ttl + deregisterAfter`: the Catalog removes a silent instance `ttl + deregisterAfter` after
 * its last heartbeat; the lease is extended at most once per `ttl` (see refresh), so its last
 * extension may be up to one `ttl` older than the last heartbeat. The lease therefore never ends
 * before the Catalog would have removed the instance, and ends at most one `ttl` after.
 */
export function leaseTtlSeconds(instance: Pick<InstanceState, 'ttlSeconds' | 'deregisterAfterSeconds'>): number | undefined {
  if (!(instance.ttlSeconds > 0)) return undefined;
  return Math.ceil(2 * instance.ttlSeconds + Math.max(0, instance.deregisterAfterSeconds));
}

interface LeaseEntry {
  readonly id: string;
  /** Epoch ms of the last grant or successful keepalive; 0 when adopted from etcd (unknown). */
  refreshedAt: number;
  refreshing: boolean;
}

export interface InstanceLeasesOptions {
  readonly client: Etcd3;
  readonly clock: Clock;
  readonly log: Logger;
  /** Writes the instance again (on a new lease) when its lease turns out to be gone. */
  readonly put: (instance: InstanceState) => Promise<void>;
}

/** A keepalive that gets no answer within this long counts as failed (the stream has no deadline). */
const KEEPALIVE_TIMEOUT_MS = 10_000;

/** The lease each instance key is on, with the writes and keepalives that go with it. */
export class InstanceLeases {
  readonly #client: Etcd3;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #put: (instance: InstanceState) => Promise<void>;
  readonly #entries = new Map<string, LeaseEntry>();
  /** Writes of one key run one after another, so the lease recorded is the lease the key is on. */
  readonly #chains = new Map<string, Promise<unknown>>();

  constructor(options: InstanceLeasesOptions) {
    this.#client = options.client;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#put = options.put;
  }

  /**
   * Writes `json` at `key` on a newly granted lease (or none, see leaseTtlSeconds) and revokes the
   * key's previous lease, which holds nothing else. Returns the revision of the write.
   */
  put(key: string, instance: InstanceState, json: string): Promise<number> {
    const run = async (): Promise<number> => {
      const ttl = leaseTtlSeconds(instance);
      const previous = this.#entries.get(key);
      const leaseId = ttl === undefined ? undefined : (await this.#client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 })).ID;
      const builder = this.#client.put(key).value(json);
      if (leaseId !== undefined) builder.lease(leaseId);
      const res = await builder.exec();
      if (leaseId === undefined) this.#entries.delete(key);
      else this.#entries.set(key, { id: leaseId, refreshedAt: this.#clock.now(), refreshing: false });
      if (previous !== undefined && previous.id !== leaseId) {
        // Best effort: an old lease left behind only holds nothing until it expires.
        this.#client.leaseClient.leaseRevoke({ ID: previous.id }).catch(() => {});
      }
      return Number(res.header.revision);
    };
    const next = (this.#chains.get(key) ?? Promise.resolve()).then(run, run);
    const settled = next.catch(() => {});
    this.#chains.set(key, settled);
    void settled.then(() => {
      if (this.#chains.get(key) === settled) this.#chains.delete(key);
    });
    return next;
  }

  /**
   * A heartbeat arrived for the instance: extends its lease, at most once per `ttlSeconds`. When
   * etcd says the lease is gone (expired while etcd or this process was away, or unknown here),
   * writes the instance again on a new lease, so a live instance is never left out of etcd.
   */
  async refresh(key: string, instance: InstanceState): Promise<void> {
    if (leaseTtlSeconds(instance) === undefined) return;
    const entry = this.#entries.get(key);
    const now = this.#clock.now();
    if (entry !== undefined && (entry.refreshing || now - entry.refreshedAt < instance.ttlSeconds * 1000)) return;
    if (entry === undefined) {
      await this.#put(instance);
      return;
    }
    entry.refreshing = true;
    let alive: boolean;
    try {
      alive = await this.#keepAliveOnce(entry.id);
    } finally {
      entry.refreshing = false;
    }
    if (alive) {
      entry.refreshedAt = now;
      return;
    }
    this.#log.info('instance lease gone; writing the instance again', { key, lease: entry.id });
    if (this.#entries.get(key) === entry) this.#entries.delete(key);
    await this.#put(instance);
  }

  /** Records the lease a key was found on (a list, or another control plane's write). */
  adopt(key: string, leaseId: string): void {
    if (leaseId === '0' || leaseId === '') {
      this.#entries.delete(key);
      return;
    }
    if (this.#entries.get(key)?.id === leaseId) return;
    this.#entries.set(key, { id: leaseId, refreshedAt: 0, refreshing: false });
  }

  /** The lease the key was last written on (or found on), if any. */
  leaseOf(key: string): string | undefined {
    return this.#entries.get(key)?.id;
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** One LeaseKeepAlive round trip; true when etcd reports the lease alive (TTL > 0). */
  async #keepAliveOnce(id: string): Promise<boolean> {
    const stream = await this.#client.leaseClient.leaseKeepAlive();
    let timer: NodeJS.Timeout | undefined;
    try {
      const res = await new Promise<{ TTL: string }>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no keepalive answer for lease ${id} within ${KEEPALIVE_TIMEOUT_MS} ms`)), KEEPALIVE_TIMEOUT_MS);
        stream.on('data', resolve);
        stream.on('error', reject);
        stream.write({ ID: id });
      });
      return Number(res.TTL) > 0;
    } finally {
      clearTimeout(timer);
      stream.end();
    }
  }
}

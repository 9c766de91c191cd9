// Replicas on etcd: each publishes the proxies connected to it (their /v1/proxies rows, at most
// once a second and only when they changed) under a lease of its own, so `weft status` on any
// replica lists every proxy, and a dead replica's list disappears when its lease ends.

import type { Clock, Timer } from '../../lib/clock.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { StoreCluster } from '../store/store.ts';
import type { ProxyRow } from './proxy-rows.ts';

/** The published value's name (see StoreCluster.publish). */
const NAME = 'proxies';

export interface ProxyDirectoryOptions {
  readonly cluster: StoreCluster;
  /** This replica's API URL: its key, and what its rows name as `replica`. */
  readonly replica: string;
  /** This replica's current rows. */
  readonly rows: () => readonly ProxyRow[];
  /** TTL of the lease the list is on (s): how long a dead replica's list outlives it. */
  readonly ttlSeconds: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** How often the list is compared and, when changed, published (ms, default 1000). */
  readonly intervalMs?: number;
}

export interface ProxyDirectory {
  /** The connected proxies of every other replica, as each last published them. */
  others(): Promise<ProxyRow[]>;
  /** Stops publishing and withdraws this replica's list. */
  stop(): Promise<void>;
}

export function startProxyDirectory(options: ProxyDirectoryOptions): ProxyDirectory {
  const { cluster, clock, log } = options;
  const intervalMs = options.intervalMs ?? 1_000;
  let last: string | undefined;
  let timer: Timer | undefined;
  let stopped = false;
  let failing = false;

  const tick = async (): Promise<void> => {
    if (stopped) return;
    const text = JSON.stringify(options.rows().filter((r) => r.connected));
    if (text !== last) {
      try {
        await cluster.publish(options.replica, NAME, text, options.ttlSeconds);
        last = text;
        if (failing) log.info('publishing this replica\'s proxies again');
        failing = false;
      } catch (err) {
        // Tried again next tick; `weft status` elsewhere shows the last list meanwhile.
        if (!failing) log.warn('cannot publish this replica\'s proxies', { error: errorMessage(err) });
        failing = true;
      }
    }
    if (!stopped) timer = clock.setTimeout(() => void tick(), intervalMs);
  };
  void tick();

  return {
    async others() {
      let lists: { replica: string; value: string }[];
      try {
        lists = await cluster.published(NAME);
      } catch (err) {
        log.warn('cannot read the other replicas\' proxies', { error: errorMessage(err) });
        return [];
      }
      const out: ProxyRow[] = [];
      for (const { replica, value } of lists) {
        if (replica === options.replica) continue;
        try {
          const rows = JSON.parse(value) as ProxyRow[];
          if (Array.isArray(rows)) out.push(...rows);
        } catch {
          log.warn('ignoring a replica\'s proxy list that is not JSON', { replica });
        }
      }
      return out;
    },
    async stop() {
      stopped = true;
      timer?.cancel();
      await cluster.withdraw();
    },
  };
}

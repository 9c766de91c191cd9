// Opens the Store a `weft control` was pointed at (`--store`): the embedded SQLite file in the data
// dir by default, or an etcd cluster. The one place that knows every backend.

import type { Store } from './store.ts';
import type { Logger } from '../../lib/log.ts';
import { openSqliteStore } from './sqlite-store.ts';
import type { StoreLocation } from './store-url.ts';

export interface OpenStoreOptions {
  readonly location: StoreLocation;
  /** The SQLite backend's directory. */
  readonly dataDir: string;
  /** etcd: how long to keep retrying an unreachable cluster at start (ms, default 60 000). */
  readonly connectTimeoutMs?: number;
  readonly log: Logger;
}

/** Throws WEFT_ERR_STORE_OPEN (SQLite) or WEFT_ERR_STORE_UNREACHABLE (etcd, after its retries). */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { location } = options;
  if (location.backend === 'etcd') {
    // Loaded only when asked for: the etcd client (gRPC, protobufs) costs start-up time that a
    // SQLite control plane should not pay.
    const { openEtcdStore } = await import('./etcd-store.ts');
    return openEtcdStore({
      endpoints: location.endpoints,
      prefix: location.prefix,
      connectTimeoutMs: options.connectTimeoutMs,
      logger: options.log.child('store'),
    });
  }
  return openSqliteStore(options.dataDir, { logger: options.log.child('store') });
}

// Opens the Store a `weft control` was pointed at (`--store`): the embedded SQLite file in the data
// dir by default, or an etcd cluster. The one place that knows every backend.

import type { Store } from './store.ts';
import type { Logger } from '../../lib/log.ts';
import { openSqliteStore } from './sqlite-store.ts';
import { openEtcdStore } from './etcd-store.ts';
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
export function openStore(options: OpenStoreOptions): Promise<Store> {
  const { location } = options;
  if (location.backend === 'etcd') {
    return openEtcdStore({
      endpoints: location.endpoints,
      prefix: location.prefix,
      connectTimeoutMs: options.connectTimeoutMs,
      logger: options.log.child('store'),
    });
  }
  return openSqliteStore(options.dataDir, { logger: options.log.child('store') });
}
